"""A virtual board behind the course's serial fake that passes for a real one (for tests/test_room.py,
where it runs inside a learner's laptop process).

Its frames are those of the firmware's rpc-uart (kurs.esp32.rpc_server on a real pseudo-terminal); it
does not say "virtual" in Sys.GetInfo and reports an IP address on Wi-Fi, as a real board does, so the
course treats it as real (no shortcuts for virtual boards)."""

from __future__ import annotations

from typing import Any

from kurs.esp32 import VirtualBoard
from kurs.esp32.rpc_backend import BoardBackend
from kurs.esp32.rpc_server import PtyRpcServer


class RealLookingBoard(BoardBackend):
    def get_info(self) -> dict[str, Any]:
        info = super().get_info()
        info.pop("virtual", None)
        info["wifi"] = {"sta_ip": "192.168.1.57", "ap_ip": "", "status": "got ip", "ssid": "Kurs-nett"}
        return info


class OnUsb:
    """The board and its serial port; ``close()`` stops both (tests/laptop.py closes ``boards``)."""

    def __init__(self, app: str = "start", seed: str = "ekte-kort") -> None:
        self.board = VirtualBoard(app, seed=seed).start()
        self.server = PtyRpcServer(RealLookingBoard(self.board))
        self.port = self.server.start()

    def close(self) -> None:
        self.server.stop()
        self.board.close()
