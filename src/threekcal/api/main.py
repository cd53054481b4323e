"""The FastAPI application."""

from __future__ import annotations

from fastapi import FastAPI

import threekcal
from threekcal.api import errors
from threekcal.api.middleware import BodySizeLimitMiddleware
from threekcal.api.routes import comments, export, labels, models, stats, system, users
from threekcal.db.stats import StatsCache
from threekcal.settings import Settings, get_settings

DESCRIPTION = """
Collects short texts and serves their emotion predictions, labels and statistics.

Admin routes need `Authorization: Bearer <token>` (THREEKCAL_ADMIN_TOKEN); `X-Admin-Name` optionally
names who labels. Errors are `{"detail": ...}`; a database that is down answers 503 and the server
recovers by itself when it is back.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app for ``settings`` (default: the environment); ``uvicorn --factory threekcal.api:create_app``."""
    settings = settings or get_settings()
    app = FastAPI(
        title="ThreeKcal API",
        version=getattr(threekcal, "__version__", "0.1.0"),
        description=DESCRIPTION,
    )
    app.state.settings = settings
    app.state.stats_cache = StatsCache()
    errors.install(app)
    for module in (comments, labels, stats, users, export, system, models):
        app.include_router(module.router)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    return app
