"""Aggregated statistics. Public: no text and no names; the per-user table and the agreement between
annotators need an admin (api/policy.py)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from threekcal.api.deps import SessionDep, SettingsDep
from threekcal.api.errors import error_responses, validation_error
from threekcal.api.policy import Action, Allowed, Identified, allowed, require
from threekcal.api.schemas import AgreementOut, DailyOut, LabelSource, StatsOut
from threekcal.db import judgements, stats
from threekcal.validation import MAX_USER_CHARS

router = APIRouter(tags=["stats"])

MAX_TZ_CHARS = 64
TimeZoneQuery = Annotated[
    str,
    Query(
        max_length=MAX_TZ_CHARS,
        description="IANA time zone of the days (e.g. Asia/Seoul). Counts are kept per UTC hour: zones with "
        "a :30/:45 offset count the hour around local midnight in the day it begins in.",
    ),
]


def _check_zone(tz: str) -> None:
    try:
        stats.time_zone(tz)
    except stats.UnknownTimeZoneError as error:
        raise validation_error(("query", "tz"), str(error), tz) from None


@router.get(
    "/stats",
    response_model=StatsOut,
    responses=error_responses(429, 503),  # 429: wrong tokens are throttled like everywhere
    summary="Counts, accuracy, confusion matrix, per-class metrics, calibration, curves, timeline",
    description="`per_user` (accuracy per submitting user) is filled only for admins. `label_source` "
    "scores only labels from those sources, e.g. leave bulk_accepted out: "
    "`?label_source=chosen&label_source=accepted&label_source=resolved`. Recomputed at most once per "
    "THREEKCAL_STATS_MAX_STALENESS seconds (default 2) however fast comments arrive: `generated_at` says "
    "when, `age_seconds` and the `Age` header how old it is.",
)
def get_stats(
    request: Request,
    response: Response,
    session: SessionDep,
    caller: Identified(Action.READ_PUBLIC),
    request_user: Annotated[
        str | None, Query(max_length=MAX_USER_CHARS, description="Only this user.")
    ] = None,
    label_source: Annotated[
        list[LabelSource] | None, Query(description="Score only labels from these sources (repeatable).")
    ] = None,
    tz: TimeZoneQuery = "UTC",
) -> StatsOut:
    cache: stats.StatsCache = request.app.state.stats_cache
    _check_zone(tz)
    scope = stats.StatsScope(request_user, tuple(sorted(set(label_source))) if label_source else None, tz)
    result, age = cache.get(session, scope)
    response.headers["Age"] = str(int(age))
    answer = StatsOut.model_validate({**result, "age_seconds": round(age, 3)})
    if caller is None or not allowed(caller.role, Action.USER_STATS):
        answer = answer.model_copy(update={"per_user": []})
    return answer


@router.get(
    "/stats/daily",
    response_model=DailyOut,
    responses=error_responses(503),
    dependencies=[Depends(require(Action.READ_PUBLIC))],
    summary="Per day in a time zone: counts, predicted mix per model version, accuracy with its n",
    description="Reads only the aggregate tables: the cost does not grow with the number of comments. "
    "`since`/`until` are local days (inclusive). Days without comments are left out.",
)
def get_daily(
    session: SessionDep,
    request_user: Annotated[
        str | None, Query(max_length=MAX_USER_CHARS, description="Only this user.")
    ] = None,
    tz: TimeZoneQuery = "UTC",
    since: Annotated[date | None, Query(description="First local day (YYYY-MM-DD).")] = None,
    until: Annotated[date | None, Query(description="Last local day (YYYY-MM-DD), inclusive.")] = None,
) -> DailyOut:
    _check_zone(tz)
    scope = stats.StatsScope(request_user, None, tz)
    result = stats.daily_from_aggregates(
        session,
        scope,
        since=since.isoformat() if since else None,
        until=until.isoformat() if until else None,
    )
    return DailyOut.model_validate(result)


@router.get(
    "/stats/agreement",
    response_model=AgreementOut,
    responses=error_responses(401, 403, 503),
    summary="Agreement between annotators: Cohen's kappa per pair, Krippendorff's alpha, per annotator",
)
def get_agreement(
    _principal: Allowed(Action.USER_STATS), session: SessionDep, settings: SettingsDep
) -> AgreementOut:
    result = judgements.agreement(session, min_common=settings.kappa_min_common)
    return AgreementOut.model_validate({**result, "labels_per_comment": settings.labels_per_comment})
