"""Where prediction logs live and how they are written: atomically, or not at all.

Layout under ``THREEKCAL_LOG_DIR``::

    date=YYYY-MM-DD/<run_id>.jsonl     a complete log (appears by an atomic rename)
    .incoming/<kind>/<run_id>.jsonl    a log being written (kind: predict | backfill)
    quarantine/<run_id>.jsonl          lines of a log that failed validation, with the reason

Batch rows store the log's path relative to the log directory, so the directory can be mounted at
another place on the machines that apply it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import IO, Any, Self

LOG_SUFFIX = ".jsonl"
INCOMING_DIR = ".incoming"
QUARANTINE_DIR = "quarantine"


def log_relpath(run_id: str, day: date) -> str:
    return f"date={day.isoformat()}/{run_id}{LOG_SUFFIX}"


def resolve(log_dir: Path, relpath: str) -> Path:
    return log_dir / relpath


def incoming_path(log_dir: Path, kind: str, run_id: str) -> Path:
    return log_dir / INCOMING_DIR / kind / f"{run_id}{LOG_SUFFIX}"


def quarantine_path(log_dir: Path, run_id: str) -> Path:
    return log_dir / QUARANTINE_DIR / f"{run_id}{LOG_SUFFIX}"


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(temporary: Path, final: Path) -> None:
    """Move a complete, fsynced file into place: readers see all of it or nothing."""
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(temporary, final)
    fsync_dir(final.parent)


class JsonLinesWriter:
    """Writes JSON lines to a temporary file; ``finish()`` flushes and fsyncs it.

    Leaving the ``with`` block without ``finish()`` (an exception, an interrupt) deletes the file.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines = 0
        self._file: IO[str] | None = None
        self._finished = False

    def __enter__(self) -> Self:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "w", encoding="utf-8", newline="\n")
        return self

    def write(self, record: dict[str, Any]) -> None:
        assert self._file is not None
        self._file.write(json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n")
        self.lines += 1

    def finish(self) -> None:
        assert self._file is not None
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._finished = True

    def __exit__(self, *exc_info: object) -> None:
        if self._file is not None and not self._file.closed:
            self._file.close()
        if not self._finished:
            self.path.unlink(missing_ok=True)


def write_json_lines_atomically(path: Path, records: Iterable[dict[str, Any]]) -> int:
    """Replace ``path`` with ``records`` (temporary file, fsync, rename); returns the line count."""
    temporary = path.with_name(f".{path.name}.tmp")
    with JsonLinesWriter(temporary) as writer:
        for record in records:
            writer.write(record)
        writer.finish()
    publish(temporary, path)
    return writer.lines
