"""How `threekcal up` runs its children: one dying while serving is restarted with backoff (bounded,
reported), one that cannot come back stops the rest, Ctrl-C stops all, ports in use are named.

The children here are small Python programs, so these tests take seconds and need no server; the last
test kills the API of a real `threekcal up` and sees it come back and serve.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from e2e_stack import start_stack
from typer.testing import CliRunner

from threekcal.cli import app
from threekcal.cli.server import PortInUse, ensure_port_free
from threekcal.cli.supervisor import Child, Supervisor
from waiting import wait_until

SLEEPER = [sys.executable, "-c", "import time\nwhile True: time.sleep(0.1)"]
STUBBORN = [  # ignores SIGINT, as a hung child would
    sys.executable, "-c",
    "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nprint('up', flush=True)\n"
    "while True: time.sleep(0.1)",
]  # fmt: skip


def crasher(code: int, after: float = 0.3) -> list[str]:
    return [
        sys.executable,
        "-c",
        f"import time, sys\nprint('boom', flush=True)\ntime.sleep({after})\nsys.exit({code})",
    ]


def supervisor(
    *children: Child,
    grace: float = 10,
    backoff: tuple[float, float] = (1.0, 30.0),
    max_restarts: int = 5,
) -> tuple[Supervisor, list[str]]:
    lines: list[str] = []
    runner = Supervisor(
        children,
        env={"PATH": "/usr/bin:/bin"},
        grace=grace,
        write=lines.append,
        backoff=backoff,
        max_restarts=max_restarts,
    )
    return runner, lines


def crash_first(times: int, marker: Path, code: int = 1) -> list[str]:
    """A child that exits ``code`` on its first ``times`` starts (counted in ``marker``), then serves."""
    return [
        sys.executable,
        "-c",
        "import pathlib, sys, time\n"
        f"marker = pathlib.Path({str(marker)!r})\n"
        "starts = int(marker.read_text()) + 1 if marker.exists() else 1\n"
        "marker.write_text(str(starts))\n"
        "print('start', starts, flush=True)\n"
        f"if starts <= {times}:\n    time.sleep(0.1)\n    sys.exit({code})\n"
        "while True: time.sleep(0.1)",
    ]


def supervise_in_background(runner: Supervisor) -> tuple[threading.Thread, list[Child | None]]:
    result: list[Child | None] = []
    thread = threading.Thread(target=lambda: result.append(runner.supervise()), daemon=True)
    thread.start()
    return thread, result


def test_a_child_that_dies_while_serving_is_restarted_with_backoff_and_each_attempt_reported(
    tmp_path: Path,
) -> None:
    api = Child("api", crash_first(2, tmp_path / "starts"))
    runner, lines = supervisor(api, Child("ui", SLEEPER), backoff=(0.2, 5.0))
    runner.start()
    thread, result = supervise_in_background(runner)
    try:
        wait_until(lambda: "api | start 3\n" in lines, timeout=60, what="the api started a third time")
        assert api.returncode is None  # it serves now
        notes = [line for line in lines if " | " not in line]
        assert notes == [
            "api exited with status 1; restarting it in 0.2 s (attempt 1 of 5).\n",
            "api restarted (attempt 1 of 5).\n",
            "api exited with status 1; restarting it in 0.4 s (attempt 2 of 5).\n",
            "api restarted (attempt 2 of 5).\n",
        ]
    finally:
        runner.request_stop()
        thread.join(timeout=10)
    assert result == [None]  # nothing gave up: the stop was asked for
    statuses = runner.stop()
    assert statuses["api"] is not None and statuses["ui"] is not None


def test_restarts_are_bounded_then_up_stops_everything() -> None:
    runner, lines = supervisor(
        Child("api", crasher(4, after=0.05)), Child("ui", SLEEPER), backoff=(0.05, 0.1), max_restarts=2
    )
    runner.start()
    thread, result = supervise_in_background(runner)
    thread.join(timeout=60)
    assert result and result[0] is not None and (result[0].name, result[0].returncode) == ("api", 4)
    assert [line for line in lines if "attempt" in line] == [
        "api exited with status 4; restarting it in 0.05 s (attempt 1 of 2).\n",
        "api restarted (attempt 1 of 2).\n",
        "api exited with status 4; restarting it in 0.1 s (attempt 2 of 2).\n",
        "api restarted (attempt 2 of 2).\n",
    ]
    assert (
        "api exited with status 4; it was restarted 2 times in a row without staying up, "
        "so it is not restarted again.\n"
    ) in lines
    statuses = runner.stop()
    assert statuses["ui"] is not None  # stopped, not left running


def test_a_worker_whose_model_cannot_load_is_not_restarted() -> None:
    worker = Child("worker", crasher(os.EX_CONFIG, after=2.0), essential=False)
    runner, lines = supervisor(Child("api", SLEEPER), worker, backoff=(0.05, 0.1))
    runner.start()
    thread, result = supervise_in_background(runner)
    try:
        wait_until(lambda: runner.serving, timeout=30, what="supervising")  # restarts would be on
        assert worker.returncode is None
        wait_until(lambda: worker.returncode is not None, timeout=30, what="the worker exits")
        wait_until(lambda: any("the others keep running" in line for line in lines), timeout=30)
        # the decision is made with the report: no restart is scheduled, none was announced
        assert worker.restart_at is None
        assert not any("restart" in line for line in lines), lines
        assert worker.returncode == os.EX_CONFIG and thread.is_alive()  # the api serves on
    finally:
        runner.request_stop()
        thread.join(timeout=10)
    assert result == [None]
    runner.stop()


def test_a_child_that_dies_is_named_and_the_others_are_stopped() -> None:
    runner, lines = supervisor(
        Child("api", SLEEPER), Child("worker", crasher(3), restart=False), Child("ui", SLEEPER)
    )
    runner.start()
    dead = runner.supervise()
    assert dead is not None and (dead.name, dead.returncode) == ("worker", 3)
    statuses = runner.stop()
    assert statuses["worker"] == 3
    assert statuses["api"] is not None and statuses["ui"] is not None  # stopped, not left running
    assert "worker | boom\n" in lines  # output relayed, prefixed with the child's name


def test_a_non_essential_child_that_dies_is_reported_and_the_others_keep_serving() -> None:
    worker = Child("worker", crasher(1, after=0.1), essential=False)
    runner, lines = supervisor(Child("api", SLEEPER), worker)
    runner.start()
    deadline = time.monotonic() + 10
    while worker.returncode is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert runner.dead_child() is None
    assert runner.dead_child() is None  # reported once only
    notes = [line for line in lines if line.startswith("worker exited with status 1")]
    assert len(notes) == 1 and "the others keep running" in notes[0]
    statuses = runner.stop()
    assert statuses == {"api": statuses["api"], "worker": 1}
    assert statuses["api"] is not None


def test_stop_request_stops_every_child_and_kills_the_stubborn_one() -> None:
    runner, lines = supervisor(Child("api", SLEEPER), Child("stubborn", STUBBORN), grace=1.5)
    runner.start()
    deadline = time.monotonic() + 10
    while not any("up" in line for line in lines) and time.monotonic() < deadline:
        time.sleep(0.05)  # the stubborn child has installed its SIGINT handler
    runner.request_stop()
    assert runner.supervise() is None
    started = time.monotonic()
    statuses = runner.stop()
    assert time.monotonic() - started < 8
    assert statuses["api"] is not None and statuses["stubborn"] == -9
    assert any("stubborn did not stop within 2 s: killing it" in line for line in lines)


def test_wait_healthy_returns_a_child_that_died_during_startup() -> None:
    runner, _ = supervisor(Child("api", crasher(1, after=0.1), health_url="http://unused"))
    runner.start()
    dead = runner.wait_healthy(timeout=20, probe=lambda url: False)
    runner.stop()
    assert dead is not None and dead.name == "api"


def test_wait_healthy_names_what_never_answered() -> None:
    runner, _ = supervisor(Child("api", SLEEPER, "http://a"), Child("ui", SLEEPER, "http://u"))
    runner.start()
    try:
        with pytest.raises(TimeoutError, match=r"^ui did not become healthy"):
            runner.wait_healthy(timeout=0.5, probe=lambda url: url == "http://a")
    finally:
        runner.stop()


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def test_ports_in_use_are_reported_with_what_to_do(taken_port: int) -> None:
    with pytest.raises(PortInUse, match=f"Port {taken_port} on 127.0.0.1 is already in use.*--api-port"):
        ensure_port_free("127.0.0.1", taken_port, "API", "--api-port")


@pytest.mark.parametrize("option", ["--api-port", "--ui-port"])
def test_up_refuses_a_taken_port_before_starting_anything(
    option: str, taken_port: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("THREEKCAL_ENV", "development")
    monkeypatch.setenv("THREEKCAL_DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite'}")
    result = CliRunner().invoke(app, ["up", option, str(taken_port)])
    assert result.exit_code == 2
    output = " ".join(result.output.split())
    assert f"Port {taken_port} on 127.0.0.1 is already in use" in output and option in output
    assert not (tmp_path / "db.sqlite").exists()  # nothing was started or migrated


def test_up_refuses_a_configuration_it_cannot_use(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("THREEKCAL_ENV", "production")
    monkeypatch.delenv("THREEKCAL_ADMIN_TOKEN", raising=False)
    result = CliRunner().invoke(app, ["up"])
    assert result.exit_code == 2
    assert "THREEKCAL_ADMIN_TOKEN" in " ".join(result.output.split())


def test_api_in_development_prints_the_token_it_accepts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    served: list[str] = []
    monkeypatch.setattr(uvicorn, "run", lambda target, **_: served.append(target))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("THREEKCAL_ENV", "development")
    monkeypatch.delenv("THREEKCAL_ADMIN_TOKEN", raising=False)
    monkeypatch.setenv("THREEKCAL_VAR_DIR", str(tmp_path / "var"))
    result = CliRunner().invoke(app, ["api", "--port", "0"])
    assert result.exit_code == 0, result.output
    token = (tmp_path / "var" / "admin-token").read_text().strip()
    assert len(token) >= 16 and token in result.output.replace("\n", "")
    assert served == ["threekcal.api:create_app"]


def child_pids(parent: int) -> dict[int, str]:
    """pid -> command line of the processes whose parent is ``parent`` (from /proc)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
            found[int(entry.name)] = command
    return found


@pytest.mark.slow
def test_up_restarts_a_killed_api_and_it_serves_again(tmp_path: Path) -> None:
    stack = start_stack(tmp_path, model_dir=None, extra_args=("--no-worker",))
    try:
        (api_pid,) = [pid for pid, command in child_pids(stack.process.pid).items() if " api " in command]
        os.kill(api_pid, signal.SIGKILL)
        wait_until(lambda: "api restarted (attempt 1 of 5)" in stack.log(), what="up restarts the api")
        assert "api exited with status -9; restarting it in 1 s (attempt 1 of 5)." in stack.log()

        def serves() -> bool:
            try:
                return httpx.get(f"{stack.api_url}/health", timeout=5).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(serves, what="the restarted api answers")
        comment = {"request_user": "minji", "comments": "still there?"}
        assert httpx.post(f"{stack.api_url}/comments", json=comment, timeout=10).status_code == 201
        assert stack.process.poll() is None  # up kept serving all along
        (new_pid,) = [pid for pid, command in child_pids(stack.process.pid).items() if " api " in command]
        assert new_pid != api_pid
    finally:
        try:
            stack.stop()
        except subprocess.TimeoutExpired:
            stack.process.kill()
