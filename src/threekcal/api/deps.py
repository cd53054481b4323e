"""Dependencies: settings, database session, admin identity."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic_core import PydanticCustomError
from sqlalchemy.orm import Session

from threekcal.api import ratelimit
from threekcal.api.errors import validation_error
from threekcal.api.schemas import check_admin_name
from threekcal.db.labels import DEFAULT_ADMIN_NAME
from threekcal.db.models import MAX_USER_CHARS
from threekcal.db.session import session_factory
from threekcal.settings import Settings

ADMIN_TOKEN_REQUIRED = "Admin token required: send Authorization: Bearer <token>"
ADMIN_TOKEN_INVALID = "Admin token is not valid"


async def get_settings(request: Request) -> Settings:
    # async: no I/O here, and an async dependency costs no threadpool round trip
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def open_session(settings: Settings) -> Session:
    return session_factory(settings.database_url)()


def get_session(settings: SettingsDep) -> Iterator[Session]:
    with open_session(settings) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]

_bearer = HTTPBearer(auto_error=False, description="The admin token (THREEKCAL_ADMIN_TOKEN).")


@dataclass(frozen=True)
class Admin:
    name: str


AUTH_FAILURES = "auth-failure"


async def require_admin(
    request: Request,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    x_admin_name: Annotated[
        str | None,
        Header(
            max_length=MAX_USER_CHARS,
            description="Who is labelling, recorded in the audit (default: admin).",
        ),
    ] = None,
) -> Admin:
    """401 without a bearer token, 403 with a wrong one; compared in constant time."""
    if credentials is None or not credentials.credentials:
        raise HTTPException(
            status_code=401, detail=ADMIN_TOKEN_REQUIRED, headers={"WWW-Authenticate": "Bearer"}
        )
    address = ratelimit.client_address(request)
    ratelimit.refuse_if_exhausted(request, settings.auth_failure_rate_limit, AUTH_FAILURES, address)
    expected = settings.admin_token_value().encode()
    if not secrets.compare_digest(credentials.credentials.encode(), expected):
        ratelimit.hit(request, settings.auth_failure_rate_limit, AUTH_FAILURES, address)
        raise HTTPException(status_code=403, detail=ADMIN_TOKEN_INVALID)
    if x_admin_name is None or not x_admin_name.strip():
        return Admin(DEFAULT_ADMIN_NAME)
    # header values arrive as latin-1; clients send UTF-8 bytes for names such as 김민지
    with contextlib.suppress(UnicodeError):
        x_admin_name = x_admin_name.encode("latin-1").decode("utf-8")
    try:
        return Admin(check_admin_name(x_admin_name))
    except PydanticCustomError as error:
        raise validation_error(("header", "x-admin-name"), error.message(), x_admin_name) from None


AdminDep = Annotated[Admin, Depends(require_admin)]
