"""Bulk accept of predictions, undo, and the disagreements queue with its decisions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from threekcal.api.deps import SessionDep, SettingsDep
from threekcal.api.errors import error_responses
from threekcal.api.policy import Action, Allowed, allowed, forbidden
from threekcal.api.routes.comments import NumPath
from threekcal.api.schemas import (
    AcceptIn,
    AcceptOut,
    CommentOut,
    DisagreementOut,
    ResolveIn,
    SkippedOut,
    UndoIn,
)
from threekcal.db import judgements, labels

router = APIRouter(tags=["labels"])
MAX_DISAGREEMENTS = 500


@router.post(
    "/labels/accept",
    response_model=AcceptOut,
    responses=error_responses(400, 401, 403, 413, 503),
    summary="Label comments with their prediction; labels set by a person are skipped unless overwrite",
)
def accept(body: AcceptIn, principal: Allowed(Action.BULK_ACCEPT), session: SessionDep) -> AcceptOut:
    if body.overwrite and not allowed(principal.role, Action.OVERWRITE_LABELS):
        raise forbidden(principal.role, Action.OVERWRITE_LABELS)
    result = labels.accept_predictions(
        session, body.nums, by=principal, overwrite=body.overwrite, remark=body.remark
    )
    return AcceptOut(
        accepted=result.accepted,
        skipped=[SkippedOut(num=item.num, reason=item.reason) for item in result.skipped],
    )


@router.post(
    "/labels/undo",
    response_model=CommentOut,
    responses=error_responses(400, 401, 403, 404, 413, 503),
    summary="Undo your own newest change, or the newest change of a comment (someone else's: admins)",
)
def undo(body: UndoIn, principal: Allowed(Action.UNDO_OWN), session: SessionDep) -> CommentOut:
    try:
        comment = labels.undo(
            session, body.num, by=principal, may_undo_any=allowed(principal.role, Action.UNDO_ANY)
        )
    except (labels.CommentNotFoundError, labels.NothingToUndoError) as error:
        raise HTTPException(status_code=404, detail=str(error)) from None
    except labels.NotYoursError as error:
        raise HTTPException(status_code=403, detail=str(error)) from None
    return CommentOut.model_validate(comment)


@router.get(
    "/disagreements",
    response_model=list[DisagreementOut],
    responses=error_responses(401, 403, 503),
    summary="Comments whose annotators disagree, waiting for an admin's decision",
)
def list_disagreements(
    _principal: Allowed(Action.RESOLVE),
    session: SessionDep,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=MAX_DISAGREEMENTS)] = 100,
) -> list[DisagreementOut]:
    found = judgements.disagreements(session, settings.labels_per_comment, limit)
    return [DisagreementOut.model_validate(item, from_attributes=True) for item in found]


@router.post(
    "/disagreements/{num}/resolve",
    response_model=CommentOut,
    responses=error_responses(400, 401, 403, 404, 409, 413, 503),
    summary="Decide the label of a comment whose annotators disagree (source: resolved)",
)
def resolve(
    num: NumPath,
    body: ResolveIn,
    principal: Allowed(Action.RESOLVE),
    session: SessionDep,
    settings: SettingsDep,
) -> CommentOut:
    try:
        comment = labels.resolve(
            session,
            num,
            label=body.label,
            remark=body.remark,
            by=principal,
            required=settings.labels_per_comment,
        )
    except labels.CommentNotFoundError as error:
        raise HTTPException(status_code=404, detail=str(error)) from None
    except labels.LabelConflictError as error:
        raise HTTPException(status_code=409, detail=str(error)) from None
    return CommentOut.model_validate(comment)
