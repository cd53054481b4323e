"""Exception handlers: every error is ``{"detail": ...}`` with a status the OpenAPI document lists."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc

from threekcal.api.schemas import ErrorOut

log = logging.getLogger(__name__)

DB_RETRY_AFTER_SECONDS = 5

# OpenAPI descriptions of the error statuses; routes list the ones they can answer.
ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "Malformed JSON body, or an invalid cursor",
    401: "Sign in first (Authorization: Bearer <token>), or the token is invalid or expired, or the "
    "account is disabled",
    403: "Your role may not do this",
    404: "Not found",
    409: "Conflicts with the current state (comment already complete, no disagreement, prediction "
    "differs; model version already active, nothing to roll back to)",
    413: "Request body too large",
    429: "Too many requests: wait Retry-After seconds (RateLimit-* headers say the limit)",
    503: "Database unavailable (retry later), or a dependency not ready",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route. 413 is on every route, since the body limit applies to any request, and
    429 on admin routes;
    422 is documented by FastAPI itself with its validation schema."""
    # wrong tokens are throttled per address
    always = {413, 429} if 401 in codes or 403 in codes else {413}
    return {
        code: {"model": ErrorOut, "description": ERROR_DESCRIPTIONS[code]}
        for code in sorted({*codes, *always})
    }


DATABASE_UNAVAILABLE = "Database unavailable: retry later"


def database_error_code(error: BaseException) -> str:
    """What a log line may say about a database error: its class and the driver's error number. Never the
    message: it can quote the SQL, its values (comment text, names, receipts) or the server's host."""
    original = getattr(error, "orig", None) or error
    args = getattr(original, "args", ())
    code = f" {args[0]}" if args and isinstance(args[0], int) else ""
    return f"{type(original).__name__}{code}"


def database_unavailable() -> JSONResponse:
    return JSONResponse(
        status_code=503,
        content={"detail": DATABASE_UNAVAILABLE},
        headers={"Retry-After": str(DB_RETRY_AFTER_SECONDS)},
    )


async def _database_error(request: Request, error: Exception) -> JSONResponse:
    log.warning(
        "database unavailable on %s %s: %s", request.method, route_path(request), database_error_code(error)
    )
    return database_unavailable()


def route_path(request: Request) -> str:
    """The route's template (/comments/by-receipt/{receipt}), never the path that holds the values."""
    route = request.scope.get("route")
    return getattr(route, "path", None) or "(no route)"


async def _dbapi_error(request: Request, error: Exception) -> JSONResponse:
    """A lost connection shows up as a DBAPIError flagged connection_invalidated; anything else is a bug."""
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return await _database_error(request, error)
    raise error


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    for item in error.errors():
        if item.get("type") == "json_invalid":
            reason = item.get("ctx", {}).get("error", "invalid JSON")
            position = item.get("loc", ("body", None))[-1]
            where = f" at character {position}" if isinstance(position, int) else ""
            return JSONResponse(status_code=400, content={"detail": f"Malformed JSON body: {reason}{where}"})
    if _has_surrogates(error.errors()):
        # the echoed input holds lone surrogates, which UTF-8 cannot carry: show them as U+FFFD
        return JSONResponse(status_code=422, content={"detail": _scrub(jsonable_encoder(error.errors()))})
    return await request_validation_exception_handler(request, error)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return (
            value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
            if _has_surrogates(value)
            else value
        )
    if isinstance(value, dict):
        return {key: _scrub(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(item) for item in value]
    return value


def _has_surrogates(value: Any) -> bool:
    if isinstance(value, str):
        return any("\ud800" <= char <= "\udfff" for char in value)
    if isinstance(value, dict):
        return any(_has_surrogates(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(_has_surrogates(item) for item in value)
    return False


def validation_error(field: tuple[str, ...], message: str, value: Any) -> RequestValidationError:
    """A 422 in FastAPI's own shape for checks done in a route."""
    return RequestValidationError(
        [{"type": "value_error", "loc": field, "msg": message, "input": jsonable_encoder(value)}]
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    for error_type in (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError):
        app.add_exception_handler(error_type, _database_error)
    app.add_exception_handler(sa_exc.DBAPIError, _dbapi_error)
