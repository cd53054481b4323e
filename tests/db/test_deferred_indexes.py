"""A large `threekcal import` on SQLite stores its rows with the secondary indexes of ``comments`` set
aside and builds them again at its end; killed halfway, nothing stored is lost or stored twice, and
`threekcal db upgrade` (or the next import) puts the indexes back. MariaDB keeps its indexes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from sqlalchemy.engine import Connection, make_url
from tests.db.test_importing import count, good_rows, run_import, write_csv
from typer.testing import CliRunner

from threekcal.cli import app
from threekcal.db import deferred_indexes, importing, migrate
from threekcal.db.session import engine_for
from threekcal.settings import get_settings

runner = CliRunner()
DEFERRABLE = sorted(str(index.name) for index in deferred_indexes.deferrable())


@pytest.fixture
def cli_db(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("THREEKCAL_DATABASE_URL", db_url)
    monkeypatch.setenv("THREEKCAL_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("THREEKCAL_IMPORT_CHUNK_ROWS", "5")
    get_settings.cache_clear()
    yield db_url
    get_settings.cache_clear()
    with engine_for(db_url).begin() as connection:  # whatever a failed test left
        deferred_indexes.restore(connection)


def missing(url: str) -> list[str]:
    with engine_for(url).connect() as connection:
        return sorted(str(index.name) for index in deferred_indexes.missing(connection))


def watch_chunks(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The indexes missing when each chunk is about to be inserted (in its transaction)."""
    seen: list[list[str]] = []

    def before_insert(connection: Connection, _receipts: Sequence[str]) -> None:
        seen.append(sorted(str(index.name) for index in deferred_indexes.missing(connection)))

    real_import = importing.import_comments
    monkeypatch.setattr(
        importing,
        "import_comments",
        lambda *args, **kwargs: real_import(*args, **kwargs, before_insert=before_insert),
    )
    return seen


def verify() -> None:
    verified = runner.invoke(app, ["stats", "verify"])
    assert verified.exit_code == 0, verified.output


def test_the_deferrable_indexes_are_every_secondary_index_but_the_unique_receipt() -> None:
    assert DEFERRABLE == [
        "ix_comments_audit",
        "ix_comments_label",
        "ix_comments_label_source",
        "ix_comments_labeled_by_id",
        "ix_comments_prediction_result",
        "ix_comments_prediction_time",
        "ix_comments_request_time",
        "ix_comments_request_user_num",
        "ix_comments_score_num",
    ]


