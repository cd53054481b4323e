"""Old Idempotency-Keys are deleted by the API itself, at most once per interval and by one request
thread at a time, after its own answer is settled."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError

from threekcal.db import idempotency
from threekcal.db.session import session_factory
from threekcal.db.types import utcnow
from threekcal.settings import Settings

log = logging.getLogger(__name__)

PRUNE_EVERY_SECONDS = 300.0  # the keys table holds a day of submissions; a few minutes more cost nothing


class Pruner:
    def __init__(self, every_seconds: float = PRUNE_EVERY_SECONDS) -> None:
        self.every_seconds = every_seconds
        self._next = 0.0
        self._lock = threading.Lock()

    def maybe_prune(self, settings: Settings) -> int:
        now = time.monotonic()
        if now < self._next or not self._lock.acquire(blocking=False):
            return 0
        try:
            self._next = now + self.every_seconds
            cutoff = utcnow() - timedelta(hours=settings.idempotency_ttl_hours)
            with session_factory(settings.database_url, settings.db_timeout)() as session:
                return idempotency.prune_expired(session, cutoff)
        except SQLAlchemyError as error:  # the comment is stored; pruning waits for the next interval
            log.warning("pruning idempotency keys failed: %s", type(error).__name__)
            return 0
        finally:
            self._lock.release()
