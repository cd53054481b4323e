"""Waiting on a condition polled from outside, with a generous bound (never a fixed sleep)."""

from __future__ import annotations

import time
from collections.abc import Callable

WAIT_SECONDS = 180  # generous: a loaded 2-core machine starts Spark, a model or a server slowly


def wait_until(condition: Callable[[], bool], timeout: float = WAIT_SECONDS, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached in {timeout} s: {what}")
        time.sleep(0.1)
