"""Aggregated statistics. Public: no text and no names; the per-user table and the agreement between
annotators need an admin (api/policy.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from threekcal.api.deps import SessionDep, SettingsDep
from threekcal.api.errors import error_responses
from threekcal.api.policy import Action, Allowed, Identified, allowed
from threekcal.api.schemas import AgreementOut, LabelSource, StatsOut
from threekcal.db import judgements, stats
from threekcal.validation import MAX_USER_CHARS

router = APIRouter(tags=["stats"])


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
) -> StatsOut:
    cache: stats.StatsCache = request.app.state.stats_cache
    scope = stats.StatsScope(request_user, tuple(sorted(set(label_source))) if label_source else None)
    result, age = cache.get(session, scope)
    response.headers["Age"] = str(int(age))
    answer = StatsOut.model_validate({**result, "age_seconds": round(age, 3)})
    if caller is None or not allowed(caller.role, Action.USER_STATS):
        answer = answer.model_copy(update={"per_user": []})
    return answer


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
