"""The virtual ESP32 without a cloud: real QuickJS running mJS firmware against the Mongoose OS API."""

from __future__ import annotations

import json
import re
import textwrap
import time
from pathlib import Path

import pytest

from kurs.errors import CourseError
from kurs.esp32.board import BoardTimeout, VirtualBoard

# No MQTT: an empty server keeps the board off any local cloud that may be running.
OFFLINE = {"mqtt.server": "", "mqtt.enable": False}

MOS_YML = """\
name: {name}
version: "1.0"
platform: esp32
libs:
  - origin: https://github.com/mongoose-os-libs/boards
  - origin: https://github.com/mongoose-os-libs/mjs
  - origin: https://github.com/mongoose-os-libs/mqtt
{extra_libs}
config_schema:
  - ["app", "o", {{title: "Test app"}}]
  - ["app.greeting", "s", "hallo", {{title: "Greeting"}}]
"""


def make_app(root: Path, init_js: str, *, name: str = "testapp", extra_libs: str = "",
             files: dict[str, str] | None = None) -> Path:
    app = root / name
    (app / "fs").mkdir(parents=True)
    (app / "mos.yml").write_text(MOS_YML.format(name=name, extra_libs=extra_libs))
    (app / "fs" / "init.js").write_text(textwrap.dedent(init_js))
    for fname, content in (files or {}).items():
        (app / "fs" / fname).write_text(textwrap.dedent(content))
    return app


def run(boards: list[VirtualBoard], app: str | Path, **kwargs) -> VirtualBoard:
    overrides = {**OFFLINE, **kwargs.pop("config_overrides", {})}
    board = VirtualBoard(app, config_overrides=overrides, **kwargs)
    boards.append(board)
    return board.start()


# -- the course's own firmware, offline ------------------------------------------------------

def test_start_app_boots_like_a_board_and_reports_offline(boards):
    board = run(boards, "start")
    assert re.fullmatch(r"esp32_[0-9A-F]{6}", board.device_id)
    assert board.device_id == board.thing_name
    board.wait_for("online: false")
    assert board.console.find("rst:0x1 (POWERON_RESET)") is not None
    assert re.search(r"^\[\w{3} [ \d]\d \d\d:\d\d:\d\d\.\d{3}\] mgos_init\.c:36 {10}start 1\.0",
                     str(board.console.lines[1]))
    assert not board.connected
    # The ESP32 board default from the boards library: LED on GPIO 13, off at start.
    assert board.config_get("board.led1.pin") == 13
    assert board.led() is False


def test_start_app_button_counts_toggles_and_says_it_is_offline(boards):
    board = run(boards, "start")
    board.wait_for("LED: slukket")
    board.click()
    line = board.wait_for("Ikke tilkoblet, sendte ikke:")
    state = json.loads(line.text.split("sendte ikke:", 1)[1])
    assert state["btnCount"] == 1 and state["on"] is True
    assert board.led() is True and board.pin_level(13) == 1
    mark = board.console.mark()
    board.click()
    line = board.wait_for("Ikke tilkoblet, sendte ikke:", since=mark)
    state = json.loads(line.text.split("sendte ikke:", 1)[1])
    assert state["btnCount"] == 2 and state["on"] is False
    assert board.led() is False


def test_led_polarity_follows_active_high(boards):
    board = run(boards, "start", config_overrides={"board.led1.active_high": False})
    board.wait_for("LED: slukket")
    assert board.pin_level(13) == 1 and board.led() is False  # active low: high means dark
    board.click()
    board.wait_for(lambda: board.led())
    assert board.pin_level(13) == 0


def test_knapp_and_lys_run_offline(boards):
    knapp = run(boards, "knapp")
    lys = run(boards, "lys")
    knapp.wait_for("Knappekortet er klart")
    lys.wait_for("Lyskortet er klart, LED-en er GPIO 2")
    knapp.click()
    knapp.wait_for('Ikke tilkoblet, sender ved ny forbindelse: {"btnCount":1,"on":true}')
    assert lys.config_get("board.led1.pin") == 2 and lys.led() is False
    assert knapp.device_id != lys.device_id


