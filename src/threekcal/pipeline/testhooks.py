"""A test-only hook to stop a pipeline step at a named point, so a test can kill it there.

``THREEKCAL_TEST_PAUSE_AT=<point>`` makes the step announce itself on stderr
(``THREEKCAL_TEST_PAUSED <point>``) and sleep, waiting for the test's SIGKILL. Unset (always, outside
the crash tests) it does nothing. Points: see ``PAUSE_POINTS``.
"""

from __future__ import annotations

import os
import sys
import time

PAUSE_ENV = "THREEKCAL_TEST_PAUSE_AT"
PAUSE_POINTS = (
    "predict:log-written",  # temporary log file complete and fsynced, batch not registered yet
    "predict:registered",  # batch row committed, log not yet renamed into place
    "apply:chunk-committed",  # first chunk of a log committed, more chunks to go
    "apply:before-commit",  # last chunk and 'applied' written, transaction not committed yet
)


def pause_point(point: str) -> None:
    if os.environ.get(PAUSE_ENV) != point:
        return
    print(f"THREEKCAL_TEST_PAUSED {point}", file=sys.stderr, flush=True)
    while True:  # until killed
        time.sleep(3600)
