"""bench/scale.py: a run imports into an empty SQLite database unless --reuse keeps an earlier run's."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench_scripts import load_bench


@pytest.fixture(scope="module")
def scale():  # type: ignore[no-untyped-def]
    return load_bench("scale")


def earlier_run(work: Path) -> None:
    (work / "scale.db").write_bytes(b"\0" * 2_000_000)  # more than an empty schema
    (work / "scale.db-wal").write_bytes(b"\0" * 10)


def test_a_run_without_reuse_removes_an_earlier_runs_database(scale, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """An import into an earlier run's table stores nothing new: its rows/s would time only the look-ups."""
    earlier_run(tmp_path)
    url, reusing = scale.sqlite_database(tmp_path, reuse=False)
    assert (url, reusing) == (f"sqlite:///{tmp_path / 'scale.db'}", False)
    assert sorted(path.name for path in tmp_path.iterdir()) == []


def test_reuse_keeps_an_earlier_runs_database_but_not_an_empty_schema(scale, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    earlier_run(tmp_path)
    assert scale.sqlite_database(tmp_path, reuse=True)[1] is True
    assert (tmp_path / "scale.db").stat().st_size == 2_000_000
    (tmp_path / "scale.db").write_bytes(b"\0" * 1000)  # a schema only: nothing to measure on
    assert scale.sqlite_database(tmp_path, reuse=True)[1] is False
    assert not (tmp_path / "scale.db").exists()