# -- GPIO, timers, config --------------------------------------------------------------------

def test_button_handler_debounces_and_pins_behave(tmp_path, boards):
    app = make_app(tmp_path, """
        load('api_gpio.js');
        let presses = 0;
        GPIO.set_button_handler(0, GPIO.PULL_UP, GPIO.INT_EDGE_NEG, 100, function(pin) {
          presses = presses + 1;
          print('press', presses, 'pin', pin);
        }, null);
        GPIO.set_mode(5, GPIO.MODE_OUTPUT);
        print('toggle', GPIO.toggle(5), GPIO.toggle(5), GPIO.toggle(5));
        print('read0', GPIO.read(0));
        print('input-only', GPIO.set_mode(36, GPIO.MODE_OUTPUT));
        print('bad-mode', GPIO.set_button_handler(0, GPIO.PULL_UP, GPIO.INT_LEVEL_LO, 20, function() {}, null));
    """)
    board = run(boards, app)
    board.wait_for("toggle 1 0 1")
    board.wait_for("read0 1")  # the BOOT button's pull-up: idle high
    board.wait_for("input-only 0")
    board.wait_for("bad-mode 0")
    assert board.pin_level(5) == 1
    mark = board.console.mark()
    board.click(hold_s=0.3)  # held past the 100 ms debounce: one press
    board.wait_for("press 1 pin 0", since=mark)
    time.sleep(0.3)
    assert board.console.count("press ") == 1


def test_timers_repeat_run_once_and_delete(tmp_path, boards):
    app = make_app(tmp_path, """
        load('api_timer.js');
        let ticks = 0;
        let id = Timer.set(50, Timer.REPEAT, function() {
          ticks = ticks + 1;
          print('tick', ticks);
          if (ticks === 3) {
            Timer.del(id);
            print('deleted');
          }
        }, null);
        Timer.set(10, 0, function(ud) { print('once', ud.msg); }, {msg: 'hei'});
        print('now is a number', Timer.now() > 1500000000);
        print('math', Math.round(2.5), Math.round(-2.5), Math.floor(-0.5), Math.max(3, 7));
        print('fmt', Timer.fmt('%Y', 100000000));
    """)
    board = run(boards, app)
    board.wait_for("once hei")
    board.wait_for("now is a number true")
    board.wait_for("math 3 -3 -1 7")  # C's round(): halves away from zero
    board.wait_for("fmt 1973")
    board.wait_for("deleted")
    time.sleep(0.3)
    assert board.console.count("tick ") == 3


def test_config_get_set_save_survives_reboot(tmp_path, boards):
    app = make_app(tmp_path, """
        load('api_config.js');
        load('api_gpio.js');
        print('greeting', Cfg.get('app.greeting'));
        print('types', Cfg.get('board.btn1.pin'), Cfg.get('board.btn1.pull_up'), Cfg.get('device.id'));
        print('object', Cfg.get('board'), 'missing', Cfg.get('no.such.key'));
        GPIO.set_button_handler(0, GPIO.PULL_UP, GPIO.INT_EDGE_NEG, 20, function() {
          print('saved', Cfg.set({app: {greeting: 'hei fra conf9'}}));
          print('bad', Cfg.set({board: {btn1: {pin: 'x'}}}));
        }, null);
    """)
    board = run(boards, app, device_id="test-cfg")
    board.wait_for("greeting hallo")
    board.wait_for("types 0 true test-cfg")
    board.wait_for("object undefined missing undefined")
    board.click()
    board.wait_for("saved true")
    board.wait_for("bad false")
    saved = json.loads((board.fs_dir / "conf9.json").read_text())
    assert saved["app"]["greeting"] == "hei fra conf9"
    board.reboot()
    board.wait_for("greeting hei fra conf9")
    assert board.config_get("app.greeting") == "hei fra conf9"


