"""Named points inside the pipeline steps where a caller may look in (``Checkpoint``).

The steps call ``checkpoint(name)`` at each point below; the default does nothing. Tests pass their own
callable, e.g. one that pauses there so a test can kill the process at that exact moment
(``tests/pipeline/paused_worker.py``). Nothing in the product reads the environment for this.
"""

from __future__ import annotations

from collections.abc import Callable

Checkpoint = Callable[[str], None]

PREDICT_LOG_WRITTEN = "predict:log-written"  # temporary log complete and fsynced, batch not registered
PREDICT_REGISTERED = "predict:registered"  # batch row committed, log not yet renamed into place
APPLY_CHUNK_COMMITTED = "apply:chunk-committed"  # a chunk of a log committed, more chunks to go
APPLY_BEFORE_COMMIT = "apply:before-commit"  # 'applied' written, transaction not committed yet

CHECKPOINTS = (PREDICT_LOG_WRITTEN, PREDICT_REGISTERED, APPLY_CHUNK_COMMITTED, APPLY_BEFORE_COMMIT)


def no_checkpoint(_point: str) -> None:
    """The default: carry on."""
