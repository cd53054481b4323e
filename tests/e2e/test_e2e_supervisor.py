"""How `threekcal up` runs its children: one dying stops the rest, Ctrl-C stops all, ports in use are named.

The children here are small Python programs, so these tests take seconds and need no server.
"""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from threekcal.cli import app
from threekcal.cli.server import PortInUse, ensure_port_free
from threekcal.cli.supervisor import Child, Supervisor

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


def supervisor(*children: Child, grace: float = 10) -> tuple[Supervisor, list[str]]:
    lines: list[str] = []
    return Supervisor(children, env={"PATH": "/usr/bin:/bin"}, grace=grace, write=lines.append), lines


def test_a_child_that_dies_is_named_and_the_others_are_stopped() -> None:
    runner, lines = supervisor(Child("api", SLEEPER), Child("worker", crasher(3)), Child("ui", SLEEPER))
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