def test_config_from_python_and_overrides(tmp_path, boards):
    app = make_app(tmp_path, "load('api_config.js'); print('greeting', Cfg.get('app.greeting'));")
    board = run(boards, app, config_overrides={"app": {"greeting": "overstyrt"}})
    board.wait_for("greeting overstyrt")
    assert board.config_set({"app.greeting": "fra python"}, save=True)
    board.reboot()
    board.wait_for("greeting fra python")
    with pytest.raises(CourseError, match="ingen nøkkel"):
        board.config_set({"app.nope": 1})
    with pytest.raises(CourseError, match="heltall"):
        VirtualBoard(app, config_overrides={"board.led1.pin": "to"})


# -- errors are reported like mJS does, and the board keeps running ---------------------------

def test_exception_in_a_callback_is_logged_and_the_board_goes_on(tmp_path, boards):
    app = make_app(tmp_path, """
        load('api_timer.js');
        let n = 0;
        let helper = {};
        Timer.set(30, Timer.REPEAT, function() {
          n = n + 1;
          if (n === 1) {
            helper.noSuchFunction();
          }
          print('tick', n);
        }, null);
    """)
    board = run(boards, app)
    board.wait_for("MJS callback error: calling non-callable")
    assert board.console.find("  at init.js:8") is not None  # the line of the call
    board.wait_for("tick 3")
    assert board.console.find("tick 1") is None  # the first callback stopped where it failed


def test_malformed_json_in_a_callback(tmp_path, boards):
    app = make_app(tmp_path, """
        load('api_timer.js');
        Timer.set(10, 0, function() {
          let obj = JSON.parse('{"on": tru');
          print('never', obj);
        }, null);
        Timer.set(40, 0, function() {
          print('parsed', JSON.parse('{"on": true}').on);
        }, null);
    """)
    board = run(boards, app)
    board.wait_for("MJS callback error: invalid JSON string")
    board.wait_for("parsed true")
    assert board.console.find("never") is None


def test_die_stops_init_but_not_what_it_started(tmp_path, boards):
    app = make_app(tmp_path, """
        load('api_timer.js');
        Timer.set(20, 0, function() { print('timer still runs'); }, null);
        die('stopp her');
        print('after die');
    """)
    board = run(boards, app)
    board.wait_for("MJS error: stopp her")
    board.wait_for("timer still runs")
    assert board.console.find("after die") is None


def test_unknown_api_file_and_ffi_symbol_fail_like_on_a_board(tmp_path, boards):
    app = make_app(tmp_path, """
        load('api_timer.js');
        Timer.set(10, 0, function() {
          let f = ffi('int kurs_no_such_function(int)');
        }, null);
        Timer.set(20, 0, function() {
          print('uptime via ffi', ffi('double mgos_uptime(void)')() >= 0);
          Timer.set(10, 0, function() { print('x'); });
        }, null);
        Timer.set(40, 0, function() {
          load('api_nope.js');
        }, null);
    """)
    board = run(boards, app)
    board.wait_for("MJS callback error: bad ffi signature: \"int kurs_no_such_function(int)\": "
                   "dlsym('kurs_no_such_function') failed")
    board.wait_for("uptime via ffi true")
    # mjs_ffi.c (mjs_ffi_call2, label clean) prefixes every call error.
    board.wait_for("MJS callback error: failed to call FFIed function: got 3 actuals, but function takes 4 args")
    board.wait_for('MJS callback error: failed to exec file "api_nope.js": failed to read file "api_nope.js"')


def test_api_file_needs_its_library_in_mos_yml(tmp_path, boards):
    app = make_app(tmp_path, "load('api_shadow.js');\nprint('not reached');\n")
    board = run(boards, app)
    board.wait_for('MJS error: failed to exec file "api_shadow.js"')
    assert board.console.find("biblioteket «shadow»") is not None
    assert board.console.find("not reached") is None


