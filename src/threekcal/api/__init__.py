"""HTTP API. ``create_app(settings)`` builds the app; ``threekcal.api:app`` builds one lazily from the
environment on first access, so importing this package reads no configuration."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from threekcal.api.main import create_app

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["app", "create_app"]


@cache
def _default_app() -> FastAPI:
    return create_app()


def __getattr__(name: str) -> Any:
    if name == "app":
        return _default_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
