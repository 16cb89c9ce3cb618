"""A virtual board as the serial RPC server's ``DeviceBackend`` (:mod:`kurs.esp32.rpc_server`).

    from kurs.esp32.rpc_server import PtyRpcServer
    server = PtyRpcServer(BoardBackend(VirtualBoard("start").start()))

So ``mos``-style tools (Sys.GetInfo, Config.Get/Set/Save, FS.List/Get/Put, Sys.Reboot) work
against the same virtual board the notebooks use.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kurs.esp32.board import VirtualBoard
from kurs.esp32.mos_config import ConfigError, flatten


class BoardBackend:
    def __init__(self, board: VirtualBoard) -> None:
        self.board = board
        self._detach: Callable[[], None] | None = None

    def get_info(self) -> dict[str, Any]:
        info = self.board.get_info()
        info["wifi"] = {"sta_ip": "", "ap_ip": "192.168.4.1", "status": "virtual"}
        return info

    def config_get(self, key: str | None) -> Any:
        if key and self.board.schema.types.get(key) is None:
            raise KeyError(key)
        return self.board.config_get(key)

    def config_set(self, config: dict[str, Any]) -> None:
        known = {k: v for k, v in flatten(config).items() if self.board.schema.types.get(k) not in (None, "o")}
        try:
            self.board.config_set(known, save=False)
        except ConfigError as exc:
            raise ValueError(exc.message) from exc

    def config_save(self) -> None:
        self.board.config_save()

    def fs_list(self) -> list[str]:
        return [entry["name"] for entry in self.board.fs_list()]

    def fs_get(self, name: str, offset: int, length: int) -> tuple[bytes, int]:
        path = self.board.fs_dir / name
        if "/" in name or not path.is_file():
            raise FileNotFoundError(name)
        data = path.read_bytes()
        chunk = data[offset:] if length < 0 else data[offset:offset + length]
        return chunk, max(0, len(data) - offset - len(chunk))

    def fs_put(self, name: str, data: bytes, append: bool) -> None:
        if "/" in name or not name:
            raise OSError(f"invalid file name: {name!r}")
        path = self.board.fs_dir / name
        with open(path, "ab" if append else "wb") as f:
            f.write(data)

    def reboot(self) -> None:
        self.board.reboot()

    def attach_console(self, write: Callable[[str], None]) -> None:
        if self._detach is not None:
            self._detach()
        self._detach = self.board.console.subscribe(lambda line: write(str(line)))
