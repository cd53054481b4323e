"""The FastAPI application."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

import threekcal
from threekcal.api import errors, logprivacy
from threekcal.api.idempotency_pruning import Pruner
from threekcal.api.middleware import BodySizeLimitMiddleware, DeadlineMiddleware, InvalidUtf8JsonMiddleware
from threekcal.api.ratelimit import RateLimiter
from threekcal.api.routes import auth, comments, export, labels, models, stats, system, users
from threekcal.db.stats import StatsCache
from threekcal.settings import Settings, get_settings

DESCRIPTION = """
Collects short texts and serves their emotion predictions, labels and statistics.

Sign in with `POST /auth/login` (username, password) and send `Authorization: Bearer <access_token>`;
personal API tokens (`threekcal users token`) and the service token THREEKCAL_ADMIN_TOKEN (account
`admin`) work the same way. Annotators browse the queue, label and undo their own changes; admins also
bulk accept, undo anyone's change, export, see per-user statistics and agreement, resolve disagreements.
`GET /comments/{num}` sends an ETag; send it back as `If-Match` when labelling (412 when stale).
Errors are `{"detail": ...}`; a database that is down or stuck answers 503 with Retry-After within
THREEKCAL_DB_TIMEOUT seconds, and the server recovers by itself when it is back.
Too many requests answer 429 with Retry-After and RateLimit-Limit/-Remaining/-Reset headers.
"""


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    """While the server runs, what it imported and built before its first request is kept out of the
    garbage collector's full passes: they walked those ~200,000 objects, each time stalling one request
    for about 100 ms (one /stats in a hundred, bench/scale.py), while none of them ever becomes garbage.
    Let go again at shutdown, so that a process running many apps (the tests) can still free them. (No
    collection first: it would cost each start those 100 ms; the little garbage frozen with them waits.)"""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app for ``settings`` (default: the environment); ``uvicorn --factory threekcal.api:create_app``."""
    settings = settings or get_settings()
    app = FastAPI(
        title="ThreeKcal API",
        version=getattr(threekcal, "__version__", "0.1.0"),
        description=DESCRIPTION,
        # THREEKCAL_PUBLIC_DOCS (default: off in production only)
        docs_url="/docs" if settings.docs_enabled() else None,
        redoc_url="/redoc" if settings.docs_enabled() else None,
        openapi_url="/openapi.json" if settings.docs_enabled() else None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.stats_cache = StatsCache(min_interval=settings.stats_max_staleness)
    app.state.rate_limiter = RateLimiter(settings)
    app.state.idempotency_pruner = Pruner()
    errors.install(app)
    logprivacy.install()
    # export before comments: GET /comments/export, not GET /comments/{num}
    for module in (auth, export, comments, labels, stats, users, system, models):
        app.include_router(module.router)
    app.add_middleware(InvalidUtf8JsonMiddleware)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(
        DeadlineMiddleware,
        seconds=settings.db_timeout,
        retry_after=errors.DB_RETRY_AFTER_SECONDS,
        detail=errors.DATABASE_UNAVAILABLE,
    )
    return app
