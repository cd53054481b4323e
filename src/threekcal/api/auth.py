"""Who is calling: a bearer token (signed login token, personal API token, the service token) to an
account. What an account may do is in api/policy.py; the login route is in api/routes/auth.py."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

import jwt
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from threekcal.api import ratelimit
from threekcal.db import accounts
from threekcal.db.models import User
from threekcal.db.types import utcnow
from threekcal.settings import Settings

ALGORITHM = "HS256"
TOKEN_TYPE = "access"
AUTH_FAILURES = "auth-failure"  # wrong tokens, counted per client address (shared with issue 9's limiter)

CREDENTIALS_REQUIRED = "Sign in first: send Authorization: Bearer <token> (POST /auth/login gives one)"
TOKEN_INVALID = "The token is not valid"
TOKEN_EXPIRED = "The token has expired: sign in again"
ACCOUNT_DISABLED = "This account is disabled"

_bearer = HTTPBearer(
    auto_error=False,
    description="A login token (POST /auth/login), a personal API token (threekcal users token), "
    "or the service token THREEKCAL_ADMIN_TOKEN (account `admin`).",
)
CredentialsDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


@dataclass(frozen=True)
class Principal:
    """The authenticated account of a request."""

    id: int
    username: str
    role: str

    @classmethod
    def of(cls, user: User) -> Principal:
        return cls(id=user.id, username=user.username, role=user.role)


def unauthorized(detail: str) -> HTTPException:
    return HTTPException(status_code=401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


def issue_access_token(settings: Settings, user: User) -> str:
    now = utcnow()
    claims = {
        "sub": user.username,
        "uid": user.id,
        "role": user.role,
        "typ": TOKEN_TYPE,
        "iat": now,
        "exp": now + timedelta(minutes=settings.access_token_minutes),
    }
    return jwt.encode(claims, settings.secret_key_value(), algorithm=ALGORITHM)


def _user_of_token(session: Session, settings: Settings, token: str) -> User | None:
    """The account a bearer token stands for, or None when it is not valid; 401 when expired."""
    if settings.admin_token and secrets.compare_digest(token.encode(), settings.admin_token_value().encode()):
        return accounts.service_account(session)
    if token.startswith(accounts.PERSONAL_TOKEN_PREFIX):
        return accounts.user_for_personal_token(session, token)
    try:
        claims = jwt.decode(
            token,
            settings.secret_key_value(),
            algorithms=[ALGORITHM],
            options={"require": ["exp", "sub", "uid"]},
        )
    except jwt.ExpiredSignatureError:
        raise unauthorized(TOKEN_EXPIRED) from None
    except jwt.InvalidTokenError:
        return None
    user = session.get(User, claims["uid"])
    if user is None or user.username != claims["sub"] or claims.get("typ") != TOKEN_TYPE:
        return None
    return user


def principal_from(
    request: Request, session: Session, settings: Settings, credentials: HTTPAuthorizationCredentials | None
) -> Principal:
    """The caller's account; 401 without a valid token or for a disabled account. Wrong tokens are
    counted per client address and throttled (429) like issue 9's admin token failures."""
    if credentials is None or not credentials.credentials:
        raise unauthorized(CREDENTIALS_REQUIRED)
    address = ratelimit.client_address(request)
    ratelimit.refuse_if_exhausted(request, settings.auth_failure_rate_limit, AUTH_FAILURES, address)
    settings.admin_token_value()  # development: the generated service token is known before comparing
    user = _user_of_token(session, settings, credentials.credentials)
    if user is None:
        ratelimit.hit(request, settings.auth_failure_rate_limit, AUTH_FAILURES, address)
        raise unauthorized(TOKEN_INVALID)
    if not user.active:
        raise unauthorized(ACCOUNT_DISABLED)
    return Principal.of(user)


def optional_principal(
    request: Request, session: Session, settings: Settings, credentials: HTTPAuthorizationCredentials | None
) -> Principal | None:
    """For public routes that show more to some roles: the caller's account, or None (anonymous)."""
    if credentials is None or not credentials.credentials:
        return None
    try:
        return principal_from(request, session, settings, credentials)
    except HTTPException as error:
        if error.status_code == 429:
            raise
        return None
