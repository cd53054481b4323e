"""Shared fixtures: a migrated database per backend (SQLite file and a fresh MariaDB database),
settings pointing at it, and the tiny offline test model.

Tests that take ``database_url`` (or anything built on it) run once on SQLite and once on MariaDB.
MariaDB tests skip only outside CI, and say why; under CI (or THREEKCAL_TEST_REQUIRE_MARIADB=1) an
unreachable server is an error, never a silent skip.

Under CI every skip is turned into a failure (whatever raised it: ``pytest.skip``, ``importorskip``, a
``skipif`` marker). A test that cannot run somewhere is deselected instead (``-m "not browser"``), and
the deselected tests are listed with the reason at the end of the run (and in
``test-artifacts/deselected.txt`` for ``.ci/run``).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from threekcal.db import migrate
from threekcal.db.models import Base
from threekcal.db.session import engine_for
from threekcal.settings import Settings

MARIADB_SERVER_URL = os.environ.get(
    "THREEKCAL_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/?charset=utf8mb4"
)
ADMIN_TOKEN = "test-admin-token-0123456789"


_DESELECTED = pytest.StashKey[list[tuple[str, str]]]()
LOCAL_DESELECTED_SHOWN = 10
DESELECTED_REPORT = Path(__file__).resolve().parents[1] / "test-artifacts" / "deselected.txt"


def running_under_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def mariadb_required() -> bool:
    return running_under_ci() or os.environ.get("THREEKCAL_TEST_REQUIRE_MARIADB") == "1"


# ------------------------------------------------------------------ no silent skips, deselections named
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Under CI a skipped test is a failed test: it proves nothing, so it must not count as a pass."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if not (report.skipped and running_under_ci()) or hasattr(report, "wasxfail"):
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = (
        f"skipped under CI, which counts as a failure: {reason}\n"
        "A test that cannot run here must be deselected by marker (-m), not skipped."
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    """The same for a whole module skipped while it is collected (a module-level ``importorskip``)."""
    outcome = yield
    report: pytest.CollectReport = outcome.get_result()
    if report.skipped and running_under_ci():
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"{collector.nodeid} skipped under CI, which counts as a failure: {reason}"


def _deselection_reason(config: pytest.Config) -> str:
    reasons = []
    if config.option.markexpr:
        reasons.append(f"-m {config.option.markexpr!r}")
    if config.option.keyword:
        reasons.append(f"-k {config.option.keyword!r}")
    for path in config.getoption("deselect") or ():
        reasons.append(f"--deselect {path}")
    return ", ".join(reasons) or "deselected by a plugin"


def pytest_deselected(items: list[pytest.Item]) -> None:
    if not items:
        return
    config = items[0].config
    reason = _deselection_reason(config)
    deselected: list[tuple[str, str]] = config.stash.setdefault(_DESELECTED, [])
    for item in items:
        markers = ", ".join(sorted({mark.name for mark in item.iter_markers()} - {"parametrize"}))
        deselected.append((item.nodeid, f"{reason} (markers: {markers or 'none'})"))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    deselected = config.stash.get(_DESELECTED, [])
    if getattr(config, "workerinput", None) is not None:
        return
    lines = [f"{nodeid}: {reason}" for nodeid, reason in deselected]
    if lines:
        terminalreporter.section(f"{len(lines)} deselected tests and why")
        # Every one under CI; a local run narrowed with -k gets the count and the first few.
        shown = lines if running_under_ci() else lines[:LOCAL_DESELECTED_SHOWN]
        for line in shown:
            terminalreporter.write_line(line)
        if len(shown) < len(lines):
            terminalreporter.write_line(f"... and {len(lines) - len(shown)} more")
    if running_under_ci():
        DESELECTED_REPORT.parent.mkdir(exist_ok=True)
        DESELECTED_REPORT.write_text("".join(line + "\n" for line in lines))


def _mariadb_server_or_skip() -> None:
    try:
        engine = create_engine(MARIADB_SERVER_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        message = f"MariaDB at {MARIADB_SERVER_URL} is unreachable: {exc}"
        if mariadb_required():
            pytest.fail(message + " (CI requires it; .ci/run starts it)", pytrace=False)
        pytest.skip(message)


@pytest.fixture(scope="session")
def mariadb_server_url() -> Iterator[str]:
    """A fresh, empty MariaDB database for this test session; dropped at the end."""
    _mariadb_server_or_skip()
    name = f"threekcal_test_{secrets.token_hex(4)}"
    admin = create_engine(MARIADB_SERVER_URL)
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
    url = make_url(MARIADB_SERVER_URL).set(database=name).render_as_string(hide_password=False)
    yield url
    engine_for.cache_clear()
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
    admin.dispose()


@pytest.fixture(scope="session", params=["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated database at head, once per backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'threekcal.db'}"
    else:
        url = request.getfixturevalue("mariadb_server_url")
    migrate.upgrade(url)
    return url


@pytest.fixture
def db_url(database_url: str) -> str:
    """``database_url`` emptied before the test."""
    engine = engine_for(database_url)
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())
    return database_url


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        env="test",
        database_url=db_url,
        admin_token=ADMIN_TOKEN,
        log_dir=tmp_path / "logs",
        cache_dir=tmp_path / "cache",
        _env_file=None,
    )


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The offline test model (random weights, distilroberta architecture, tiny size)."""
    from threekcal.model.testmodel import build_test_model

    cache = os.environ.get("THREEKCAL_TEST_MODEL_CACHE")
    # Keyed by the builder's source: a changed builder never reuses a model built by an older one.
    target = (
        Path(cache) / f"tiny-{builder_version()}" if cache else tmp_path_factory.mktemp("models") / "tiny"
    )
    if not (target / "config.json").exists():
        # Built beside the target and renamed into place: a concurrent run never sees half a model.
        target.parent.mkdir(parents=True, exist_ok=True)
        building = target.with_name(f"{target.name}.building-{secrets.token_hex(4)}")
        build_test_model(building, size="tiny")
        try:
            building.rename(target)
        except OSError:  # another run finished first
            shutil.rmtree(building, ignore_errors=True)
    return target


def builder_version() -> str:
    """A short hash of the test model builder's source, the key of the cached test model."""
    from threekcal.model import testmodel

    return hashlib.sha256(Path(testmodel.__file__).read_bytes()).hexdigest()[:12]
