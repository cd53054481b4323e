"""Who writes, how much (admin); the accounts (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from threekcal.api.deps import SessionDep
from threekcal.api.errors import error_responses
from threekcal.api.policy import Action, Allowed
from threekcal.api.schemas import AccountOut, UserOut
from threekcal.db import accounts, queries
from threekcal.validation import MAX_USER_CHARS

router = APIRouter(tags=["users"])


@router.get(
    "/users",
    response_model=list[UserOut],
    responses=error_responses(401, 403, 503),
    summary="Users who submit comments, by number of comments (admin)",
)
def list_users(
    _principal: Allowed(Action.USER_STATS),
    session: SessionDep,
    q: Annotated[str | None, Query(max_length=MAX_USER_CHARS, description="Name contains.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[UserOut]:
    return [UserOut.model_validate(user) for user in queries.list_users(session, q=q, limit=limit)]


@router.get(
    "/accounts",
    response_model=list[AccountOut],
    responses=error_responses(401, 403, 503),
    summary="Accounts that sign in: username, role, active, times (admin; manage with `threekcal users`)",
)
def list_accounts(_principal: Allowed(Action.MANAGE_USERS), session: SessionDep) -> list[AccountOut]:
    return [AccountOut.model_validate(user) for user in accounts.list_users(session)]
