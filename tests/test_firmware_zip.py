"""Reading a Mongoose OS firmware zip into the exact write plan, and refusing broken ones."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from hardware_firmware import APP_0, FS_0, default_blobs, default_manifest, write_firmware_zip

from kurs.errors import CourseError
from kurs.hardware.firmware_zip import parse_partition_table, read_firmware_zip


def test_plan_has_every_part_at_its_offset_with_its_exact_bytes(tmp_path: Path) -> None:
    blobs = default_blobs()
    plan = read_firmware_zip(write_firmware_zip(tmp_path / "fw.zip", blobs))

    assert (plan.name, plan.platform, plan.version) == ("demo-js", "esp32", "1.0")
    layout = [(p.name, p.offset, p.size) for p in plan.parts]
    assert layout == [
        ("boot", 0x1000, len(blobs["bootloader.bin"])),
        ("pt", 0x8000, len(blobs["partitions_mgos.bin"])),
        ("nvs", 0x9000, 0x4000),
        ("otadata", 0xD000, len(blobs["otadata.bin"])),
        ("app", APP_0, len(blobs["demo-js.bin"])),  # app_0 from the partition table
        ("fs", FS_0, len(blobs["fs.img"])),  # fs_0: placed only by the partition table
    ]
    data = {p.name: p.data for p in plan.parts}
    assert data["boot"] == blobs["bootloader.bin"]
    assert data["app"] == blobs["demo-js.bin"]
    assert data["fs"] == blobs["fs.img"]
    assert data["nvs"] == b"\xff" * 0x4000  # a fill part
    assert "elf" not in data  # "flash": false is never written
    assert plan.addr_data() == [(p.offset, p.data) for p in plan.parts]
    assert plan.total_size == sum(len(d) for d in data.values())
    assert "0x010000" in plan.describe() and "app" in plan.describe()


def test_keep_fs_leaves_the_file_system_alone(tmp_path: Path) -> None:
    plan = read_firmware_zip(write_firmware_zip(tmp_path / "fw.zip"), keep_fs=True)
    assert "fs" not in [p.name for p in plan.parts]


def test_partition_table_is_parsed() -> None:
    table = parse_partition_table(default_blobs()["partitions_mgos.bin"])
    assert table["app_0"].offset == APP_0 and table["fs_0"].offset == FS_0
    assert list(table) == ["nvs", "otadata", "app_0", "fs_0", "app_1", "fs_1"]


def test_corrupt_part_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    blobs = default_blobs()
    manifest = default_manifest(blobs)  # checksums of the good data
    broken = bytearray(blobs["demo-js.bin"])
    broken[5000] ^= 0x01  # one flipped bit
    blobs["demo-js.bin"] = bytes(broken)
    with pytest.raises(CourseError) as caught:
        read_firmware_zip(write_firmware_zip(tmp_path / "fw.zip", blobs, manifest))
    text = str(caught.value)
    assert "«app»" in text and "ødelagt" in text and "kontrollsummen" in text
    assert "Ingenting er skrevet til kortet" in text


def test_corrupt_sha1_alone_is_caught(tmp_path: Path) -> None:
    blobs = default_blobs()
    manifest = default_manifest(blobs)
    manifest["parts"]["boot"]["cs_sha1"] = "0" * 40
    with pytest.raises(CourseError, match="«boot».*cs_sha1"):
        read_firmware_zip(write_firmware_zip(tmp_path / "fw.zip", blobs, manifest))


def test_damaged_zip_member_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "fw.zip"
    blobs = default_blobs()
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("manifest.json", json.dumps(default_manifest(blobs)))
        for name, data in blobs.items():
            archive.writestr(name, data)
    raw = bytearray(path.read_bytes())
    at = raw.find(b"APP!APP!") + 100  # inside the stored app image
    raw[at] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(CourseError, match="ødelagt"):
        read_firmware_zip(path)


def test_missing_part_file_is_refused(tmp_path: Path) -> None:
    blobs = default_blobs()
    manifest = default_manifest(blobs)
    del blobs["fs.img"]
    with pytest.raises(CourseError) as caught:
        read_firmware_zip(write_firmware_zip(tmp_path / "fw.zip", blobs, manifest))
    assert "mangler delen «fs» (fs.img)" in str(caught.value)


def test_wrong_size_in_manifest_is_refused(tmp_path: Path) -> None:
    blobs = default_blobs()
    manifest = default_manifest(blobs)
    manifest["parts"]["otadata"]["size"] += 1
    with pytest.raises(CourseError, match="feil størrelse"):
        read_firmware_zip(write_firmware_zip(tmp_path / "fw.zip", blobs, manifest))


def test_app_too_big_for_its_slot_says_app_slot_size(tmp_path: Path) -> None:
    blobs = default_blobs()
    blobs["demo-js.bin"] = b"\xe9" + b"\x00" * 0x190000  # one byte more than the slot
    with pytest.raises(CourseError) as caught:
        read_firmware_zip(write_firmware_zip(tmp_path / "fw.zip", blobs))
    assert "APP_SLOT_SIZE" in str(caught.value)


def test_overlapping_parts_are_refused(tmp_path: Path) -> None:
    blobs = default_blobs()
    manifest = default_manifest(blobs)
    manifest["parts"]["nvs"]["addr"] = 0xB000  # nvs 0xB000-0xF000 runs into otadata at 0xD000
    with pytest.raises(CourseError, match="overlapper"):
        read_firmware_zip(write_firmware_zip(tmp_path / "fw.zip", blobs, manifest))


def test_bootloader_must_be_an_esp_image(tmp_path: Path) -> None:
    blobs = default_blobs()
    blobs["bootloader.bin"] = b"PK" + blobs["bootloader.bin"][2:]
    with pytest.raises(CourseError, match="ikke et gyldig ESP-bilde"):
        read_firmware_zip(write_firmware_zip(tmp_path / "fw.zip", blobs))


@pytest.mark.parametrize(
    ("content", "expected"),
    [(b"this is not a zip", "ikke en gyldig zip"), (None, "Finner ikke fastvarefila")],
)
def test_not_a_firmware_file(tmp_path: Path, content: bytes | None, expected: str) -> None:
    path = tmp_path / "fw.zip"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CourseError, match=expected):
        read_firmware_zip(path)


def test_zip_without_manifest_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "fw.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("app.bin", b"\xe9")
    with pytest.raises(CourseError, match="manifest.json mangler"):
        read_firmware_zip(path)
