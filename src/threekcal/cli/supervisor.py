"""Runs the servers of ``threekcal up`` as child processes: starts them, relays their output with
their names, waits until they are healthy, restarts one that dies (with backoff, a bounded number of
times, each attempt reported), and stops all of them together."""

from __future__ import annotations

import contextlib
import os
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
MAX_RESTARTS = 5
"""Restarts of one child in a row (without a stable run between them) before it is given up."""
RESTART_BACKOFF = (1.0, 30.0)
"""Seconds before the first restart, doubling with each further attempt, up to the second figure."""
STABLE_SECONDS = 60.0
"""A child that ran this long since its last start has its count of restarts in a row reset."""
NO_RESTART_CODES = frozenset({os.EX_CONFIG})
"""Exit statuses that a restart cannot fix (the worker's model cannot load: EX_CONFIG)."""


@dataclass
class Child:
    name: str
    command: Sequence[str]
    health_url: str | None = None
    # A child that is not essential may stop (the worker without its model) while the others serve on.
    essential: bool = True
    # Restarted when it dies, unless it exits with one of these statuses (then it is left down).
    restart: bool = True
    no_restart_codes: frozenset[int] = NO_RESTART_CODES
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    reported: bool = field(default=False, repr=False)
    restarts: int = field(default=0, repr=False)  # restarts in a row
    started_at: float = field(default=0.0, repr=False)
    restart_at: float | None = field(default=None, repr=False)  # when the pending restart is due

    @property
    def returncode(self) -> int | None:
        return None if self.process is None else self.process.poll()


if sys.platform == "linux":
    import ctypes

    # Looked up in the parent: between fork and exec (while relay threads run) the child only calls it.
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the child gets SIGTERM if ``threekcal up`` itself is killed (kill -9), so no server lingers."""
    _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


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
        max_restarts: int = MAX_RESTARTS,
        backoff: tuple[float, float] = RESTART_BACKOFF,
        stable_seconds: float = STABLE_SECONDS,
    ) -> None:
        self.children = list(children)
        self.env = dict(env)
        self.grace = grace
        self.max_restarts = max_restarts
        self.backoff = backoff
        self.stable_seconds = stable_seconds
        self._width = max((len(child.name) for child in self.children), default=0)
        # Restarts begin once everything has served (supervise): a child that dies while starting up
        # has a problem a restart will not fix, and `up` says so and stops.
        self.serving = False
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
        for child in self.children:
            self._spawn(child)
        # Readers start after every fork (see _die_with_parent).
        for child in self.children:
            self._read(child)

    def _spawn(self, child: Child) -> None:
        child.process = subprocess.Popen(
            child.command,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            process_group=0,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        child.started_at = time.monotonic()
        child.restart_at = None
        child.reported = False

    def _read(self, child: Child) -> None:
        assert child.process is not None and child.process.stdout is not None
        reader = threading.Thread(
            target=self._relay, args=(child.name.ljust(self._width), child.process.stdout), daemon=True
        )
        reader.start()
        self._readers.append(reader)

    def _relay(self, prefix: str, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            self._write(f"{prefix} | {raw.decode(errors='replace').rstrip()}\n")
        stream.close()

    def dead_child(self) -> Child | None:
        """The first essential child that exited and will not be restarted; a child that will be is
        reported and restarted when its backoff has passed; a non-essential one that will not be is
        reported once and left out."""
        now = time.monotonic()
        for child in self.children:
            code = child.returncode
            if code is None:
                continue
            if child.restart_at is None and not child.reported:
                self._schedule_restart(child, code, now)
            if child.restart_at is not None:
                if now >= child.restart_at and not self.stop_requested.is_set():
                    self._restart(child)
                continue
            if child.essential:
                return child
        return None

    def _schedule_restart(self, child: Child, code: int, now: float) -> None:
        """Decide, once per exit, whether ``child`` comes back, and say so."""
        child.reported = True
        if now - child.started_at >= self.stable_seconds:
            child.restarts = 0  # it served a while: a new run of failures starts
        if not self.serving or not child.restart or code in child.no_restart_codes:
            if not child.essential:
                self._write(
                    f"{child.name} exited with status {code} (its message is above); the others keep "
                    f"running. Comments wait for a prediction until `threekcal {child.name}` runs.\n"
                )
            return
        if child.restarts >= self.max_restarts:
            self._write(
                f"{child.name} exited with status {code}; it was restarted {child.restarts} times in a row "
                f"without staying up, so it is not restarted again.\n"
            )
            if not child.essential:
                self._write(f"{child.name} stays down; the others keep running.\n")
            return
        first, longest = self.backoff
        delay = min(longest, first * 2**child.restarts)
        child.restarts += 1
        child.restart_at = now + delay
        self._write(
            f"{child.name} exited with status {code}; restarting it in {delay:g} s "
            f"(attempt {child.restarts} of {self.max_restarts}).\n"
        )

    def _restart(self, child: Child) -> None:
        try:
            self._spawn(child)
        except OSError as exc:
            child.restart_at = None
            self._write(f"{child.name} could not be restarted: {exc}\n")
            return
        self._read(child)
        self._write(f"{child.name} restarted (attempt {child.restarts} of {self.max_restarts}).\n")

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
        """Block until a stop is requested (returns None) or a child exits for good (returns it)."""
        self.serving = True
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
