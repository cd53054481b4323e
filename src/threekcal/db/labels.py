"""Labelling rules: set, accept the prediction, undo. Every change writes a LabelEvent in the same
transaction as the comment update, so the audit and the data never disagree."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from threekcal.db.models import Comment, LabelEvent
from threekcal.db.queries import serialized_writes
from threekcal.db.types import utcnow
from threekcal.emotions import LABELS

DEFAULT_ADMIN_NAME = "admin"
UNDO_SEARCH_DEPTH = 1000  # how many of an admin's own newest changes "undo my last change" looks through


class CommentNotFoundError(LookupError):
    def __init__(self, num: int) -> None:
        super().__init__(f"Comment {num} not found")
        self.num = num


class NothingToUndoError(LookupError):
    def __init__(self, num: int | None) -> None:
        where = f"comment {num}" if num is not None else "this admin"
        super().__init__(f"Nothing to undo for {where}")
        self.num = num


def _change(
    session: Session,
    comment: Comment,
    *,
    action: str,
    label: str | None,
    remark: str | None,
    by: str,
    now: datetime,
) -> None:
    session.add(
        LabelEvent(
            num=comment.num,
            action=action,
            changed_by=by,
            changed_at=now,
            old_label=comment.label,
            new_label=label,
            old_remark=comment.remark,
            new_remark=remark,
        )
    )
    comment.label = label
    comment.remark = remark
    # labeled_by/labeled_at describe the current label; a cleared label has neither (the audit keeps who).
    comment.labeled_by = by if label is not None else None
    comment.labeled_at = now if label is not None else None


def _locked_comment(session: Session, num: int) -> Comment:
    comment = session.get(Comment, num, with_for_update=True)
    if comment is None:
        raise CommentNotFoundError(num)
    return comment


def set_label(
    session: Session,
    num: int,
    *,
    label: str | None,
    by: str,
    remark: str | None = None,
    keep_remark: bool = False,
) -> Comment:
    """Set (or clear, with None) the label and the remark; ``keep_remark`` leaves the remark as it is."""
    if label is not None and label not in LABELS:
        raise ValueError(f"unknown label {label!r}")
    with serialized_writes(session):
        comment = _locked_comment(session, num)
        new_remark = comment.remark if keep_remark else remark
        _change(session, comment, action="set", label=label, remark=new_remark, by=by, now=utcnow())
        session.commit()
    return comment


@dataclass(frozen=True)
class AcceptResult:
    accepted: int
    skipped: list[int]


def accept_predictions(session: Session, nums: Iterable[int], *, by: str) -> AcceptResult:
    """Label each comment with its own prediction. Comments that are missing or not predicted yet are
    skipped; comments already labelled with their prediction count as accepted without a new event."""
    wanted = list(dict.fromkeys(nums))
    with serialized_writes(session):
        found = {
            comment.num: comment
            for comment in session.scalars(
                select(Comment).where(Comment.num.in_(wanted)).order_by(Comment.num).with_for_update()
            )
        }
        now = utcnow()
        accepted = 0
        skipped: list[int] = []
        for num in wanted:
            comment = found.get(num)
            if comment is None or comment.prediction_result not in LABELS:
                skipped.append(num)
                continue
            accepted += 1
            if comment.label != comment.prediction_result:
                _change(
                    session,
                    comment,
                    action="accept",
                    label=comment.prediction_result,
                    remark=comment.remark,
                    by=by,
                    now=now,
                )
        session.commit()
    return AcceptResult(accepted=accepted, skipped=skipped)


def _undo_target(session: Session, num: int) -> LabelEvent | None:
    """The change an undo of this comment reverts: undos cancel the changes before them, newest first,
    so repeated undos walk back through the history like an editor's undo stack."""
    pending_undos = 0
    events = session.scalars(select(LabelEvent).where(LabelEvent.num == num).order_by(LabelEvent.id.desc()))
    for event in events:
        if event.action == "undo":
            pending_undos += 1
        elif pending_undos:
            pending_undos -= 1
        else:
            return event
    return None


def _newest_undoable_by(session: Session, by: str) -> LabelEvent | None:
    """This admin's newest change that is still the one an undo of its comment would revert."""
    own = session.scalars(
        select(LabelEvent)
        .where(LabelEvent.changed_by == by, LabelEvent.action != "undo")
        .order_by(LabelEvent.id.desc())
        .limit(UNDO_SEARCH_DEPTH)
    ).all()
    seen: set[int] = set()
    for event in own:
        if event.num in seen:
            continue
        seen.add(event.num)
        target = _undo_target(session, event.num)
        if target is not None and target.id == event.id:
            return event
    return None


def undo(session: Session, num: int | None, *, by: str) -> Comment:
    """Revert the newest change of comment ``num``, or with None this admin's newest change."""
    with serialized_writes(session):
        if num is not None:
            comment = _locked_comment(session, num)
            target = _undo_target(session, num)
        else:
            target = _newest_undoable_by(session, by)
            comment = _locked_comment(session, target.num) if target is not None else None
        if target is None or comment is None:
            raise NothingToUndoError(num)
        _change(
            session,
            comment,
            action="undo",
            label=target.old_label,
            remark=target.old_remark,
            by=by,
            now=utcnow(),
        )
        session.commit()
    return comment


def history(session: Session, num: int) -> list[LabelEvent]:
    """Label events of one comment, newest first."""
    if session.get(Comment, num) is None:
        raise CommentNotFoundError(num)
    return list(
        session.scalars(select(LabelEvent).where(LabelEvent.num == num).order_by(LabelEvent.id.desc()))
    )
