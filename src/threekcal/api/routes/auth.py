"""Sign in (username and password to a signed bearer token) and who am I."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field

from threekcal.api import ratelimit
from threekcal.api.auth import issue_access_token, unauthorized
from threekcal.api.deps import SessionDep, SettingsDep
from threekcal.api.errors import error_responses
from threekcal.api.policy import Action, Allowed, require
from threekcal.db import accounts

LOGIN_USER = "login-user"
LOGIN_ADDRESS = "login-address"
LOGIN_FAILED = "Wrong username or password, or the account is disabled"


router = APIRouter(tags=["auth"])


class TokenOut(BaseModel):
    access_token: str
    token_type: str = Field(default="bearer", description="Always `bearer`.")
    expires_in: int = Field(description="Seconds until the token expires.")


class MeOut(BaseModel):
    username: str
    role: str


@router.post(
    "/auth/login",
    dependencies=[Depends(require(Action.LOGIN))],
    response_model=TokenOut,
    responses=error_responses(400, 401, 429, 503),
    summary="Sign in with username and password (OAuth2 password form); answers a bearer token",
)
def login(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
) -> TokenOut:
    # Every attempt counts, per username and per client address, so guessing is slow whoever guesses.
    address = ratelimit.client_address(request)
    ratelimit.hit(request, settings.login_ip_rate_limit, LOGIN_ADDRESS, address)
    ratelimit.hit(request, settings.login_rate_limit, LOGIN_USER, form.username.strip().casefold())
    user = accounts.authenticate(session, form.username.strip(), form.password)
    if user is None:
        raise unauthorized(LOGIN_FAILED)
    return TokenOut(
        access_token=issue_access_token(settings, user),
        token_type="bearer",
        expires_in=settings.access_token_minutes * 60,
    )


@router.get(
    "/auth/me",
    response_model=MeOut,
    responses=error_responses(401, 503),
    summary="The signed-in account: username and role",
)
def me(principal: Allowed(Action.READ_SELF)) -> MeOut:
    return MeOut(username=principal.username, role=principal.role)
