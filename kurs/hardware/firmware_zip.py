"""Read a Mongoose OS firmware zip (what ``mos build`` makes) into a checked write plan.

The zip holds ``manifest.json`` and the part files. The manifest's ``parts`` maps a name to
``{"src", "addr", "size", "cs_sha1", "cs_sha256", "type", "fill", "flash", "ptn", …}``.
A part with ``ptn`` lives in the named partition of the ESP32 partition table (the part
named ``pt``): an ``app`` part at the partition's start, others at partition start + ``addr``
(that is how ``mos flash`` places them). A part with ``fill`` and no ``src`` is ``size`` bytes
of that value; ``"flash": false`` parts are not written.

Every part is read and checked (checksums, size, place in flash) before a plan is returned,
so a broken zip is refused before anything touches the board.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kurs.errors import CourseError

MANIFEST_NAME = "manifest.json"
SECTOR_SIZE = 0x1000
MAX_FLASH_SIZE = 16 * 1024 * 1024  # the largest flash on common ESP32 modules
ESP_IMAGE_MAGIC = 0xE9
PARTITION_TABLE_PART = "pt"
_PARTITION_MAGIC = b"\xaa\x50"
_PARTITION_ENTRY = struct.Struct("<2sBBII16sI")

_REBUILD = "Bygg fastvaren på nytt (mos build) eller last den ned igjen. Ingenting er skrevet til kortet."


@dataclass(frozen=True)
class FlashPart:
    """One region to write: ``data`` at flash ``offset``."""

    name: str
    offset: int
    data: bytes
    type: str = ""

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def end(self) -> int:
        return self.offset + len(self.data)


@dataclass(frozen=True)
class WritePlan:
    """The parts of a firmware in flash order, every one already verified."""

    source: str
    name: str
    platform: str
    version: str
    build_id: str
    parts: tuple[FlashPart, ...]

    @property
    def total_size(self) -> int:
        return sum(p.size for p in self.parts)

    def addr_data(self) -> list[tuple[int, bytes]]:
        """``[(offset, data), …]`` as esptool's ``write_flash`` takes it."""
        return [(p.offset, p.data) for p in self.parts]

    def describe(self) -> str:
        """A short Norwegian table of what will be written where."""
        lines = [f"Fastvare {self.name or '?'} {self.version} for {self.platform or '?'}:"]
        for p in self.parts:
            lines.append(f"  0x{p.offset:06x}  {p.size:>8} byte  {p.name}")
        lines.append(f"  Totalt {self.total_size} byte i {len(self.parts)} deler.")
        return "\n".join(lines)


@dataclass(frozen=True)
class Partition:
    label: str
    type: int
    subtype: int
    offset: int
    size: int


def parse_partition_table(data: bytes) -> dict[str, Partition]:
    """Entries of an ESP32 partition table binary, by label (stops at the first non-entry)."""
    table: dict[str, Partition] = {}
    for start in range(0, len(data) - _PARTITION_ENTRY.size + 1, _PARTITION_ENTRY.size):
        magic, ptype, subtype, offset, size, label, _flags = _PARTITION_ENTRY.unpack_from(data, start)
        if magic != _PARTITION_MAGIC:
            break
        name = label.split(b"\x00", 1)[0].decode("ascii", "replace")
        table[name] = Partition(name, ptype, subtype, offset, size)
    return table