def test_a_runaway_loop_trips_the_watchdog_and_the_board_reboots(tmp_path, boards):
    app = make_app(tmp_path, """
        load('api_timer.js');
        Timer.set(10, 0, function() {
          let i = 0;
          while (true) {
            i = i + 1;
          }
        }, null);
        Timer.set(100, Timer.REPEAT, function() { print('alive'); }, null);
    """)
    board = run(boards, app, watchdog_s=0.5)
    board.wait_for("Task watchdog got triggered")
    # ESP-IDF's task watchdog aborts and the chip restarts; then init.js runs again.
    mark = board.console.mark()
    board.wait_for("rst:0xc (SW_CPU_RESET)", since=mark)
    assert board.console.find("Rebooting...") is not None


def test_print_and_json_stringify_format_like_mjs(tmp_path, boards):
    app = make_app(tmp_path, """
        print(1.5, 2, true, null, undefined, {a: 1}, [1], 'blå');
        print(JSON.stringify({first: 1, second: 2.5, skip: undefined, list: [1, 'x']}));
        print('at', 'abc'.at(0), chr(0x61));
        load('api_math.js');
        print('math after load', typeof Math);
    """)
    board = run(boards, app)
    board.wait_for("1.500000 2 true null undefined <object> <array> bl\\xc3\\xa5 ")
    board.wait_for('{"list":[1,"x"],"second":2.500000,"first":1}')
    board.wait_for("at 97 a ")
    board.wait_for("math after load object")


def test_other_clouds_are_not_connected(tmp_path, boards):
    app = make_app(tmp_path, """
        load('api_azure.js'); load('api_gcp.js'); load('api_watson.js'); load('api_dash.js');
        load('api_mqtt.js');
        print('clouds', Azure.isConnected(), GCP.isConnected(), Watson.isConnected(), Dash.isConnected());
        print('sent', GCP.sendEvent('x'), MQTT.isConnected(), MQTT.pub('t', 'm', 1));
    """, extra_libs="  - origin: https://github.com/mongoose-os-libs/js-demo-bundle")
    board = run(boards, app)
    board.wait_for("clouds false false false false")
    board.wait_for("sent false false 0")
    assert board.console.find("GCP: ikke tilkoblet") is not None


# -- reboot, identity, checker, console ---------------------------------------------------------

def test_reboot_reruns_init_with_fresh_state(tmp_path, boards):
    app = make_app(tmp_path, """
        load('api_gpio.js');
        load('api_sys.js');
        load('api_events.js');
        let count = 0;
        print('booted, count', count);
        Event.on(Event.REBOOT, function() { print('going down'); }, null);
        GPIO.set_button_handler(0, GPIO.PULL_UP, GPIO.INT_EDGE_NEG, 20, function() {
          count = count + 1;
          print('count', count);
          if (count === 2) {
            Sys.reboot(10);
          }
        }, null);
    """)
    board = run(boards, app)
    board.click()
    board.wait_for("count 1")
    board.click()
    board.wait_for("going down")
    board.wait_for(lambda: board.console.count("booted, count 0") == 2)
    assert board.console.find("rst:0xc (SW_CPU_RESET)") is not None
    mark = board.console.mark()
    board.click()
    board.wait_for("count 1", since=mark)  # the old count is gone with the old JS state


def test_device_id_is_stable_per_seed_and_can_be_chosen(tmp_path):
    a = VirtualBoard("start", seed="x", config_overrides=OFFLINE)
    b = VirtualBoard("start", seed="x", config_overrides=OFFLINE)
    c = VirtualBoard("start", seed="y", config_overrides=OFFLINE)
    named = VirtualBoard("start", device_id="min-dings", config_overrides=OFFLINE)
    try:
        assert a.device_id == b.device_id != c.device_id
        assert a.device_id == "esp32_" + a.mac.replace(":", "")[-6:]
        assert named.device_id == named.thing_name == "min-dings"
        assert named.config_get("mqtt.client_id") == ""  # empty: device.id is used, as in mgos
    finally:
        for board in (a, b, c, named):
            board.close()
    with pytest.raises(CourseError, match="kan ikke brukes som navn"):
        VirtualBoard("start", device_id="har mellomrom")


def test_unknown_app_is_a_norwegian_error():
    with pytest.raises(CourseError, match="Fant ingen Mongoose OS-app «finnes-ikke»"):
        VirtualBoard("finnes-ikke")


