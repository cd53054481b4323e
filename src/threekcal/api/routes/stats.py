"""Aggregated statistics: public, since they hold no text and no names beyond the per-user table."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from threekcal.api.deps import SessionDep
from threekcal.api.errors import error_responses
from threekcal.api.schemas import StatsOut
from threekcal.db import stats
from threekcal.validation import MAX_USER_CHARS

router = APIRouter(tags=["stats"])


@router.get(
    "/stats",
    response_model=StatsOut,
    responses=error_responses(503),
    summary="Counts, accuracy, confusion matrix, per-class metrics, calibration, curves, timeline",
    description="Recomputed at most once per THREEKCAL_STATS_MAX_STALENESS seconds (default 2) however "
    "fast comments arrive: `generated_at` says when, `age_seconds` and the `Age` header how old it is.",
)
def get_stats(
    request: Request,
    response: Response,
    session: SessionDep,
    request_user: Annotated[
        str | None, Query(max_length=MAX_USER_CHARS, description="Only this user.")
    ] = None,
) -> StatsOut:
    cache: stats.StatsCache = request.app.state.stats_cache
    result, age = cache.get(session, request_user)
    response.headers["Age"] = str(int(age))
    return StatsOut.model_validate({**result, "age_seconds": round(age, 3)})
