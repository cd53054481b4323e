"""Who writes, how much (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from threekcal.api.deps import AdminDep, SessionDep
from threekcal.api.errors import error_responses
from threekcal.api.schemas import UserOut
from threekcal.db import queries
from threekcal.validation import MAX_USER_CHARS

router = APIRouter(tags=["users"])


@router.get(
    "/users",
    response_model=list[UserOut],
    responses=error_responses(401, 403, 503),
    summary="Users by number of comments (admin)",
)
def list_users(
    _admin: AdminDep,
    session: SessionDep,
    q: Annotated[str | None, Query(max_length=MAX_USER_CHARS, description="Name contains.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[UserOut]:
    return [UserOut.model_validate(user) for user in queries.list_users(session, q=q, limit=limit)]
