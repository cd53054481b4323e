"""Bulk accept of predictions and undo (admin)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from threekcal.api.deps import AdminDep, SessionDep
from threekcal.api.errors import error_responses
from threekcal.api.schemas import AcceptIn, AcceptOut, CommentOut, UndoIn
from threekcal.db import labels

router = APIRouter(tags=["labels"])


@router.post(
    "/labels/accept",
    response_model=AcceptOut,
    responses=error_responses(400, 401, 403, 413, 503),
    summary="Label comments with their prediction (admin)",
)
def accept(body: AcceptIn, admin: AdminDep, session: SessionDep) -> AcceptOut:
    result = labels.accept_predictions(session, body.nums, by=admin.name)
    return AcceptOut(accepted=result.accepted, skipped=result.skipped)


@router.post(
    "/labels/undo",
    response_model=CommentOut,
    responses=error_responses(400, 401, 403, 404, 413, 503),
    summary="Undo the newest label change of a comment, or your own newest (admin)",
)
def undo(body: UndoIn, admin: AdminDep, session: SessionDep) -> CommentOut:
    try:
        comment = labels.undo(session, body.num, by=admin.name)
    except (labels.CommentNotFoundError, labels.NothingToUndoError) as error:
        raise HTTPException(status_code=404, detail=str(error)) from None
    return CommentOut.model_validate(comment)
