"""The sim's durable state: a snapshot plus an append-only journal, like a counter's own files.

Each change is one JSON line written and flushed before the counter answers, so a killed process
loses nothing the counter had reported. Compaction writes a new snapshot generation atomically and
starts a new journal; a torn last line (a crash mid-write) is ignored on load.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

SNAPSHOT = "snapshot.json"


class Journal:
    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self.generation = 0
        self._handle: Any = None
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)

    @property
    def durable(self) -> bool:
        return self.directory is not None

    def load(self) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """Return the last snapshot (or None) and the journal entries written after it."""
        if self.directory is None:
            return None, []
        snapshot = None
        path = self.directory / SNAPSHOT
        if path.exists():
            snapshot = json.loads(path.read_text(encoding="utf-8"))
            self.generation = int(snapshot.get("generation", 0))
        entries = list(self._read_entries(self._journal_path(self.generation)))
        return snapshot, entries

    def append(self, entry: dict[str, Any]) -> None:
        if self.directory is None:
            return
        if self._handle is None:
            self._handle = open(self._journal_path(self.generation), "a", encoding="utf-8")  # noqa: SIM115
        self._handle.write(json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n")
        self._handle.flush()

    def compact(self, snapshot: dict[str, Any]) -> None:
        """Make `snapshot` the new base and start an empty journal."""
        if self.directory is None:
            return
        old = self._journal_path(self.generation)
        self.generation += 1
        data = dict(snapshot, generation=self.generation)
        temporary = self.directory / (SNAPSHOT + ".tmp")
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(data, handle, ensure_ascii=False, separators=(",", ":"))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.directory / SNAPSHOT)
        self.close()
        old.unlink(missing_ok=True)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def _journal_path(self, generation: int) -> Path:
        assert self.directory is not None
        return self.directory / f"journal-{generation}.jsonl"

    @staticmethod
    def _read_entries(path: Path):
        if not path.exists():
            return
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    return  # a torn last line: the write never completed
