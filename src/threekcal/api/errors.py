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
    401: "Admin token required: send Authorization: Bearer <token>",
    403: "Admin token is not valid",
    404: "Not found",
    409: "Conflicts with the current state (e.g. the version is already active)",
    413: "Request body too large",
    503: "Database unavailable (retry later), or a dependency not ready",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route. 413 is on every route, since the body limit applies to any request;
    422 is documented by FastAPI itself with its validation schema."""
    return {
        code: {"model": ErrorOut, "description": ERROR_DESCRIPTIONS[code]} for code in sorted({*codes, 413})
    }


def database_error_reason(error: BaseException) -> str:
    """The driver's own words (pymysql: (code, message); sqlite3: message), without the SQL."""
    original = getattr(error, "orig", None) or error
    args = getattr(original, "args", ())
    if len(args) >= 2 and isinstance(args[0], int):
        return str(args[1])
    if args:
        return str(args[0])
    return type(original).__name__


def database_unavailable(error: BaseException) -> JSONResponse:
    return JSONResponse(
        status_code=503,
        content={"detail": f"Database unavailable: {database_error_reason(error)}"},
        headers={"Retry-After": str(DB_RETRY_AFTER_SECONDS)},
    )


async def _database_error(request: Request, error: Exception) -> JSONResponse:
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path, error)
    return database_unavailable(error)


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
    return await request_validation_exception_handler(request, error)


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
