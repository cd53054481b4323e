"""Runs the servers of ``threekcal up`` as child processes: starts them, relays their output with
their names, waits until they are healthy, and stops all of them together."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import IO

STOP_GRACE_SECONDS = 20.0
"""How long children get to finish their work after Ctrl-C before they are killed."""


@dataclass
class Child:
    name: str
    command: Sequence[str]
    health_url: str | None = None
    # A child that is not essential may stop (the worker without its model) while the others serve on.
    essential: bool = True
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    reported: bool = field(default=False, repr=False)

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.poll()


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the child gets SIGTERM if ``threekcal up`` itself is killed (kill -9), so no server lingers."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class Supervisor:
    """Starts child processes, waits until they are healthy, and stops all of them together.

    Children run in their own process group, so the terminal's Ctrl-C reaches only this process, which
    then asks each child once (SIGINT) to stop and waits for it; a child still running after
    ``grace`` seconds is killed.
    """

    def __init__(
        self,
        children: Sequence[Child],
        *,
        env: Mapping[str, str],
        grace: float = STOP_GRACE_SECONDS,
        write: Callable[[str], None] | None = None,
    ) -> None:
        self.children = list(children)
        self.env = dict(env)
        self.grace = grace
        self.stop_requested = threading.Event()
        self._write = write or self._write_stdout
        self._output_lock = threading.Lock()
        self._readers: list[threading.Thread] = []

    def _write_stdout(self, line: str) -> None:
        with self._output_lock:
            sys.stdout.write(line)
            sys.stdout.flush()

    def request_stop(self, signum: int | None = None, _frame: FrameType | None = None) -> None:
        self.stop_requested.set()

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGINT, self.request_stop)
        signal.signal(signal.SIGTERM, self.request_stop)

    def start(self) -> None:
        width = max(len(child.name) for child in self.children)
        for child in self.children:
            child.process = subprocess.Popen(
                child.command,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                process_group=0,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        # Readers start after every fork: preexec_fn must not run while other threads hold locks.
        for child in self.children:
            assert child.process is not None and child.process.stdout is not None
            reader = threading.Thread(
                target=self._relay, args=(child.name.ljust(width), child.process.stdout), daemon=True
            )
            reader.start()
            self._readers.append(reader)

    def _relay(self, prefix: str, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            self._write(f"{prefix} | {raw.decode(errors='replace').rstrip()}\n")
        stream.close()

    def dead_child(self) -> Child | None:
        """The first essential child that exited; a non-essential one is reported once and left out."""
        for child in self.children:
            if child.returncode is None:
                continue
            if child.essential:
                return child
            if not child.reported:
                child.reported = True
                self._write(
                    f"{child.name} exited with status {child.returncode} (its message is above); the others "
                    f"keep running. Comments wait for a prediction until `threekcal {child.name}` runs.\n"
                )
        return None

    def wait_healthy(self, timeout: float, probe: Callable[[str], bool] | None = None) -> Child | None:
        """Wait until every child with a health URL answers; returns a child that died meanwhile.

        Raises TimeoutError naming the children that never became healthy.
        """
        probe = probe or http_ok
        waiting = [child for child in self.children if child.health_url]
        deadline = time.monotonic() + timeout
        while waiting:
            if self.stop_requested.is_set():
                return None
            dead = self.dead_child()
            if dead is not None:
                return dead
            waiting = [child for child in waiting if not probe(child.health_url or "")]
            if waiting and time.monotonic() > deadline:
                names = ", ".join(child.name for child in waiting)
                raise TimeoutError(f"{names} did not become healthy within {timeout:.0f} s")
            if waiting:
                self.stop_requested.wait(0.25)
        return None

    def supervise(self) -> Child | None:
        """Block until a stop is requested (returns None) or a child exits (returns it)."""
        while not self.stop_requested.wait(0.25):
            dead = self.dead_child()
            if dead is not None:
                return dead
        return None

    def stop(self) -> dict[str, int | None]:
        """Ask every running child to stop, wait for all, kill those past the grace period."""
        running = [child for child in self.children if child.process is not None and child.returncode is None]
        for child in running:
            with contextlib.suppress(ProcessLookupError):
                assert child.process is not None
                child.process.send_signal(signal.SIGINT)
        deadline = time.monotonic() + self.grace
        for child in running:
            assert child.process is not None
            try:
                child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self._write(f"{child.name} did not stop within {self.grace:.0f} s: killing it\n")
                child.process.kill()
                child.process.wait()
        for reader in self._readers:
            reader.join(timeout=2)
        return {child.name: child.returncode for child in self.children}


def http_ok(url: str) -> bool:
    import httpx

    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False