def read_firmware_zip(path: str | Path, *, keep_fs: bool = False) -> WritePlan:
    """Open, check and plan a Mongoose OS firmware zip.

    ``keep_fs`` leaves out the file system part (``type: fs``), like ``mos flash --keep-fs``,
    so files already on the board (certificates, conf9.json) survive. Raises CourseError in
    Norwegian for a missing, unreadable, incomplete or corrupt zip.
    """
    path = Path(path)
    if not path.is_file():
        raise CourseError(
            f"Finner ikke fastvarefila {path}.",
            "Sjekk filnavnet. «mos build» legger fila i build/fw.zip i app-mappa.",
        )
    try:
        with zipfile.ZipFile(path) as archive:
            blobs = _read_blobs(archive, path)
    except zipfile.BadZipFile as exc:
        raise CourseError(f"{path.name} er ikke en gyldig zip-fil ({exc}).", _REBUILD) from exc

    manifest = _parse_manifest(blobs, path)
    raw_parts = manifest.get("parts")
    if not isinstance(raw_parts, dict) or not raw_parts:
        raise CourseError(f"manifest.json i {path.name} lister ingen deler å skrive.", _REBUILD)

    datas: dict[str, bytes] = {}
    for name, spec in raw_parts.items():
        if not isinstance(spec, dict):
            raise CourseError(f"Delen «{name}» i manifest.json er ikke beskrevet riktig.", _REBUILD)
        datas[name] = _part_data(name, spec, blobs, path)

    partitions: dict[str, Partition] | None = None
    parts: list[FlashPart] = []
    for name, spec in raw_parts.items():
        if spec.get("flash") is False:
            continue
        ptype = str(spec.get("type", ""))
        if keep_fs and ptype == "fs":
            continue
        if spec.get("ptn"):
            if partitions is None:
                partitions = _partition_table(raw_parts, datas, path)
            offset = _offset_in_partition(name, spec, partitions, len(datas[name]))
        else:
            offset = _int_field(name, spec, "addr")
        parts.append(FlashPart(name=name, offset=offset, data=datas[name], type=ptype))

    parts.sort(key=lambda p: p.offset)
    _check_layout(parts, path)
    return WritePlan(
        source=str(path),
        name=str(manifest.get("name", "")),
        platform=str(manifest.get("platform", "")),
        version=str(manifest.get("version", "")),
        build_id=str(manifest.get("build_id", "")),
        parts=tuple(parts),
    )


def _read_blobs(archive: zipfile.ZipFile, path: Path) -> dict[str, bytes]:
    # mos puts the files in one folder inside the zip; like mos we look them up by base name.
    blobs: dict[str, bytes] = {}
    for info in archive.infolist():
        if info.is_dir():
            continue
        if info.file_size > MAX_FLASH_SIZE:
            raise CourseError(
                f"{info.filename} i {path.name} er større enn hele flashminnet ({info.file_size} byte).",
                _REBUILD,
            )
        try:
            data = archive.read(info)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:  # bad CRC-32, truncated member
            raise CourseError(
                f"{info.filename} i {path.name} er ødelagt og kan ikke leses ({exc}).", _REBUILD
            ) from exc
        blobs[posixpath.basename(info.filename)] = data
    return blobs


def _parse_manifest(blobs: dict[str, bytes], path: Path) -> dict[str, Any]:
    raw = blobs.get(MANIFEST_NAME)
    if raw is None:
        raise CourseError(
            f"{path.name} ser ikke ut som en Mongoose OS-fastvare: manifest.json mangler.",
            "Bruk zip-fila som «mos build» lager (build/fw.zip).",
        )
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CourseError(f"manifest.json i {path.name} er ikke gyldig JSON ({exc}).", _REBUILD) from exc
    if not isinstance(manifest, dict):
        raise CourseError(f"manifest.json i {path.name} har feil form.", _REBUILD)
    return manifest


def _int_field(name: str, spec: dict[str, Any], field: str) -> int:
    value = spec.get(field)
    if isinstance(value, bool) or value is None:
        raise CourseError(f"Delen «{name}» i manifest.json mangler «{field}».", _REBUILD)
    try:
        number = int(value, 0) if isinstance(value, str) else int(value)
    except (TypeError, ValueError) as exc:
        raise CourseError(f"Delen «{name}» har en ugyldig «{field}»: {value!r}.", _REBUILD) from exc
    if number < 0:
        raise CourseError(f"Delen «{name}» har en negativ «{field}»: {number}.", _REBUILD)
    return number


