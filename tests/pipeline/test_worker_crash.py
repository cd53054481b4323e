"""End to end with the tiny test model and real processes: the worker, killed with SIGKILL in the
middle of a predict or an apply, then restarted, predicts every comment exactly once, applies no batch
twice and loses nothing. Also the plain command line: predict, apply, status.
"""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from pipeline_helpers import add_comments, batch_rows, comment_rows
from process_helpers import cli_env
from tests.conftest import ADMIN_TOKEN

from threekcal.db import migrate
from threekcal.pipeline import logfiles
from threekcal.pipeline.checkpoints import CHECKPOINTS
from threekcal.settings import Settings

pytestmark = pytest.mark.slow

PAUSED_WORKER = Path(__file__).with_name("paused_worker.py")
TEXTS = [f"comment number {i}: {word}" for i, word in enumerate(["happy", "sad", "wow", "meh", "gross"] * 3)]


def start(args: list[str], env: dict[str, str], cwd: Path) -> tuple[subprocess.Popen[str], queue.Queue[str]]:
    """``args``: a ``threekcal`` command line, or a script path and its arguments."""
    command = (
        [sys.executable, *args] if args[0].endswith(".py") else [sys.executable, "-m", "threekcal.cli", *args]
    )
    process = subprocess.Popen(
        command,
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return process, lines


def wait_for_line(lines: queue.Queue[str], needle: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        seen.append(line)
        if needle in line:
            return
    raise AssertionError(f"{needle!r} never appeared; stderr was:\n{''.join(seen)}")


def wait_until_all_predicted(settings: Settings, expected: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = comment_rows(settings.database_url)
        batches = batch_rows(settings.database_url)
        done = len(rows) == expected and all(row["prediction_result"] for row in rows.values())
        if done and all(batch["applied_at"] for batch in batches.values()):
            return
        time.sleep(0.2)
    raise AssertionError("the worker did not predict every comment in time")


def assert_each_comment_predicted_exactly_once(settings: Settings) -> None:
    rows = comment_rows(settings.database_url)
    assert all(row["prediction_result"] and row["model_version"] for row in rows.values())
    batches = batch_rows(settings.database_url)
    assert all(batch["applied_at"] is not None for batch in batches.values())
    # Every comment is in exactly one log that was applied, and was written to the table once.
    per_num: Counter[int] = Counter()
    for batch in batches.values():
        path = logfiles.resolve(settings.log_dir, batch["log_path"])
        per_num.update(json.loads(line)["num"] for line in path.read_text().splitlines())
    assert per_num == Counter(dict.fromkeys(rows, 1))
    assert sum(batch["applied_rows"] for batch in batches.values()) == len(rows)
    assert not list((settings.log_dir / logfiles.INCOMING_DIR).rglob("*.jsonl"))


@pytest.mark.parametrize("point", CHECKPOINTS)
def test_worker_killed_mid_step_then_restarted_loses_and_duplicates_nothing(
    settings: Settings, tiny_model_dir: Path, tmp_path: Path, point: str
) -> None:
    add_comments(settings.database_url, TEXTS)
    args = ["worker", "--apply-chunk-size", "4"]
    paused = [str(PAUSED_WORKER), point, "4"]
    crashing, lines = start(paused, cli_env(settings, tiny_model_dir), tmp_path)
    try:
        wait_for_line(lines, f"PAUSED {point}")
    finally:
        crashing.kill()
        crashing.wait(30)

    add_comments(settings.database_url, ["submitted while the worker was down: wow"])
    worker, lines = start(args, cli_env(settings, tiny_model_dir), tmp_path)
    try:
        wait_until_all_predicted(settings, len(TEXTS) + 1)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
    assert_each_comment_predicted_exactly_once(settings)


def test_command_line_predict_apply_status(tiny_model_dir: Path, tmp_path: Path) -> None:
    # The command line is the same on both databases: SQLite once is enough.
    database_url = f"sqlite:///{tmp_path / 'cli.db'}"
    migrate.upgrade(database_url)
    settings = Settings(
        env="test",
        database_url=database_url,
        admin_token=ADMIN_TOKEN,
        log_dir=tmp_path / "logs",
        _env_file=None,
    )
    add_comments(settings.database_url, TEXTS[:3])
    env = cli_env(settings, tiny_model_dir)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "threekcal.cli", *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )

    predicted = run("predict", "--run-id", "cli-run")
    assert predicted.returncode == 0, predicted.stderr
    assert "cli-run: 3 predictions" in predicted.stdout
    applied = run("apply", "--engine", "local")
    assert applied.returncode == 0, applied.stderr
    assert "1 logs applied, 3 rows updated" in applied.stdout
    status = run("status", "--json")
    state = json.loads(status.stdout)
    assert (state["pending"], state["unapplied_logs"], state["last_apply"]["run_id"]) == (0, 0, "cli-run")
    assert run("apply", "--engine", "pandas").returncode == 2
    assert run("predict", "--run-id", "../x").returncode == 2
    assert_each_comment_predicted_exactly_once(settings)
