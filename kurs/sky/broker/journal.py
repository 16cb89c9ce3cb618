"""The broker's durable state: a checkpoint file and an append-only journal of changes since.

What the broker has acknowledged must survive a kill -9 (AWS IoT keeps a persistent session's
queued QoS 1 messages and retained messages; README: what the cloud accepted is there after the
next start). A periodic snapshot would lose the last second, so every change to persistent
state (a session, a subscription, a message queued for or acknowledged by a persistent session,
a retained message) is appended here *before* the broker answers the client, and written to
the operating system at once (a killed process loses nothing the kernel has; a power cut may
lose the last moments, which is what fsync would cost on every message). Every few seconds
the whole state is checkpointed and the journal starts again.

Records carry a running number; the checkpoint says the last number it includes, so a crash
between writing the checkpoint and emptying the journal replays nothing twice.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SNAPSHOT_NAME = "megler-tilstand.json"
JOURNAL_NAME = "megler-journal.jsonl"


class BrokerJournal:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.snapshot_path = self.folder / SNAPSHOT_NAME
        self.journal_path = self.folder / JOURNAL_NAME
        self._n = 0
        self._records_since_checkpoint = 0
        self._file: Any = None

    # --- start ---------------------------------------------------------------------------
    def load(self) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """The last checkpoint and the journal records after it. Never raises."""
        snapshot: dict[str, Any] | None = None
        try:
            snapshot = json.loads(self.snapshot_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as exc:
            log.warning("Meglerens lagrede tilstand kunne ikke leses (%s); lagrede økter og meldinger starter tomme.",
                        exc)
        last = int(snapshot.get("n", 0)) if isinstance(snapshot, dict) else 0
        records: list[dict[str, Any]] = []
        try:
            with self.journal_path.open(encoding="utf-8") as f:
                for line in f:
                    try:
                        rec = json.loads(line)
                    except ValueError:
                        break  # a line cut short by a kill: everything before it is whole
                    if int(rec.get("n", 0)) > last:
                        records.append(rec)
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("Meglerens journal kunne ikke leses (%s).", exc)
        self._n = max([last] + [int(r["n"]) for r in records])
        return snapshot, records

    # --- while running -------------------------------------------------------------------------
    def append(self, record: dict[str, Any]) -> None:
        if self._file is None:
            self._file = self.journal_path.open("a", encoding="utf-8")
        self._n += 1
        record["n"] = self._n
        self._file.write(json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n")
        self._file.flush()  # to the kernel now: survives a kill -9
        self._records_since_checkpoint += 1

    @property
    def records_since_checkpoint(self) -> int:
        return self._records_since_checkpoint

    def checkpoint(self, state: dict[str, Any]) -> None:
        """Write the whole state, then start the journal again."""
        state = {**state, "n": self._n}
        tmp = self.snapshot_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, separators=(",", ":"), ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, self.snapshot_path)
        if self._file is not None:
            self._file.close()
        self._file = self.journal_path.open("w", encoding="utf-8")
        self._records_since_checkpoint = 0

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
