"""db/import_sources.py: the checked chunks a writer gets, and the light start of a checker process."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

from threekcal.db import import_sources
from threekcal.validation import InvalidInput, clean_comment_record

HEADER = ["comments", "request_user", "request_time", "remark"]


def write(path: Path, rows: list[list[str]]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def test_each_chunk_comes_in_receipt_order_and_a_repeated_comment_keeps_its_first_place(
    tmp_path: Path,
) -> None:
    rows = [[f"comment {i}", f"user{i % 4}", f"2025-03-0{1 + i % 3}T0{i % 10}:00:00Z", ""] for i in range(9)]
    rows.insert(5, ["comment 2", "user2", "2025-03-03T02:00:00Z", "the same comment again, another remark"])
    rows.insert(6, ["", "user1", "2025-03-01T00:00:00Z", ""])  # a bad row: no text
    chunks = list(
        import_sources.checked_chunks(import_sources.file_source(write(tmp_path / "a.csv", rows)), 6)
    )

    assert [chunk.read for chunk in chunks] == [6, 5]
    assert [len(chunk.rows) for chunk in chunks] == [6, 4]
    assert [str(bad) for chunk in chunks for bad in chunk.bad] == [
        "line 8: comments must not be empty or whitespace only"
    ]
    for chunk in chunks:
        receipts = [values[0] for values in chunk.rows]
        assert receipts == sorted(receipts)
    first = chunks[0].rows
    twice = [values for values in first if values[1] == "comment 2"]
    assert [values[-1] for values in twice] == [None, "the same comment again, another remark"]  # file order
    every = [values[0] for chunk in chunks for values in chunk.rows]
    expected = sorted(import_sources.receipt_for(record) for record in _records(rows))
    assert sorted(every) == expected


def _records(rows: list[list[str]]) -> list[import_sources.CommentRecord]:
    records = []
    for text, user, time, remark in rows:
        try:
            records.append(
                clean_comment_record(
                    {"comments": text, "request_user": user, "request_time": time, "remark": remark or None}
                )
            )
        except InvalidInput:
            continue
    return records


def test_a_checker_process_starts_without_sqlalchemy() -> None:
    """The checker of a large file runs in a child process that imports this module while the writer waits
    for its first chunk: SQLAlchemy would add about 0.3 s to every import's start."""
    script = (
        "import sys, threekcal.db.import_sources; "
        "print(sorted(m for m in sys.modules if m.startswith('sqlalchemy')))"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
