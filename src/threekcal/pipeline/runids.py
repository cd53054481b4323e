"""Run ids name a prediction log, its batch row and its quarantine file.

The worker and the command line make time-ordered ids, so log files sort by creation time. Airflow's
run ids (``scheduled__2026-11-24T12:00:00+00:00``) contain ``:`` and ``+``, which Hadoop paths (Spark
reads the logs through them) cannot hold: ``run_id_for`` maps them to a safe id, always the same one
for the same Airflow run, so a retried task finds its own log.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime

RUN_ID_MAX_CHARS = 64  # prediction_batches.run_id
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_HASH_CHARS = 8


def new_run_id(prefix: str) -> str:
    """``<prefix>__<UTC time to the microsecond>Z_<random>``: unique and sortable by time."""
    return check_run_id(f"{prefix}__{datetime.now(UTC):%Y%m%dT%H%M%S%f}Z_{secrets.token_hex(3)}")


def run_id_for(external_id: str) -> str:
    """A safe run id derived from another system's (Airflow's) run id; the same input, the same id."""
    if _RUN_ID.fullmatch(external_id) and len(external_id) <= RUN_ID_MAX_CHARS:
        return external_id
    digest = hashlib.sha256(external_id.encode()).hexdigest()[:_HASH_CHARS]
    readable = _UNSAFE.sub("-", external_id).lstrip("._-")[: RUN_ID_MAX_CHARS - _HASH_CHARS - 1]
    return check_run_id(f"{readable}_{digest}" if readable else digest)


def check_run_id(run_id: str) -> str:
    """The run id itself, or ValueError saying why it cannot name a log file."""
    if len(run_id) > RUN_ID_MAX_CHARS or not _RUN_ID.fullmatch(run_id):
        raise ValueError(
            f"run id {run_id!r} is not usable: at most {RUN_ID_MAX_CHARS} characters of letters, digits"
            " and . _ - (starting with a letter or digit)"
        )
    return run_id