def test_an_import_as_large_as_the_table_sets_the_indexes_aside_after_its_first_chunk(
    cli_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THREEKCAL_IMPORT_DEFER_INDEXES_MIN_ROWS", "15")
    get_settings.cache_clear()
    seen = watch_chunks(monkeypatch)
    result = run_import(str(write_csv(tmp_path / "first-load.csv", good_rows(25))))
    assert result.exit_code == 0, result.output
    assert "25 rows read: 25 comments stored, 0 already present, 0 bad rows skipped" in result.stdout
    if make_url(cli_db).get_backend_name() == "sqlite":
        assert seen == [[], DEFERRABLE, DEFERRABLE, DEFERRABLE, DEFERRABLE]
        # the estimate from the first chunk's bytes (the header line makes it low)
        set_aside = r"about 2\d rows to import into a table of 0: 9 indexes set aside until the end"
        assert re.search(set_aside, result.stderr), result.stderr
        assert "building index 1 of 9 again: ix_comments_audit" in result.stderr
        assert "building index 9 of 9 again: ix_comments_score_num" in result.stderr
    else:
        assert seen == [[]] * 5  # MariaDB keeps them
    assert missing(cli_db) == []
    assert count(cli_db) == 25
    verify()
    again = run_import(str(tmp_path / "first-load.csv"))
    assert "25 rows read: 0 comments stored, 25 already present, 0 bad rows skipped" in again.stdout


@pytest.mark.parametrize(
    ("table_rows", "import_rows", "mode", "min_rows", "deferred"),
    [
        (30, 25, "auto", 0, False),  # the table is larger than the import: a rebuild would sort it all
        (0, 25, "auto", 100, False),  # too small to pay
        (10, 30, "auto", 0, True),
        (0, 25, "never", 0, False),
        (30, 10, "always", 100, True),
    ],
)
def test_when_the_indexes_are_set_aside(
    cli_db: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    table_rows: int,
    import_rows: int,
    mode: str,
    min_rows: int,
    deferred: bool,
) -> None:
    if make_url(cli_db).get_backend_name() != "sqlite":
        deferred = False  # MariaDB: whatever is asked
    if table_rows:
        rows = [[f"earlier {i}", *row[1:]] for i, row in enumerate(good_rows(table_rows))]
        earlier = run_import(str(write_csv(tmp_path / "earlier.csv", rows)), "--defer-indexes", "never")
        assert earlier.exit_code == 0, earlier.output
    monkeypatch.setenv("THREEKCAL_IMPORT_DEFER_INDEXES_MIN_ROWS", str(min_rows))
    get_settings.cache_clear()
    seen = watch_chunks(monkeypatch)
    result = run_import(
        str(write_csv(tmp_path / "more.csv", good_rows(import_rows))), "--defer-indexes", mode
    )
    assert result.exit_code == 0, result.output
    assert seen[0] == []  # the first chunk tells the source's size
    assert all(chunk == (DEFERRABLE if deferred else []) for chunk in seen[1:]), seen
    assert missing(cli_db) == []
    assert count(cli_db) == table_rows + import_rows
    verify()


def test_an_unknown_mode_is_refused_and_stores_nothing(cli_db: str, tmp_path: Path) -> None:
    result = run_import(str(write_csv(tmp_path / "a.csv", good_rows(3))), "--defer-indexes", "sometimes")
    assert result.exit_code == 2
    assert "unknown --defer-indexes 'sometimes': auto, always or never" in result.stderr
    assert count(cli_db) == 0


def test_an_import_that_fails_halfway_puts_the_indexes_back(
    cli_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chunks: list[int] = []

    def fail_at_the_third_chunk(_connection: Connection, _receipts: Sequence[str]) -> None:
        chunks.append(1)
        if len(chunks) == 3:
            raise OSError("disk on fire")

    source = importing.file_source(write_csv(tmp_path / "a.csv", good_rows(25)))
    with pytest.raises(OSError, match="disk on fire"):
        importing.import_comments(
            engine_for(cli_db),
            source,
            chunk_rows=5,
            defer_indexes="always",
            before_insert=fail_at_the_third_chunk,
        )
    assert missing(cli_db) == []
    assert count(cli_db) == 10  # the first two chunks; the third was rolled back
    verify()


KILLED_IMPORT = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from threekcal.db import deferred_indexes, importing
    from threekcal.db.session import engine_for

    chunks = []

    def killed_in_the_third_chunk(connection, receipts):
        chunks.append(sorted(str(index.name) for index in deferred_indexes.missing(connection)))
        if len(chunks) == 3:
            print(chunks[-1], flush=True)
            os.kill(os.getpid(), signal.SIGKILL)  # in the chunk's transaction, right before its INSERT

    importing.import_comments(
        engine_for(sys.argv[1]), importing.file_source(Path(sys.argv[2])), chunk_rows=5,
        defer_indexes="always", before_insert=killed_in_the_third_chunk,
    )
    """
)


def test_an_import_killed_halfway_loses_nothing_and_upgrade_builds_the_indexes_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'killed.db'}"
    migrate.upgrade(url)
    monkeypatch.setenv("THREEKCAL_DATABASE_URL", url)
    monkeypatch.setenv("THREEKCAL_VAR_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    path = write_csv(tmp_path / "a.csv", good_rows(25))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_IMPORT, url, str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert killed.stdout.strip() == str(DEFERRABLE)  # it died with the indexes set aside
    assert missing(url) == DEFERRABLE
    assert count(url) == 10  # two chunks committed, the third lost with its process
    verify()  # the counts of those two chunks, committed with them

    upgraded = runner.invoke(app, ["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    assert missing(url) == []

    again = run_import(str(path))
    assert again.exit_code == 0, again.output
    assert "25 rows read: 15 comments stored, 10 already present, 0 bad rows skipped" in again.stdout
    assert count(url) == 25
    verify()
    get_settings.cache_clear()
