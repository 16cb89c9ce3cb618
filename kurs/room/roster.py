"""The room's own record, in the instructor's state folder: its address, class code, learners and
which learner made which certificate. Written by the cloud process (joins) and ``kurs rom``;
read by the overview. Private (0600): it holds the learners' secret keys, so that a room that is
restarted takes its learners back without anyone joining again.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kurs.paths import private_dir, write_private

USER_PREFIX = "rom-"  # IAM user of learner «ida»: rom-ida


def room_file() -> Path:
    return private_dir("sky", "rom") / "rom.json"


@dataclass
class Learner:
    name: str  # as typed, for the overview
    slug: str  # a-z0-9: the prefix of everything the learner makes («ida» -> ida-esp32_…)
    access_key_id: str
    secret_access_key: str
    joined: float = field(default_factory=time.time)

    @property
    def user_name(self) -> str:
        return USER_PREFIX + self.slug

    def __repr__(self) -> str:  # never the secret in a traceback
        return f"Learner(name={self.name!r}, slug={self.slug!r})"


@dataclass
class Room:
    address: str
    code: str
    started: float = field(default_factory=time.time)
    learners: dict[str, Learner] = field(default_factory=dict)  # slug -> learner
    certificates: dict[str, str] = field(default_factory=dict)  # certificate id -> slug

    def learner_by_key(self, access_key_id: str) -> Learner | None:
        return next((x for x in self.learners.values() if x.access_key_id == access_key_id), None)


_lock = threading.Lock()


def load() -> Room | None:
    try:
        data = json.loads(room_file().read_text(encoding="utf-8"))
        learners = {slug: Learner(**value) for slug, value in data.pop("learners", {}).items()}
        return Room(**data, learners=learners)
    except (OSError, ValueError, TypeError):
        return None


def save(room: Room) -> None:
    with _lock:
        tmp = room_file().with_name(f".rom.{os.getpid()}.{threading.get_ident()}.tmp")
        write_private(tmp, json.dumps(asdict(room), indent=2, ensure_ascii=False))
        os.replace(tmp, room_file())


def remove() -> None:
    room_file().unlink(missing_ok=True)
