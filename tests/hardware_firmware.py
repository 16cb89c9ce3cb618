"""Build a Mongoose OS-style ESP32 firmware zip for tests (layout as ``mos build`` makes it)."""

from __future__ import annotations

import hashlib
import json
import struct
import zipfile
from pathlib import Path
from typing import Any

APP_SLOT_SIZE = 0x190000  # the course's build variable
FS_SIZE = 0x40000
APP_0 = 0x10000
FS_0 = APP_0 + APP_SLOT_SIZE


def partition_table(entries: list[tuple[str, int, int, int, int]]) -> bytes:
    """An ESP32 partition table binary: (label, type, subtype, offset, size) entries."""
    out = b""
    for label, ptype, subtype, offset, size in entries:
        out += struct.pack("<2sBBII16sI", b"\xaa\x50", ptype, subtype, offset, size, label.encode(), 0)
    return out + b"\xff" * 32


MGOS_PARTITIONS = [
    ("nvs", 1, 2, 0x9000, 0x4000),
    ("otadata", 1, 0, 0xD000, 0x2000),
    ("app_0", 0, 0x10, APP_0, APP_SLOT_SIZE),
    ("fs_0", 1, 0x82, FS_0, FS_SIZE),
    ("app_1", 0, 0x11, FS_0 + FS_SIZE, APP_SLOT_SIZE),
    ("fs_1", 1, 0x82, FS_0 + FS_SIZE + APP_SLOT_SIZE, FS_SIZE),
]


def default_blobs() -> dict[str, bytes]:
    return {
        "bootloader.bin": b"\xe9\x03\x02\x20" + bytes(range(256)) * 80,
        "partitions_mgos.bin": partition_table(MGOS_PARTITIONS),
        "otadata.bin": b"\x01\x00\x00\x00" + b"\xff" * 0x1FFC,
        "demo-js.bin": b"\xe9\x06\x02\x20" + b"APP!" * 150_000,
        "fs.img": b"SPIFFS" + b"\x00" * (FS_SIZE - 6),
        "demo-js.elf": b"\x7fELF" + b"\x00" * 1000,
    }


def _part(src: str, data: bytes, **extra: Any) -> dict[str, Any]:
    return {
        "src": src,
        "size": len(data),
        "cs_sha1": hashlib.sha1(data).hexdigest(),
        "cs_sha256": hashlib.sha256(data).hexdigest(),
        **extra,
    }


def default_manifest(blobs: dict[str, bytes]) -> dict[str, Any]:
    return {
        "name": "demo-js",
        "platform": "esp32",
        "version": "1.0",
        "build_id": "20240101-120000",
        "parts": {
            "boot": _part("bootloader.bin", blobs["bootloader.bin"], type="boot", addr=0x1000, encrypt=True, update=False),
            "pt": _part("partitions_mgos.bin", blobs["partitions_mgos.bin"], type="pt", addr=0x8000, encrypt=True),
            "nvs": {"type": "nvs", "addr": 0x9000, "size": 0x4000, "fill": 255, "encrypt": False},
            "otadata": _part("otadata.bin", blobs["otadata.bin"], type="otadata", addr=0xD000, encrypt=True),
            "app": _part("demo-js.bin", blobs["demo-js.bin"], type="app", addr=APP_0, ptn="app_0", encrypt=True),
            "fs": _part("fs.img", blobs["fs.img"], type="fs", ptn="fs_0", fs_size=FS_SIZE),
            "elf": _part("demo-js.elf", blobs["demo-js.elf"], type="elf", flash=False),
        },
    }


def write_firmware_zip(
    path: Path,
    blobs: dict[str, bytes] | None = None,
    manifest: dict[str, Any] | None = None,
    *,
    folder: str = "demo-js-esp32-1.0/",
) -> Path:
    blobs = default_blobs() if blobs is None else blobs
    manifest = default_manifest(blobs) if manifest is None else manifest
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(folder + "manifest.json", json.dumps(manifest, indent=2))
        for name, data in blobs.items():
            archive.writestr(folder + name, data)
    return path
