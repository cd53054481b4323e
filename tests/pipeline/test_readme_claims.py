"""README claims about processes, checked with real ``threekcal`` processes:

- one predict and one apply run at a time per database: a second one exits with code 75;
- the embedded worker recovers by itself after a database outage and then predicts what waited;
- a Spark apply killed mid-run is finished or cleaned up by the next run: nothing lost or duplicated.

Processes are stopped at a state polled from outside (a lock the server reports held, a row lock a
statement waits on, staging rows that exist), never at a hook inside the product.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from pipeline_helpers import add_comments, add_log, batch_rows, comment_rows, record
from process_helpers import Process, cli_env, run_cli, wait_until
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from testnet import TcpProxy
from threekcal.db import migrate
from threekcal.db.models import PredictionStaging
from threekcal.db.session import engine_for
from threekcal.pipeline import logfiles, spark_apply
from threekcal.settings import Settings

EXIT_BUSY = 75
HOLDER = """
import sys
from threekcal.pipeline.locks import step_lock
with step_lock(sys.argv[1], "predict") as predict, step_lock(sys.argv[1], "apply") as apply:
    print("held" if predict and apply else "busy", flush=True)
    sys.stdin.read()  # until the test closes our stdin
"""


def settings_for(url: str, tmp_path: Path) -> Settings:
    return Settings(
        env="test",
        database_url=url,
        admin_token="claims-admin-token-0123456789",
        log_dir=tmp_path / "logs",
        cache_dir=tmp_path / "cache",
        _env_file=None,
    )


@pytest.fixture
def mariadb_database(mariadb_server_url: str) -> Any:
    """A fresh, migrated MariaDB database of its own (these tests connect through proxies and locks)."""
    name = f"threekcal_claims_{secrets.token_hex(4)}"
    server = create_engine(mariadb_server_url)
    with server.connect() as connection:
        connection.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
    url = make_url(mariadb_server_url).set(database=name)
    migrate.upgrade(url.render_as_string(hide_password=False))
    yield url
    engine_for(url.render_as_string(hide_password=False)).dispose()
    with server.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
    server.dispose()


def server_lock_holder(url: str, name: str) -> int | None:
    """The connection id that holds ThreeKcal's named lock ``name`` (see pipeline.locks), or None."""
    lock_name = f"threekcal:{make_url(url).database}:{name}"[:64]
    with engine_for(url).connect() as connection:
        return connection.execute(text("SELECT IS_USED_LOCK(:name)"), {"name": lock_name}).scalar()


