"""`threekcal import`: CSV and JSON Lines files and the original system's MariaDB table, checked with the
API's rules row by row, stored in chunks, idempotent; refused sources store nothing (exit 2)."""

from __future__ import annotations

import csv
import json
import re
import secrets
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import Result
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import Connection, make_url
from typer.testing import CliRunner

from threekcal.cli import app
from threekcal.db import aggregates_check, importing
from threekcal.db.models import Comment
from threekcal.db.session import engine_for, session_scope
from threekcal.settings import get_settings
from threekcal.validation import (
    BLANK,
    CONTROL,
    INCOMPLETE_PREDICTION,
    INVALID_UNICODE,
    MAX_COMMENT_CHARS,
    MAX_REMARK_CHARS,
    NOT_TEXT,
    PREDICTION_FIELDS,
    TOO_LONG,
    CommentRecord,
    InvalidInput,
    clean_comment_record,
    clean_label,
    clean_probability,
    clean_text,
    clean_time,
)

runner = CliRunner()
HEADER = ["comments", "request_user", "request_time", "prediction_result", "prediction_score",
          "prediction_time", "label", "remark"]  # fmt: skip


@pytest.fixture
def cli_db(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("THREEKCAL_DATABASE_URL", db_url)
    monkeypatch.setenv("THREEKCAL_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("THREEKCAL_IMPORT_CHUNK_ROWS", raising=False)
    get_settings.cache_clear()
    yield db_url
    get_settings.cache_clear()


def count(url: str) -> int:
    with session_scope(url) as session:
        return session.scalar(select(func.count()).select_from(Comment)) or 0


def stored(url: str) -> list[Comment]:
    with session_scope(url) as session:
        rows = list(session.scalars(select(Comment).order_by(Comment.request_time, Comment.num)))
        session.expunge_all()
        return rows


def write_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def good_rows(n: int) -> list[list[str]]:
    rows = []
    for i in range(n):
        predicted = i % 2 == 0
        rows.append(
            [
                f"comment {i}",
                f"user{i % 3}",
                f"2025-01-01T00:{i // 60 % 60:02d}:{i % 60:02d}",
                "joy" if predicted else "",
                "0.75" if predicted else "",
                "2025-01-02T00:00:00+00:00" if predicted else "",
                "sadness" if i % 5 == 0 else "",
                "old note" if i % 7 == 0 else "",
            ]
        )
    return rows


def run_import(*args: str) -> Result:
    return runner.invoke(app, ["import", *args])


def reported(result: Result) -> list[str]:
    """The bad rows and errors on stderr, without the progress bar."""
    return [line for line in result.stderr.splitlines() if line.startswith(("line ", "num ", "error:"))]


def test_csv_import_stores_every_row_with_its_fields_and_twice_stores_nothing_new(
    cli_db: str, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "old.csv", good_rows(25))
    first = run_import(str(path))
    assert first.exit_code == 0, first.output
    assert "25 rows read: 25 comments stored, 0 already present, 0 bad rows skipped" in first.stdout
    rows = stored(cli_db)
    assert len(rows) == 25
    assert (rows[0].comments, rows[0].request_user) == ("comment 0", "user0")
    assert rows[0].request_time == datetime(2025, 1, 1, tzinfo=UTC)
    assert (rows[0].prediction_result, rows[0].prediction_score) == ("joy", 0.75)
    assert rows[0].prediction_time == datetime(2025, 1, 2, tzinfo=UTC)
    assert (rows[0].label, rows[0].remark) == ("sadness", "old note")
    assert (rows[1].prediction_result, rows[1].label, rows[1].remark) == (None, None, None)
    assert len({row.receipt for row in rows}) == 25 and all(len(row.receipt) == 32 for row in rows)
    assert rows[0].receipt.startswith("2025010100")  # the hour first: the receipt index grows at its end

    again = run_import(str(path))
    assert again.exit_code == 0, again.output
    assert "25 rows read: 0 comments stored, 25 already present, 0 bad rows skipped" in again.stdout
    assert [row.receipt for row in stored(cli_db)] == [row.receipt for row in rows]
    with engine_for(cli_db).connect() as connection:
        assert aggregates_check.differences(connection) == []  # the statistics counted each comment once


def test_jsonl_import_in_small_chunks(cli_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THREEKCAL_IMPORT_CHUNK_ROWS", "4")
    get_settings.cache_clear()
    path = tmp_path / "old.jsonl"
    lines = [
        json.dumps(
            {
                "comments": f"json {i}",
                "request_user": "제인",
                "request_time": f"2025-02-01T10:00:{i:02d}+09:00",
                "prediction_result": "fear",
                "prediction_score": 0.5,
                "prediction_time": "2025-02-01T02:00:00Z",
                "num": 999,  # other keys are ignored
            },
            ensure_ascii=False,
        )
        for i in range(10)
    ]
    path.write_text("\n".join(lines[:5]) + "\n\n" + "\n".join(lines[5:]) + "\n", encoding="utf-8")
    chunks: list[int] = []
    source = importing.file_source(path)
    report = importing.import_comments(
        engine_for(cli_db),
        source,
        chunk_rows=4,
        after_chunk=lambda _connection, stored: chunks.append(stored),
        checker="process",  # as for a large file
    )
    assert (report.rows, report.stored, report.bad) == (10, 10, 0)
    assert chunks == [4, 4, 2]
    rows = stored(cli_db)
    assert rows[0].request_time == datetime(2025, 2, 1, 1, 0, 0, tzinfo=UTC)  # +09:00 taken to UTC
    assert rows[0].request_user == "제인" and rows[0].prediction_score == 0.5
    result = run_import(str(path))
    assert "10 rows read: 0 comments stored, 10 already present" in result.stdout
    with engine_for(cli_db).connect() as connection:
        assert aggregates_check.differences(connection) == []


def test_comments_another_writer_stores_mid_import_are_never_counted_twice(
    cli_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer stores two of a chunk's comments right before the chunk's INSERT. SQLite (one writer
    at a time, no look-up before the INSERT): the INSERT skips them, they are already present. MariaDB
    (look-up, then INSERT): the chunk is rolled back, exit 1, and a second run finishes the import."""
    path = write_csv(tmp_path / "raced.csv", good_rows(12))
    monkeypatch.setenv("THREEKCAL_IMPORT_CHUNK_ROWS", "5")
    get_settings.cache_clear()
    records = [clean_comment_record(dict(zip(HEADER, row, strict=True))) for row in good_rows(12)]
    by_receipt = {importing.receipt_for(record): record for record in records}
    chunks: list[Sequence[str]] = []  # the receipts each chunk was about to store
    raced: list[str] = []

    def another_writer_stores_two(_connection: Connection, receipts: Sequence[str]) -> None:
        """Its own connection and transaction, counting what it stores, as a second import would."""
        chunks.append(receipts)
        if len(chunks) == 2:
            raced.extend(sorted(receipts)[:2])
            rows = [importing.stored_values(by_receipt[r]) for r in raced]
            with create_engine(cli_db).begin() as other:
                assert importing.store_chunk(other, rows) == len(raced)

    real_import = importing.import_comments
    monkeypatch.setattr(
        importing,
        "import_comments",
        lambda *args, **kwargs: real_import(*args, **kwargs, before_insert=another_writer_stores_two),
    )
    result = run_import(str(path))
    if make_url(cli_db).get_backend_name() == "sqlite":
        assert result.exit_code == 0, result.output
        assert "12 rows read: 10 comments stored, 2 already present, 0 bad rows skipped" in result.stdout
        assert [len(receipts) for receipts in chunks] == [5, 5, 2]
    else:
        assert result.exit_code == 1, result.output
        assert "another writer stored 2 of these comments at the same time" in result.stderr
        assert [len(receipts) for receipts in chunks] == [5, 5]  # the import stopped at the raced chunk
        kept = {row.receipt for row in stored(cli_db)}
        assert kept == {*chunks[0], *raced}  # the raced chunk's own rows were rolled back
        verified = runner.invoke(app, ["stats", "verify"])
        assert verified.exit_code == 0, verified.output  # each stored comment counted once
        monkeypatch.setattr(importing, "import_comments", real_import)
        again = run_import(str(path))
        assert again.exit_code == 0, again.output
        assert "12 rows read: 5 comments stored, 7 already present, 0 bad rows skipped" in again.stdout
    assert count(cli_db) == 12
    verified = runner.invoke(app, ["stats", "verify"])
    assert verified.exit_code == 0, verified.output  # each comment counted once


def test_a_checker_process_hands_over_bad_rows_in_order_and_its_errors(cli_db: str, tmp_path: Path) -> None:
    rows = good_rows(5)
    path = write_csv(
        tmp_path / "mixed.csv", [*rows[:2], ["x", "u", "yesterday", "", "", "", "", ""], *rows[2:]]
    )
    bad: list[str] = []
    source = importing.file_source(path)
    report = importing.import_comments(
        engine_for(cli_db), source, chunk_rows=2, on_bad=lambda row: bad.append(str(row)), checker="process"
    )
    assert (report.rows, report.stored, report.bad) == (6, 5, 1)
    assert bad == ["line 4: request_time must be a date and time in ISO 8601, like 2026-11-24T12:00:00+00:00 "
                   "(without an offset: UTC)"]  # fmt: skip
    source = importing.file_source(path)
    path.unlink()  # the child process cannot open it: its error comes back here
    with pytest.raises(FileNotFoundError):
        importing.import_comments(engine_for(cli_db), source, chunk_rows=2, checker="process")
    assert count(cli_db) == 5


def test_bad_rows_are_reported_with_their_line_numbers_and_skipped(cli_db: str, tmp_path: Path) -> None:
    rows = good_rows(3)
    bad = [
        ["   ", "u", "2025-01-01", "", "", "", "", ""],  # line 7
        ["text", "", "2025-01-01", "", "", "", "", ""],  # line 6
        ['multi\nline "ok"', "u", "2025-01-01T01:00:00", "", "", "", "", ""],  # lines 8-9: good
        ["x", "u", "yesterday", "", "", "", "", ""],  # line 17
        ["x", "u", "2025-01-01", "joy", "", "", "", ""],  # line 10
        ["x", "u", "2025-01-01", "joy", "1.5", "2025-01-01", "", ""],  # line 11
        ["x", "u", "2025-01-01", "", "", "", "happy", ""],  # line 12
        ["x" * 2001, "u", "2025-01-01", "", "", "", "", ""],  # line 13
        ["x\x00y", "u", "2025-01-01", "", "", "", "", ""],  # line 14
        ["x", "a\u202eb", "2025-01-01", "", "", "", "", ""],  # line 15
        ["x", "u", "2025-01-01", "", "", "", "", "r" * 501],  # line 16
    ]
    path = write_csv(tmp_path / "mixed.csv", [*rows, ["too", "few"], *bad])  # the short row: line 5
    result = run_import(str(path))
    assert result.exit_code == 0, result.output
    assert reported(result) == [
        "line 5: 2 cells, the header has 8",
        "line 6: comments must not be empty or whitespace only",
        "line 7: request_user must not be empty or whitespace only",
        "line 10: request_time must be a date and time in ISO 8601, like 2026-11-24T12:00:00+00:00 "
        "(without an offset: UTC)",
        "line 11: prediction_result, prediction_score and prediction_time come together: "
        "prediction_score is missing",
        "line 12: prediction_score must be a number from 0 to 1",
        "line 13: label must be one of anger, disgust, fear, joy, neutral, sadness, surprise",
        "line 14: comments is too long: 2001 characters after trimming spaces, the limit is 2000",
        "line 15: comments must not contain control characters other than tab and line breaks",
        "line 16: request_user must not contain invisible formatting characters (bidi controls, zero-width)",
        "line 17: remark is too long: 501 characters after trimming spaces, the limit is 500",
    ]
    assert "15 rows read: 4 comments stored, 0 already present, 11 bad rows skipped" in result.stdout
    assert sorted(row.comments for row in stored(cli_db)) == [
        "comment 0",
        "comment 1",
        "comment 2",
        'multi\nline "ok"',
    ]


def test_strict_refuses_the_whole_import_and_stores_nothing(cli_db: str, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "one-bad.csv", [*good_rows(5), ["x", "u", "2025-13-01", "", "", "", "", ""]])
    result = run_import("--strict", str(path))
    assert result.exit_code == 2
    assert "line 7: request_time must be a date and time in ISO 8601" in result.stderr
    assert "error: 1 bad rows: nothing stored (--strict)" in result.stderr
    assert count(cli_db) == 0


def test_non_utf8_bytes_and_non_object_lines_are_bad_rows(cli_db: str, tmp_path: Path) -> None:
    path = tmp_path / "odd.jsonl"
    good = json.dumps({"comments": "fine", "request_user": "u", "request_time": "2025-01-01"})
    path.write_bytes(
        good.encode()
        + b'\n{"comments": "caf\xe9", "request_user": "u", "request_time": "2025-01-01"}\n'
        + b"[1, 2]\n"
        + b'{"comments": 5, "request_user": "u", "request_time": "2025-01-01"}\n'
    )
    result = run_import(str(path))
    assert reported(result) == [
        "line 2: comments is not valid Unicode text (lone surrogate or invalid UTF-8)",
        "line 3: not a JSON object",
        "line 4: comments must be text",
    ]
    assert count(cli_db) == 1


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.csv", "error: no such file: {d}/missing.csv"),
        (lambda d: _touch(d / "data.xlsx"), "error: unknown format of {d}/data.xlsx: name it .csv or .jsonl"),
        (
            lambda d: write_csv(d / "nouser.csv", [["a", "2025-01-01"]], ["comments", "request_time"]),
            "error: {d}/nouser.csv has no column request_user (its header: comments, request_time); "
            "required: comments, request_user, request_time",
        ),
    ],
)
def test_unusable_files_are_refused_with_exit_2(cli_db: str, tmp_path: Path, make, message: str) -> None:
    result = run_import(str(make(tmp_path)))
    assert result.exit_code == 2
    assert message.format(d=tmp_path) in result.stderr
    assert count(cli_db) == 0


def _touch(path: Path) -> Path:
    path.write_text("comments\n")
    return path


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "error: not a database URL: 'not a url'"),
        ("sqlite:///x.db", "error: --from-table reads MariaDB/MySQL tables (mysql+pymysql://...), not "),
        ("mysql+pymysql://root@127.0.0.1:3306/db", "error: the URL names no table: end it with /DB.TABLE"),
    ],
)
def test_bad_table_urls_are_refused_with_exit_2(cli_db: str, url: str, message: str) -> None:
    result = run_import("--from-table", url)
    assert result.exit_code == 2
    assert message in result.stderr
    assert count(cli_db) == 0


# ----------------------------------------------------------------------- the original system's table
LEGACY_TABLE = """
CREATE TABLE comments (
    num INT AUTO_INCREMENT PRIMARY KEY,
    comments TEXT NOT NULL,
    request_user VARCHAR(100) NOT NULL,
    request_time DATETIME NOT NULL,
    prediction_result VARCHAR(20),
    prediction_score FLOAT,
    prediction_time DATETIME,
    label VARCHAR(20),
    remark VARCHAR(1000)
) CHARACTER SET utf8mb4
"""


@pytest.fixture
def legacy_db(mariadb_server_url: str) -> Iterator[str]:
    """A database on the MariaDB server holding the original system's ``comments`` table."""
    name = f"threekcal_legacy_{secrets.token_hex(4)}"
    server = create_engine(mariadb_server_url)
    with server.begin() as connection:
        connection.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
        connection.execute(text(f"USE `{name}`"))
        connection.execute(text(LEGACY_TABLE))
        connection.execute(
            text(
                "INSERT INTO comments (comments, request_user, request_time, prediction_result, "
                "prediction_score, prediction_time, label, remark) VALUES "
                "('좋아요', 'kim', '2024-03-01 09:00:00', 'joy', 0.875, '2024-03-01 09:03:00', 'joy', NULL),"
                "('meh', 'lee', '2024-03-01 10:00:00', NULL, NULL, NULL, NULL, NULL),"
                "('   ', 'lee', '2024-03-01 11:00:00', NULL, NULL, NULL, NULL, NULL),"
                "('so sad', 'park', '2024-03-02 08:00:00', 'sadness', 0.5, '2024-03-02 08:01:00', "
                "'fear', 'model was wrong')"
            )
        )
    url = make_url(mariadb_server_url).set(database=name).render_as_string(hide_password=False)
    yield url
    with server.begin() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
    server.dispose()


@pytest.mark.mariadb
def test_from_table_copies_the_original_systems_table(cli_db: str, legacy_db: str) -> None:
    url = f"{legacy_db.split('?')[0]}.comments"
    result = run_import("--from-table", url)
    assert result.exit_code == 0, result.output
    assert reported(result)[-1] == "num 3: comments must not be empty or whitespace only"
    assert "4 rows read: 3 comments stored, 0 already present, 1 bad row skipped" in result.stdout
    rows = stored(cli_db)
    assert [(r.comments, r.request_user, r.prediction_result, r.label, r.remark) for r in rows] == [
        ("좋아요", "kim", "joy", "joy", None),
        ("meh", "lee", None, None, None),
        ("so sad", "park", "sadness", "fear", "model was wrong"),
    ]
    assert rows[0].prediction_score == 0.875
    assert rows[0].request_time == datetime(2024, 3, 1, 9, tzinfo=UTC)
    assert rows[2].prediction_time == datetime(2024, 3, 2, 8, 1, tzinfo=UTC)
    again = run_import("--from-table", url)
    assert "4 rows read: 0 comments stored, 3 already present, 1 bad row skipped" in again.stdout
    missing = run_import("--from-table", f"{legacy_db.split('?')[0]}.nothing")
    assert missing.exit_code == 2
    assert "error: no table nothing in mysql+pymysql://" in missing.stderr
    assert count(cli_db) == 3
    with engine_for(cli_db).connect() as connection:
        assert aggregates_check.differences(connection) == []


# ----------------------------------------------------------------------- the rules' cheaper common case
def _reference_text(value: object, field: str, limit: int, allow_blank: bool = False) -> str | None:
    """clean_text as written before its one-search shortcut: each check on its own, in order."""
    if not isinstance(value, str):
        raise InvalidInput(NOT_TEXT, field)
    if re.search(r"[\ud800-\udfff]", value):
        raise InvalidInput(INVALID_UNICODE, field)
    text = value.strip()
    if not text:
        if allow_blank:
            return None
        raise InvalidInput(BLANK, field)
    if len(text) > limit:
        raise InvalidInput(TOO_LONG, field)
    if re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", text):
        raise InvalidInput(CONTROL, field)
    return text


def _outcome(clean: Callable[[], object]) -> object:
    try:
        return clean()
    except InvalidInput as error:
        return (error.code, error.field)


TRICKY_CHARS = "ab \t\n\r\x00\x08\x0b\x1c\x1f\x7f\x85\xa0\u2028\ud800\udfff\u202e\u200b한"
tricky_text = st.one_of(
    st.text(alphabet=TRICKY_CHARS, max_size=8),
    st.builds(
        lambda pad, core: pad + core + pad,
        st.sampled_from(["", " ", "\x1f", "\n"]),
        st.sampled_from(["x" * 2000, "x" * 2001, "x" * 1999 + "\x00"]),
    ),
    st.integers(),
    st.none(),
)
tricky_label = st.one_of(st.sampled_from(["joy", " joy ", "JOY", "", "  ", "happy", "fear\x00"]), st.none(),
                         st.integers(0, 2), st.booleans())  # fmt: skip
tricky_score = st.one_of(
    st.sampled_from(["0.5", " 0.5 ", "1", "1.0", "0", "-0", "1e0", "nan", "inf", "1.5", "", "x", "0x1"]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-1, 2),
    st.booleans(),
    st.none(),
)


@given(
    comments=tricky_text,
    label=tricky_label,
    prediction_result=tricky_label,
    prediction_score=tricky_score,
    remark=tricky_text,
)
@hypothesis_settings(max_examples=400, deadline=None)
def test_clean_comment_record_agrees_with_each_rule_checked_on_its_own(
    comments: object, label: object, prediction_result: object, prediction_score: object, remark: object
) -> None:
    """The import's validation takes shortcuts for the usual row (one regex search for two checks, label
    and score texts looked up in a cache): on tricky values it gives what each rule on its own gives."""
    values = {
        "comments": comments,
        "request_user": "u",
        "request_time": "2025-01-01T00:00:00",
        "prediction_result": prediction_result,
        "prediction_score": prediction_score,
        "prediction_time": "2025-01-01T00:01:00" if prediction_result is not None else None,
        "label": label,
        "remark": remark,
    }
    for _twice in range(2):  # the second time from the caches
        got = _outcome(lambda: clean_comment_record(values))
        expected = _outcome(lambda: _reference_record(values))
        assert got == expected
    for value in (comments, remark):
        got = _outcome(lambda v=value: clean_text(v, "f", 2000) if isinstance(v, str) else None)
        assert got == _outcome(lambda v=value: _reference_text(v, "f", 2000) if isinstance(v, str) else None)


def _reference_record(values: dict[str, object]) -> CommentRecord:
    comments = _reference_text(values["comments"] or "", "comments", MAX_COMMENT_CHARS)
    prediction_result = clean_label(values["prediction_result"], "prediction_result")
    prediction_score = clean_probability(values["prediction_score"], "prediction_score")
    prediction_time = clean_time(values["prediction_time"], "prediction_time")
    given = (prediction_result, prediction_score, prediction_time)
    if any(value is not None for value in given):
        for name, value in zip(PREDICTION_FIELDS, given, strict=True):
            if value is None:
                raise InvalidInput(INCOMPLETE_PREDICTION, name)
    remark = values["remark"]
    assert comments is not None
    return CommentRecord(
        comments=comments,
        request_user="u",
        request_time=datetime(2025, 1, 1, tzinfo=UTC),
        prediction_result=prediction_result,
        prediction_score=prediction_score,
        prediction_time=prediction_time,
        label=clean_label(values["label"], "label"),
        remark=None if remark is None else _reference_text(remark, "remark", MAX_REMARK_CHARS, True),
    )


def test_the_summary_counts_one_row_and_many_in_words() -> None:
    one = importing.ImportReport(rows=1, stored=1, already_present=0, bad=0)
    assert one.summary() == "1 row read: 1 comment stored, 0 already present, 0 bad rows skipped"
    many = importing.ImportReport(rows=3, stored=0, already_present=2, bad=1)
    assert many.summary() == "3 rows read: 0 comments stored, 2 already present, 1 bad row skipped"
