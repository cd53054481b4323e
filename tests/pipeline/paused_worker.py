"""Test-side entry point: the real worker, with a checkpoint that pauses at one named point.

    python paused_worker.py POINT [APPLY_CHUNK_SIZE]

Settings come from the environment (THREEKCAL_*), as for ``threekcal worker``. When the worker reaches
POINT it prints ``PAUSED <point>`` on stderr and sleeps until the test kills it (SIGKILL): the crash
tests kill the process at that exact moment. The product has no switch for this; the test injects it.
"""

from __future__ import annotations

import sys
import time

from threekcal.model import load_classifier
from threekcal.pipeline.checkpoints import CHECKPOINTS
from threekcal.pipeline.worker import run_worker
from threekcal.settings import get_settings

PAUSED = "PAUSED"


def pause_at(point: str):  # type: ignore[no-untyped-def]
    def checkpoint(reached: str) -> None:
        if reached != point:
            return
        print(f"{PAUSED} {reached}", file=sys.stderr, flush=True)
        while True:  # until killed
            time.sleep(3600)

    return checkpoint


def main(argv: list[str]) -> int:
    point = argv[0]
    if point not in CHECKPOINTS:
        print(f"unknown checkpoint {point!r}; one of {CHECKPOINTS}", file=sys.stderr)
        return 2
    chunk = int(argv[1]) if len(argv) > 1 else 4
    settings = get_settings()
    classifier = load_classifier(settings=settings)
    return run_worker(settings, classifier, apply_chunk_size=chunk, checkpoint=pause_at(point))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
