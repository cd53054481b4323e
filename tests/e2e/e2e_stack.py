"""Start `threekcal up` as a real subprocess on free ports and a temporary SQLite database; Chromium's
location and arguments (Debian's chromium driven by the `playwright` package; never `playwright install`)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from testnet import HeldPort

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts"
CHROMIUM = Path(os.environ.get("THREEKCAL_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
E2E_ADMIN_TOKEN = "e2e-admin-token-0123456789abcdef"
STARTUP_SECONDS = 180


def port_is_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class RunningStack:
    process: subprocess.Popen[bytes]
    api_url: str
    ui_url: str
    api_port: int
    ui_port: int
    token: str
    log_path: Path
    database_url: str
    held_ports: tuple[HeldPort, ...] = ()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 60) -> int:
        """What Ctrl-C in the terminal does: SIGINT to `threekcal up` alone."""
        try:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGINT)
            return self.process.wait(timeout=timeout)
        finally:
            for held in self.held_ports:
                held.release()


def stack_environment(tmp: Path, *, model_dir: Path | str | None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("THREEKCAL_")}
    env.update(
        THREEKCAL_ENV="development",
        THREEKCAL_DATABASE_URL=f"sqlite:///{tmp / 'threekcal.db'}",
        THREEKCAL_LOG_DIR=str(tmp / "logs"),
        THREEKCAL_CACHE_DIR=str(tmp / "cache"),
        THREEKCAL_VAR_DIR=str(tmp / "var"),
        THREEKCAL_ADMIN_TOKEN=E2E_ADMIN_TOKEN,
        THREEKCAL_WORKER_INTERVAL="1",
        THREEKCAL_TORCH_THREADS="1",
        THREEKCAL_LANG="en",
        HF_HUB_OFFLINE="1",
    )
    if model_dir is not None:
        env["THREEKCAL_MODEL"] = str(model_dir)
    return env


def start_stack(
    tmp: Path,
    *,
    model_dir: Path | str | None,
    extra_args: tuple[str, ...] = (),
    extra_env: dict[str, str] | None = None,
) -> RunningStack:
    # Ports the OS assigned, held until the stack stops (see testnet.HeldPort): no one else can take them.
    held = (HeldPort(), HeldPort())
    api_port, ui_port = held[0].port, held[1].port
    env = stack_environment(tmp, model_dir=model_dir) | (extra_env or {})
    log_path = tmp / "threekcal-up.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "threekcal.cli", "up",
             "--api-port", str(api_port), "--ui-port", str(ui_port), *extra_args],
            cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    stack = RunningStack(
        process=process,
        api_url=f"http://127.0.0.1:{api_port}",
        ui_url=f"http://127.0.0.1:{ui_port}",
        api_port=api_port,
        ui_port=ui_port,
        token=E2E_ADMIN_TOKEN,
        log_path=log_path,
        database_url=env["THREEKCAL_DATABASE_URL"],
        held_ports=held,
    )
    deadline = time.monotonic() + STARTUP_SECONDS
    while "ThreeKcal is running" not in stack.log():
        if process.poll() is not None:
            pytest.fail(f"threekcal up exited with {process.returncode}:\n{stack.log()}", pytrace=False)
        if time.monotonic() > deadline:
            stack.stop()
            pytest.fail(f"threekcal up was not ready in {STARTUP_SECONDS} s:\n{stack.log()}", pytrace=False)
        time.sleep(0.5)
    return stack


def api_get(stack: RunningStack, path: str) -> httpx.Response:
    return httpx.get(
        stack.api_url + path, headers={"Authorization": f"Bearer {stack.token}"}, timeout=10
    ).raise_for_status()
