"""The ESP32's pins: modes, pulls, output levels, interrupts, the BOOT button and the LED.

The hardware around the chip comes from configuration, like on a dev board: the button on
``board.btn1.pin`` (GPIO 0, to ground with a pull-up when ``board.btn1.pull_up``), the LED on
``board.led1.pin`` (lit when high if ``board.led1.active_high``). ``press()``/``release()`` change
the button pin's level; edges fire interrupt handlers on the board's event loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kurs.esp32.services import FirmwareServices

MODE_INPUT, MODE_OUTPUT = 0, 1
PULL_NONE, PULL_UP, PULL_DOWN = 0, 1, 2
INT_NONE, INT_EDGE_POS, INT_EDGE_NEG, INT_EDGE_ANY, INT_LEVEL_HI, INT_LEVEL_LO = range(6)

# GPIOs an ESP32 (WROOM) has; 34–39 are input only.
VALID_PINS = frozenset([*range(0, 20), 21, 22, 23, 25, 26, 27, *range(32, 40)])
INPUT_ONLY = frozenset(range(34, 40))


@dataclass
class Pin:
    mode: int = MODE_INPUT
    pull: int = PULL_NONE
    out: int = 0
    int_mode: int = INT_NONE
    int_enabled: bool = False
    callback: int = -1
    debounce_ms: int = 0
    last_fire: float = -1e9
    level: int = 0  # what the pin reads now
    button: bool = False      # set_button_handler: debounce by timer, then check the level
    debouncing: bool = False  # a debounce timer is running (further edges are ignored)
    # (when, level) of the last changes, in the outside world's time: a debounce looks up the level
    # at its deadline, so a busy event loop never turns an 80 ms press into none.
    history: list[tuple[float, int]] = field(default_factory=list)

    def level_at(self, when: float) -> int:
        for changed, level in reversed(self.history):
            if changed <= when:
                return level
        return self.history[0][1] ^ 1 if self.history else self.level


class Gpio:
    """Pin state for one power-on of the board; its ``symbols`` are the ``mgos_gpio_*`` functions."""

    def __init__(self, fw: FirmwareServices, button_pin: int, button_active_low: bool,
                 on_change: Callable[[int, int], None] | None = None) -> None:
        self.fw = fw
        self.pins: dict[int, Pin] = {}
        self.button_pin = button_pin
        self.button_active_low = button_active_low
        self.button_pressed = False
        self._on_change = on_change
        self._blink: dict[int, Any] = {}
        for pin in VALID_PINS:
            state = Pin()
            state.level = self._input_level(pin, state)
            self.pins[pin] = state

    # -- what the outside world sees ---------------------------------------------------------
    def level(self, pin: int) -> int:
        state = self.pins.get(pin)
        return state.level if state is not None else 0

    def set_button(self, pressed: bool, at: float | None = None) -> None:
        """The BOOT button moves (runs on the event loop; ``at``: when it moved, time.monotonic())."""
        self.button_pressed = pressed
        if self.button_pin in self.pins:
            self._update(self.button_pin, at)

    # -- internals ---------------------------------------------------------------------------
    def _input_level(self, pin: int, state: Pin) -> int:
        if pin == self.button_pin:
            if self.button_pressed:
                return 0 if self.button_active_low else 1
            if self.button_active_low:
                return 1  # the board's own pull-up resistor
        if state.pull == PULL_UP:
            return 1
        return 0

    def _update(self, pin: int, at: float | None = None) -> None:
        state = self.pins[pin]
        old = state.level
        new = state.out if state.mode == MODE_OUTPUT else self._input_level(pin, state)
        if new == old:
            return
        at = time.monotonic() if at is None else at
        state.level = new
        state.history = [*state.history[-7:], (at, new)]
        if self._on_change is not None:
            self._on_change(pin, new)
        if state.mode == MODE_INPUT:
            self._maybe_interrupt(pin, state, old, new, at)

    def _maybe_interrupt(self, pin: int, state: Pin, old: int, new: int, at: float) -> None:
        if state.callback < 0 or not state.int_enabled:
            return
        mode = state.int_mode
        rising = old == 0 and new == 1
        fire = ((mode == INT_EDGE_POS and rising) or (mode == INT_EDGE_NEG and not rising)
                or mode == INT_EDGE_ANY or (mode == INT_LEVEL_HI and new == 1)
                or (mode == INT_LEVEL_LO and new == 0))
        if not fire:
            return
        if state.button:
            self._debounce(pin, state, at)
            return
        if state.debounce_ms > 0:
            now = time.monotonic()
            if (now - state.last_fire) * 1000.0 < state.debounce_ms:
                return
            state.last_fire = now
        callback = state.callback
        # Handlers run on the firmware's task, after the interrupt, like mgos' non-ISR handlers.
        self.fw.post(lambda: self.fw.invoke(callback, [pin]))

    def _debounce(self, pin: int, state: Pin, edge_at: float) -> None:
        """mgos_gpio.c's button handler: the first edge starts a ``debounce_ms`` timer (edges
        meanwhile are ignored); when it ends the handler runs only if the pin still reads the
        level the edge went to (low for INT_EDGE_NEG, high for INT_EDGE_POS)."""
        if state.debouncing:
            return
        state.debouncing = True
        callback, mode = state.callback, state.int_mode
        deadline = edge_at + state.debounce_ms / 1000.0

        def settled() -> None:
            state.debouncing = False
            if state.callback != callback or not state.int_enabled:
                return
            level = state.level_at(deadline)
            if (mode == INT_EDGE_ANY or (mode == INT_EDGE_NEG and level == 0)
                    or (mode == INT_EDGE_POS and level == 1)):
                self.fw.invoke(callback, [pin])

        self.fw.call_later(max(0.0, deadline - time.monotonic()), settled)

    def _valid(self, pin: Any) -> bool:
        return isinstance(pin, int) and pin in VALID_PINS

    # -- mgos_gpio_* -------------------------------------------------------------------------
    def set_mode(self, pin: int, mode: int) -> int:
        if not self._valid(pin) or mode not in (MODE_INPUT, MODE_OUTPUT):
            return 0
        if mode == MODE_OUTPUT and pin in INPUT_ONLY:
            return 0
        self.pins[pin].mode = mode
        self._update(pin)
        return 1

    def set_pull(self, pin: int, pull: int) -> int:
        if not self._valid(pin) or pull not in (PULL_NONE, PULL_UP, PULL_DOWN):
            return 0
        self.pins[pin].pull = pull
        self._update(pin)
        return 1

    def setup_input(self, pin: int, pull: int) -> int:
        return int(bool(self.set_mode(pin, MODE_INPUT) and self.set_pull(pin, pull)))

    def setup_output(self, pin: int, level: int) -> int:
        if not self._valid(pin) or pin in INPUT_ONLY:
            return 0
        self.pins[pin].out = 1 if level else 0
        return self.set_mode(pin, MODE_OUTPUT)

    def write(self, pin: int, level: int) -> None:
        if not self._valid(pin):
            return
        self.pins[pin].out = 1 if level else 0
        self._update(pin)

    def read(self, pin: int) -> int:
        return self.level(pin) if self._valid(pin) else 0

    def read_out(self, pin: int) -> int:
        return self.pins[pin].out if self._valid(pin) else 0

    def toggle(self, pin: int) -> int:
        if not self._valid(pin):
            return 0
        new = 0 if self.pins[pin].out else 1
        self.write(pin, new)
        return new

    def set_int_handler(self, pin: int, mode: int, callback: int, _ud: Any = None) -> int:
        if not self._valid(pin) or mode not in range(6):
            return 0
        state = self.pins[pin]
        if state.callback >= 0 and state.callback != callback:
            self.fw.free(state.callback)
        state.int_mode = mode
        state.callback = callback
        state.debounce_ms = 0
        state.button = False
        return 1

    def enable_int(self, pin: int) -> int:
        if not self._valid(pin) or self.pins[pin].callback < 0:
            return 0
        self.pins[pin].int_enabled = True
        return 1

    def disable_int(self, pin: int) -> int:
        if not self._valid(pin):
            return 0
        self.pins[pin].int_enabled = False
        return 1

    def set_button_handler(self, pin: int, pull: int, int_mode: int, debounce_ms: int, callback: int,
                           _ud: Any = None) -> int:
        if int_mode not in (INT_EDGE_POS, INT_EDGE_NEG, INT_EDGE_ANY):
            self.fw.free(callback)
            return 0
        if not (self.set_mode(pin, MODE_INPUT) and self.set_pull(pin, pull)
                and self.set_int_handler(pin, int_mode, callback)):
            self.fw.free(callback)
            return 0
        self.pins[pin].debounce_ms = max(0, int(debounce_ms))
        self.pins[pin].button = True
        return self.enable_int(pin)

    def blink(self, pin: int, on_ms: int, off_ms: int) -> int:
        if not self._valid(pin):
            return 0
        handle = self._blink.pop(pin, None)
        if handle is not None:
            handle.cancel()
        if on_ms <= 0 and off_ms <= 0:
            return 1

        def step(level: int) -> None:
            self.write(pin, level)
            delay = (on_ms if level else off_ms) / 1000.0
            self._blink[pin] = self.fw.call_later(delay, lambda: step(0 if level else 1))

        step(1)
        return 1

    def symbols(self) -> dict[str, Callable[..., Any]]:
        return {
            "mgos_gpio_set_mode": self.set_mode,
            "mgos_gpio_set_pull": self.set_pull,
            "mgos_gpio_setup_input": self.setup_input,
            "mgos_gpio_setup_output": self.setup_output,
            "mgos_gpio_write": self.write,
            "mgos_gpio_read": self.read,
            "mgos_gpio_read_out": self.read_out,
            "mgos_gpio_toggle": self.toggle,
            "mgos_gpio_set_int_handler": self.set_int_handler,
            "mgos_gpio_enable_int": self.enable_int,
            "mgos_gpio_disable_int": self.disable_int,
            "mgos_gpio_set_button_handler": self.set_button_handler,
            "mgos_gpio_blink": self.blink,
        }

    def stop(self) -> None:
        for handle in self._blink.values():
            handle.cancel()
        self._blink.clear()