def _part_data(name: str, spec: dict[str, Any], blobs: dict[str, bytes], path: Path) -> bytes:
    src = spec.get("src")
    if src:
        data = blobs.get(posixpath.basename(str(src)))
        if data is None:
            raise CourseError(
                f"Fastvarefila {path.name} mangler delen «{name}» ({src}).",
                "Zip-fila er ufullstendig. " + _REBUILD,
            )
        for field, algorithm in (("cs_sha1", hashlib.sha1), ("cs_sha256", hashlib.sha256)):
            expected = spec.get(field)
            if expected and algorithm(data).hexdigest() != str(expected).lower():
                raise CourseError(
                    f"Delen «{name}» ({src}) i {path.name} er ødelagt: kontrollsummen ({field}) stemmer ikke.",
                    "Ikke flash denne fila. " + _REBUILD,
                )
        if "size" in spec and _int_field(name, spec, "size") != len(data):
            raise CourseError(
                f"Delen «{name}» ({src}) i {path.name} har feil størrelse: {len(data)} byte, "
                f"manifest.json sier {spec['size']}.",
                "Ikke flash denne fila. " + _REBUILD,
            )
        return data
    if "fill" in spec:
        fill = _int_field(name, spec, "fill")
        size = _int_field(name, spec, "size")
        if fill > 0xFF or size > MAX_FLASH_SIZE:
            raise CourseError(f"Delen «{name}» har ugyldig fill/size i manifest.json.", _REBUILD)
        return bytes([fill]) * size
    raise CourseError(f"Delen «{name}» i manifest.json har verken «src» eller «fill».", _REBUILD)


def _partition_table(
    raw_parts: dict[str, Any], datas: dict[str, bytes], path: Path
) -> dict[str, Partition]:
    pt_name = PARTITION_TABLE_PART if PARTITION_TABLE_PART in datas else next(
        (n for n, s in raw_parts.items() if isinstance(s, dict) and s.get("type") == "pt"), None
    )
    table = parse_partition_table(datas[pt_name]) if pt_name else {}
    if not table:
        raise CourseError(
            f"{path.name} viser til partisjoner (ptn), men har ingen lesbar partisjonstabell.", _REBUILD
        )
    return table


def _offset_in_partition(name: str, spec: dict[str, Any], table: dict[str, Partition], size: int) -> int:
    label = str(spec["ptn"])
    partition = table.get(label)
    if partition is None:
        raise CourseError(
            f"Delen «{name}» skal i partisjonen «{label}», men partisjonstabellen har ingen slik.",
            _REBUILD,
        )
    if spec.get("type") == "app":
        offset = partition.offset
    else:
        offset = partition.offset + (_int_field(name, spec, "addr") if "addr" in spec else 0)
    if offset + size > partition.offset + partition.size:
        hint = (
            " Appen er for stor for app-plassen: øk APP_SLOT_SIZE under build_vars i mos.yml "
            "(kurset bruker 0x190000) og bygg på nytt."
            if spec.get("type") == "app"
            else ""
        )
        raise CourseError(
            f"Delen «{name}» ({size} byte) får ikke plass i partisjonen «{label}» "
            f"({partition.size} byte).{hint}",
            _REBUILD,
        )
    return offset


def _check_layout(parts: list[FlashPart], path: Path) -> None:
    previous: FlashPart | None = None
    for part in parts:
        if part.offset % SECTOR_SIZE:
            raise CourseError(
                f"Delen «{part.name}» starter på 0x{part.offset:x}, som ikke er på en sektorgrense "
                f"(0x{SECTOR_SIZE:x}).",
                _REBUILD,
            )
        if part.end > MAX_FLASH_SIZE:
            raise CourseError(f"Delen «{part.name}» går forbi slutten av flashminnet.", _REBUILD)
        if part.type == "boot" and part.data[:1] != bytes([ESP_IMAGE_MAGIC]):
            raise CourseError(
                f"Oppstartslasteren «{part.name}» i {path.name} er ikke et gyldig ESP-bilde.", _REBUILD
            )
        if previous is not None and previous.end > part.offset:
            raise CourseError(
                f"Delene «{previous.name}» og «{part.name}» overlapper i flashminnet.", _REBUILD
            )
        previous = part
