"""Real ``threekcal`` processes for the pipeline tests: their environment, their output, and waiting on a
condition polled from outside (never on a fixed sleep)."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

from threekcal.settings import Settings
from waiting import WAIT_SECONDS, wait_until

ADMIN_TOKEN = "test-admin-token-0123456789"


def cli_env(settings: Settings, model_dir: Path | str, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("THREEKCAL_")}
    env.update(
        THREEKCAL_ENV="test",
        THREEKCAL_ADMIN_TOKEN=ADMIN_TOKEN,
        THREEKCAL_DATABASE_URL=settings.database_url,
        THREEKCAL_LOG_DIR=str(settings.log_dir),
        THREEKCAL_CACHE_DIR=str(settings.cache_dir),
        THREEKCAL_MODEL=str(model_dir),
        THREEKCAL_BACKEND="torch",
        THREEKCAL_TORCH_THREADS="1",
        THREEKCAL_WORKER_INTERVAL="0.2",
        HF_HUB_OFFLINE="1",
        SPARK_LOCAL_IP="127.0.0.1",
        **extra,
    )
    return env


class Process:
    """A ``threekcal`` command in its own process group (so Spark's JVM dies with it), output collected."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "threekcal.cli", *args],
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        self.pump = threading.Thread(target=self._pump, daemon=True)
        self.pump.start()

    def _pump(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.output.append(line)
            self.lines.put(line)

    def text(self) -> str:
        return "".join(self.output)

    def wait_for_line(self, needle: str, timeout: float = WAIT_SECONDS) -> None:
        wait_until(lambda: needle in self.text() or self.popen.poll() is not None, timeout, needle)
        assert needle in self.text(), f"{needle!r} never appeared; output:\n{self.text()}"

    def kill_group(self) -> None:
        """SIGKILL to the process and everything it started."""
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(30)

    def stop(self, timeout: float = 60) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        finally:
            if self.popen.poll() is None:
                self.kill_group()


def run_cli(args: list[str], env: dict[str, str], cwd: Path, timeout: float = WAIT_SECONDS) -> Process:
    """Run a command to its end."""
    process = Process(args, env, cwd)
    try:
        process.popen.wait(timeout)
    finally:
        if process.popen.poll() is None:
            process.kill_group()
    process.pump.join(10)  # the output up to its end
    return process