def test_code_real_mjs_would_reject_does_not_start(tmp_path):
    app = make_app(tmp_path, "var x = 1;\nprint(x == 1);\n")
    board = VirtualBoard(app, config_overrides=OFFLINE)
    try:
        with pytest.raises(CourseError, match="mJS"):
            board.start()
    finally:
        board.close()


def test_console_can_be_followed_and_waited_on(tmp_path, boards):
    app = make_app(tmp_path, """
        load('api_timer.js');
        let n = 0;
        Timer.set(20, Timer.REPEAT, function() { n = n + 1; print('line', n); }, null);
    """)
    board = VirtualBoard(app, config_overrides=OFFLINE)
    boards.append(board)
    seen = []
    board.console.subscribe(lambda line: seen.append(line.text))
    board.start()
    followed = []
    for line in board.console.follow(since=0):
        followed.append(line.text)
        if line.text.startswith("line 3"):
            break
    assert followed[0].startswith("rst:0x1")
    assert any(text.startswith("line 3") for text in seen)
    with pytest.raises(BoardTimeout, match="Fant ikke «kommer aldri»"):
        board.wait_for("kommer aldri", timeout=0.2)


def test_files_on_the_board(tmp_path, boards):
    app = make_app(tmp_path, "load('helper.js');\nprint('helper says', helperValue);\n",
                   files={"helper.js": "let helperValue = 42;\n"})
    board = run(boards, app)
    board.wait_for("helper says 42")
    assert {"init.js", "helper.js"} <= {f["name"] for f in board.fs_list()}
    board.fs_put("init.js", "print('new firmware');\n")
    board.reboot()
    board.wait_for("new firmware")
    assert board.fs_get("init.js") == b"print('new firmware');\n"
    info = board.get_info()
    assert info["id"] == board.device_id and info["arch"] == "esp32" and info["app"] == "testapp"


def test_the_virtual_board_answers_mongoose_os_rpc_over_a_serial_port(tmp_path, boards):
    """What `mos` and kurs.hardware.rpc do with a real board, against the virtual one on a pty."""
    from kurs.esp32.rpc_backend import BoardBackend
    from kurs.esp32.rpc_server import PtyRpcServer
    from kurs.hardware.rpc import RpcClient

    app = make_app(tmp_path, "load('api_config.js');\nprint('greeting', Cfg.get('app.greeting'));\n")
    board = run(boards, app, device_id="rpc-dings")
    server = PtyRpcServer(BoardBackend(board))
    server.start()
    try:
        with RpcClient(server.path, timeout=5) as rpc:
            info = rpc.get_info()
            assert info["id"] == "rpc-dings" and info["arch"] == "esp32"
            assert rpc.config_get("board.btn1.pin") == 0
            rpc.config_set({"app": {"greeting": "satt over RPC"}}, save=True)
            assert json.loads((board.fs_dir / "conf9.json").read_text())["app"]["greeting"] == "satt over RPC"
            rpc.fs_put("init.js", "print('lastet opp over RPC');\n")
            assert "init.js" in rpc.fs_list()
            rpc.reboot()
            board.wait_for(lambda: board.console.find("lastet opp over RPC") is not None)
            assert board.config_get("app.greeting") == "satt over RPC"
    finally:
        server.stop()


def test_mqtt_pub_offline_returns_a_packet_id_and_queues_qos1_like_mgos(tmp_path, boards):
    # mongoose-os-libs/mqtt src/mgos_mqtt_conn.c, mgos_mqtt_conn_pub: a packet id whenever MQTT is
    # enabled; offline QoS 1 waits in a queue of mqtt.max_queue_length (oldest dropped first).
    app = make_app(tmp_path, """
        load('api_mqtt.js');
        let ids = [];
        for (let i = 0; i < 7; i++) {
          ids.push(MQTT.pub('t', JSON.stringify(i), 1));
        }
        print('qos0', MQTT.pub('t', 'x', 0) > 0, 'connected', MQTT.isConnected());
        print('ids', JSON.stringify(ids));
    """)
    board = run(boards, app, config_overrides={"mqtt.enable": True, "mqtt.server": "127.0.0.1:9"})
    board.wait_for("qos0 true connected false")
    assert board.console.find("ids [1,2,3,4,5,6,7]") is not None
    assert board.console.count("MQTT0 queue overflow!") == 2
    assert [json.loads(q.data) for q in board.fw.mqtt.queue] == [2, 3, 4, 5, 6]


