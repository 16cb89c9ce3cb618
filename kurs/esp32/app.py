"""A Mongoose OS app on disk: its ``mos.yml`` and the files under ``fs/`` that go on the board."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kurs.errors import CourseError
from kurs.paths import FIRMWARE_DIR


@dataclass
class App:
    path: Path
    name: str
    version: str
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def fs_dir(self) -> Path:
        return self.path / "fs"

    def fs_files(self) -> dict[str, bytes]:
        """The files ``mos build`` would put in the device's file system (flat, like SPIFFS)."""
        files: dict[str, bytes] = {}
        for entry in sorted(self.fs_dir.iterdir()):
            if entry.is_file() and not entry.name.startswith("."):
                files[entry.name] = entry.read_bytes()
        return files

    def config_schema_entries(self) -> list[list[Any]]:
        """``config_schema`` entries, including those under ``conds`` that apply to ESP32."""
        entries = list(self.manifest.get("config_schema") or [])
        for cond in self.manifest.get("conds") or []:
            if _applies_to_esp32(str(cond.get("when", ""))):
                entries.extend((cond.get("apply") or {}).get("config_schema") or [])
        return entries


def _applies_to_esp32(when: str) -> bool:
    compact = when.replace(" ", "").replace("'", '"')
    return compact in ('mos.platform=="esp32"',)


def resolve_app(app: str | Path) -> App:
    """``"knapp"`` → ``firmware/knapp``; a path to a folder with ``mos.yml`` and ``fs/init.js`` works too."""
    candidates = []
    given = Path(app).expanduser()
    if given.is_dir():
        candidates.append(given)
    if isinstance(app, str) and "/" not in app and "\\" not in app:
        candidates.append(FIRMWARE_DIR / app)
    for candidate in candidates:
        if (candidate / "fs" / "init.js").is_file():
            return load_app(candidate.resolve())
    known = sorted(p.name for p in FIRMWARE_DIR.iterdir() if (p / "fs" / "init.js").is_file()) \
        if FIRMWARE_DIR.is_dir() else []
    raise CourseError(
        f"Fant ingen Mongoose OS-app «{app}».",
        "Oppgi navnet på en app i firmware/-mappa (" + ", ".join(known) + ") eller stien til en mappe "
        "som har mos.yml og fs/init.js." if known else
        "Oppgi stien til en mappe som har mos.yml og fs/init.js.",
    )


def load_app(path: Path) -> App:
    import yaml

    manifest: dict[str, Any] = {}
    mos_yml = path / "mos.yml"
    if mos_yml.is_file():
        try:
            manifest = yaml.safe_load(mos_yml.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (linje {mark.line + 1})" if mark is not None else ""
            raise CourseError(f"mos.yml i {path} er ikke gyldig YAML{where}: {exc}",
                              "Rett opp innrykk og skilletegn i mos.yml; mos build ville stoppet på samme sted.") from exc
        if not isinstance(manifest, dict):
            raise CourseError(f"mos.yml i {path} skal være et YAML-kart (nøkkel: verdi).",
                              "Se firmware/start/mos.yml for et eksempel.")
    return App(path=path, name=str(manifest.get("name") or path.name),
               version=str(manifest.get("version") or "1.0"), manifest=manifest)
