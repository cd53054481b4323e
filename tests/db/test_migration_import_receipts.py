"""Migration 0009 rewrites the receipts of comments imported before it, so importing the same file after
an upgrade still stores nothing new; API comments keep their random receipts; downgrading writes the old
form back."""

from __future__ import annotations

import importlib.util
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from threekcal.cli import app
from threekcal.db import migrate, queries
from threekcal.db.session import engine_for, session_factory
from threekcal.settings import get_settings

REVISION_FILE = migrate.MIGRATIONS_DIR / "versions" / "0009_import_receipts.py"
spec = importlib.util.spec_from_file_location("revision_0009", REVISION_FILE)
assert spec and spec.loader
revision = importlib.util.module_from_spec(spec)
spec.loader.exec_module(revision)

CSV = (
    "comments,request_user,request_time,prediction_result,prediction_score,prediction_time,label,remark\n"
    "좋아요,kim,2024-03-01 09:00:00,joy,0.875,2024-03-01 09:03:00,joy,\n"
    "so sad,park,2024-03-02 08:00:12.5,,,,,\n"
)


@pytest.fixture(params=["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of its own (migrations go up and down in it), at head."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'receipts.db'}"
        migrate.upgrade(url)
        yield url
        return
    server_url = request.getfixturevalue("mariadb_server_url")
    name = f"threekcal_receipts_{secrets.token_hex(4)}"
    server = create_engine(server_url)
    with server.begin() as connection:
        connection.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(url)
    yield url
    engine_for(url).dispose()
    with server.begin() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
    server.dispose()


def _receipts(url: str) -> dict[str, str]:
    with engine_for(url).connect() as connection:
        return {
            comment: receipt
            for comment, receipt in connection.execute(text("SELECT comments, receipt FROM comments"))
        }


def _import(url: str, path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("THREEKCAL_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["import", str(path)])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    return result.stdout


def test_receipts_of_earlier_imports_are_rewritten_so_a_second_import_stores_nothing(
    fresh_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "old.csv"
    source.write_text(CSV, encoding="utf-8")
    assert "2 comments stored" in _import(fresh_url, source, monkeypatch)
    with session_factory(fresh_url)() as session:
        api_receipt = queries.insert_comment(
            session, request_user="lee", text="typed in the web page"
        ).receipt
    imported = _receipts(fresh_url)

    migrate.downgrade(fresh_url, "0008_import_indexes")  # the receipts as the import before 0009 wrote them
    old = _receipts(fresh_url)
    assert old["좋아요"] == revision.hashed_receipt("kim", "2024-03-01 09:00:00.000000", "좋아요")
    assert old["so sad"] == revision.hashed_receipt("park", "2024-03-02 08:00:12.500000", "so sad")
    assert old["typed in the web page"] == api_receipt  # random: not an imported comment's

    migrate.upgrade(fresh_url)
    assert _receipts(fresh_url) == imported
    assert imported["좋아요"].startswith("2024030109") and len(imported["좋아요"]) == 32
    assert "2 rows read: 0 comments stored, 2 already present" in _import(fresh_url, source, monkeypatch)