def test_mqtt_pub_with_mqtt_disabled_returns_0(tmp_path, boards):
    app = make_app(tmp_path, "load('api_mqtt.js');\nprint('pub', MQTT.pub('t', 'x', 1));\n")
    board = run(boards, app)  # OFFLINE: mqtt.enable false, no global connection
    board.wait_for("pub 0 ")


def test_button_handler_debounces_by_timer_and_checks_the_level_like_mgos_gpio(tmp_path, boards):
    # mgos_gpio.c (set_button_handler): the first edge starts a debounce_ms timer; the handler
    # runs when it ends, and only if the pin still reads the level of the edge.
    app = make_app(tmp_path, """
        load('api_gpio.js');
        let n = 0;
        GPIO.set_button_handler(0, GPIO.PULL_UP, GPIO.INT_EDGE_NEG, 200, function() {
          n = n + 1;
          print('trykk', n);
        }, null);
    """)
    board = run(boards, app)
    board.click(hold_s=0.02)  # a bounce: released before the timer ends -> no press
    time.sleep(0.35)
    assert board.console.find("trykk") is None
    mark = board.console.mark()
    board.press()
    time.sleep(0.1)
    assert board.console.find("trykk", mark) is None  # not at once: after debounce_ms
    board.release()
    board.press()  # bounces within the window are ignored
    time.sleep(0.3)
    board.release()
    board.wait_for("trykk 1", since=mark)
    time.sleep(0.1)
    assert board.console.count("trykk") == 1


def test_shadow_update_returns_nothing_like_the_shadow_library(tmp_path, boards):
    # mongoose-os-libs/shadow mjs_fs/api_shadow.js: update() calls the C side and returns nothing.
    app = make_app(tmp_path, """
        load('api_shadow.js');
        print('update gives', Shadow.update(0, {on: true}));
    """, extra_libs="  - origin: https://github.com/mongoose-os-libs/js-demo-bundle")
    board = run(boards, app)
    board.wait_for("update gives undefined")


def test_load_runs_a_file_again_and_let_may_repeat_like_mjs(tmp_path, boards):
    # mJS's load() has no "already loaded" list (mjs_builtin.c mjs_load); its scopes are objects,
    # so a second top-level "let" of a name just assigns it (oracle: let_redeclare.js prints 2).
    app = make_app(tmp_path, """
        load('teller.js');
        load('teller.js');
        let n = 1;
        let n = n + 1;
        print('n', n);
    """, files={"teller.js": "print('teller.js ran');\n"})
    board = run(boards, app)
    board.wait_for("n 2 ")
    assert board.console.count("teller.js ran") == 2


def test_a_press_held_past_the_debounce_counts_even_when_the_firmware_task_is_busy(tmp_path, boards):
    # On the ESP32 the pin is sampled when the debounce timer ends (mgos_gpio.c), in real time; a busy
    # task only delays the handler. Here the event loop is blocked for longer than the whole press,
    # so both edges are handled late: the press must still count, once.
    app = make_app(tmp_path, """
        load('api_gpio.js');
        let n = 0;
        GPIO.set_button_handler(0, GPIO.PULL_UP, GPIO.INT_EDGE_NEG, 20, function() {
          n = n + 1;
          print('trykk', n);
        }, null);
    """)
    board = run(boards, app)
    mark = board.console.mark()
    board.fw.post(lambda: time.sleep(0.3))  # the firmware's task is busy for 300 ms
    board.click(hold_s=0.08)                 # an 80 ms press, like the board panel's button
    board.wait_for("trykk 1", since=mark)
    time.sleep(0.2)
    assert board.console.count("trykk") == 1