# ------------------------------------------------------------------------------ one run at a time
@pytest.mark.slow
def test_a_second_predict_or_apply_exits_75_while_another_process_holds_the_lock(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    """SQLite (a file lock beside the database): another process holds both step locks."""
    url = f"sqlite:///{tmp_path / 'lock.db'}"
    migrate.upgrade(url)
    settings = settings_for(url, tmp_path)
    add_comments(url, ["so happy", "so sad"])
    env = cli_env(settings, tiny_model_dir)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        for command in (["predict"], ["apply"], ["apply", "--engine", "spark"]):
            busy = run_cli(command, env, tmp_path)
            assert busy.popen.returncode == EXIT_BUSY, (command, busy.text())
        assert batch_rows(url) == {}  # the refused runs changed nothing
        assert not any(row["prediction_result"] for row in comment_rows(url).values())
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(30)
    done = run_cli(["predict"], env, tmp_path)
    assert done.popen.returncode == 0, done.text()
    assert len(batch_rows(url)) == 1


@pytest.mark.slow
@pytest.mark.mariadb
def test_while_a_real_run_holds_the_mariadb_lock_a_second_one_exits_75(
    mariadb_database: Any, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Two real runs: the first is held up inside its run (its table is locked by the test, so it waits
    holding the step's named lock); the second exits with 75; the first then finishes normally."""
    url = mariadb_database.render_as_string(hide_password=False)
    settings = settings_for(url, tmp_path)
    add_comments(url, ["so happy", "so sad", "wow"])
    env = cli_env(settings, tiny_model_dir)
    for step in ("predict", "apply"):
        blocker = engine_for(url).connect()
        blocker.execute(text("LOCK TABLES prediction_batches WRITE"))
        first = Process([step], env, tmp_path)
        try:
            wait_until(
                lambda step=step, first=first: (
                    server_lock_holder(url, step) is not None or first.popen.poll() is not None
                ),
                what=f"the first {step} holds its lock",
            )
            assert first.popen.poll() is None, first.text()
            second = run_cli([step], env, tmp_path)
            assert second.popen.returncode == EXIT_BUSY, second.text()
        finally:
            blocker.execute(text("UNLOCK TABLES"))
            blocker.close()
        assert first.popen.wait(180) == 0, first.text()
    rows = comment_rows(url)
    assert all(row["prediction_result"] for row in rows.values())
    (batch,) = batch_rows(url).values()
    assert batch["applied_at"] is not None and batch["applied_rows"] == 3


# ------------------------------------------------------------------------- worker and a DB outage
@pytest.mark.slow
@pytest.mark.mariadb
def test_the_worker_recovers_after_a_database_outage_and_predicts_what_waited(
    mariadb_database: Any, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """The real worker reaches MariaDB through a proxy the test cuts and restores."""
    direct = mariadb_database.render_as_string(hide_password=False)
    proxy = TcpProxy((mariadb_database.host or "127.0.0.1", mariadb_database.port or 3306))
    via_proxy = mariadb_database.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    add_comments(direct, ["happy before the outage"])
    worker = Process(["worker"], cli_env(settings_for(via_proxy, tmp_path), tiny_model_dir), tmp_path)
    try:
        wait_until(lambda: all(r["prediction_result"] for r in comment_rows(direct).values()), what="first")
        proxy.cut()
        add_comments(direct, ["sad during the outage", "wow during the outage"])
        worker.wait_for_line("worker cycle failed")  # it noticed: its cycles fail while the server is gone
        assert worker.popen.poll() is None, worker.text()
        assert sum(1 for row in comment_rows(direct).values() if row["prediction_result"]) == 1
        proxy.restore()
        wait_until(
            lambda: (
                all(row["prediction_result"] for row in comment_rows(direct).values())
                and all(batch["applied_at"] for batch in batch_rows(direct).values())
            ),
            what="the worker predicts what waited",
        )
        assert worker.stop() == 0, worker.text()
    finally:
        worker.kill_group()
        proxy.close()
    rows = comment_rows(direct)
    assert len(rows) == 3 and all(row["model_version"] for row in rows.values())
    per_num: Counter[int] = Counter()
    for batch in batch_rows(direct).values():
        path = logfiles.resolve(tmp_path / "logs", batch["log_path"])
        per_num.update(json.loads(line)["num"] for line in path.read_text().splitlines())
    assert per_num == Counter(dict.fromkeys(rows, 1))  # each comment predicted exactly once


# ------------------------------------------------------------------------------ Spark apply killed
@pytest.mark.slow
@pytest.mark.spark
@pytest.mark.mariadb
def test_a_spark_apply_killed_mid_run_is_finished_by_the_next_run(
    mariadb_database: Any, tmp_path: Path
) -> None:
    """Killed after its JDBC staging write, inside its merge (held on a row lock): the next run applies
    the log exactly once and leaves no staging rows behind."""
    url = mariadb_database.render_as_string(hide_password=False)
    settings = settings_for(url, tmp_path)
    assert spark_apply.jdbc_jar() is not None, "install libmariadb-java (make system-deps)"
    nums = add_comments(url, [f"comment {i}" for i in range(20)])
    run_id = "run-killed-spark"
    add_log(url, settings.log_dir, run_id, [record(num, run_id, "joy") for num in nums])
    env = cli_env(settings, "unused-model")
    command = ["apply", "--engine", "spark", "--master", "local[1]"]

    def staged() -> int:
        with engine_for(url).connect() as connection:
            query = select(func.count()).select_from(PredictionStaging)
            return connection.execute(query.where(PredictionStaging.run_id == run_id)).scalar_one()

    def merge_waits_on_a_lock() -> bool:
        with engine_for(url).connect() as connection:
            waiting = connection.execute(
                text("SELECT COUNT(*) FROM information_schema.innodb_trx WHERE trx_state = 'LOCK WAIT'")
            ).scalar_one()
        return waiting > 0

    blocker = engine_for(url).connect()
    blocker.execute(text("SELECT num FROM comments WHERE num = :num FOR UPDATE"), {"num": nums[0]})
    killed = Process(command, env, tmp_path)
    try:
        wait_until(
            lambda: (staged() == len(nums) and merge_waits_on_a_lock()) or killed.popen.poll() is not None,
            what="the staging rows are written and the merge waits",
        )
        assert killed.popen.poll() is None, killed.text()
        killed.kill_group()
    finally:
        blocker.rollback()
        blocker.close()
        killed.kill_group()
    # What the kill left: staging rows of the run, the batch not applied, no comment changed.
    assert staged() == len(nums)
    assert batch_rows(url)[run_id]["applied_at"] is None
    assert not any(row["prediction_result"] for row in comment_rows(url).values())

    finished = run_cli(command, env, tmp_path)
    assert finished.popen.returncode == 0, finished.text()
    batch = batch_rows(url)[run_id]
    assert batch["applied_at"] is not None and batch["applied_rows"] == len(nums)
    assert batch["details"]["staging_write"] == spark_apply.STAGING_WRITE_JDBC
    assert [row["prediction_result"] for row in comment_rows(url).values()] == ["joy"] * len(nums)
    assert staged() == 0
