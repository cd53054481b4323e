"""Labelling rules: set (with a version check), accept predictions, undo, resolve a disagreement. Every
change of a comment's label writes a LabelEvent in the same transaction as the comment update, so the
audit and the data never disagree, and bumps ``label_version`` (the ETag of the label).

With several annotators per comment (``required`` > 1) a person's label is a judgement
(db/judgements.py) until enough judgements agree.

Each write is one transaction that locks the comment rows first (in number order), then writes the
audit event and the aggregates (db/aggregates.py, at flush). If MariaDB still makes it a deadlock victim,
it runs again whole (``queries.write_retrying_deadlocks``, the rule inserts follow too)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from threekcal.db import judgements
from threekcal.db.judgements import Author
from threekcal.db.models import Comment, LabelEvent
from threekcal.db.queries import write_retrying_deadlocks
from threekcal.db.types import utcnow
from threekcal.emotions import LABELS

UNDO_SEARCH_DEPTH = 1000  # how many of a person's own newest changes "undo my last change" looks through
HUMAN_SOURCES = frozenset({"chosen", "accepted", "resolved"})  # labels a person decided on


class CommentNotFoundError(LookupError):
    def __init__(self, num: int) -> None:
        super().__init__(f"Comment {num} not found")
        self.num = num


class NothingToUndoError(LookupError):
    def __init__(self, num: int | None) -> None:
        where = f"comment {num}" if num is not None else "you"
        super().__init__(f"Nothing to undo for {where}")
        self.num = num


class NotYoursError(PermissionError):
    def __init__(self, num: int, author: str) -> None:
        super().__init__(f"The newest change of comment {num} is {author}'s: only an admin may undo it")
        self.num = num


class StaleLabelError(Exception):
    """The label changed since the caller read it (If-Match did not match): nothing was written."""

    def __init__(self, comment: Comment) -> None:
        super().__init__(f"Comment {comment.num} was changed meanwhile by {comment.labeled_by or 'someone'}")
        self.comment = comment


class LabelConflictError(Exception):
    """A write that does not fit the comment's state (complete, no disagreement, prediction differs)."""


def _change(
    session: Session,
    comment: Comment,
    *,
    action: str,
    label: str | None,
    remark: str | None,
    by: Author,
    source: str | None,
    now: datetime,
) -> None:
    source = source if label is not None else None
    session.add(
        LabelEvent(
            num=comment.num,
            action=action,
            changed_by=by.username,
            changed_by_id=by.id,
            changed_at=now,
            old_label=comment.label,
            new_label=label,
            old_remark=comment.remark,
            new_remark=remark,
            label_source=source,
        )
    )
    comment.label = label
    comment.remark = remark
    comment.label_source = source
    comment.label_version = (comment.label_version or 0) + 1
    # labeled_by/labeled_at describe the current label; a cleared label has neither (the audit keeps who).
    comment.labeled_by = by.username if label is not None else None
    comment.labeled_by_id = by.id if label is not None else None
    comment.labeled_at = now if label is not None else None
    if label is None:
        comment.audit = False  # no label, not in the audit sample: the audit queue serves it again


def _locked_comment(session: Session, num: int) -> Comment:
    comment = session.get(Comment, num, with_for_update=True, populate_existing=True)
    if comment is None:
        raise CommentNotFoundError(num)
    return comment


@dataclass(frozen=True)
class LabelOutcome:
    comment: Comment
    judged: bool = False  # the write was a judgement (several annotators per comment)
    complete: bool = True  # the comment has its label now


def set_label(
    session: Session,
    num: int,
    *,
    label: str | None,
    by: Author,
    remark: str | None = None,
    keep_remark: bool = False,
    source: str = "chosen",
    expected_version: int | None = None,
    required: int = 1,
    may_override: bool = False,
    audit: bool = False,
) -> LabelOutcome:
    """Set (or clear, with None) the label and the remark; ``keep_remark`` leaves the remark as it is.

    ``expected_version``: the ``label_version`` the caller saw; another one raises StaleLabelError.
    ``source``: "chosen", or "accepted" when the person accepted the shown prediction (it must match).
    With ``required`` > 1 the label is the person's judgement; the comment gets a label once ``required``
    judgements agree. A complete comment is changed only by those who ``may_override`` (admins).
    ``audit``: the comment was served by the audit queue; once it has its label it is in the audit sample
    (``comments.audit``). A later change keeps it there; clearing the label takes it out."""
    if label is not None and label not in LABELS:
        raise ValueError(f"unknown label {label!r}")

    def write() -> LabelOutcome:
        comment = _locked_comment(session, num)
        if expected_version is not None and comment.label_version != expected_version:
            session.rollback()
            raise StaleLabelError(comment)
        if source == "accepted" and (label is None or label != comment.prediction_result):
            session.rollback()
            raise LabelConflictError(
                f"Comment {num}'s prediction is {comment.prediction_result or 'not there yet'}, "
                f"so {label} cannot be recorded as an accepted prediction"
            )
        now = utcnow()
        if required > 1 and (comment.label is None or not may_override):
            if comment.label is not None:
                session.rollback()
                raise LabelConflictError(f"Comment {num} already has its label")
            new_remark = None if keep_remark else remark
            agreed = judgements.record(
                session, comment, by=by, label=label, remark=new_remark, required=required
            )
            if agreed is not None:
                _change(
                    session, comment, action="set", label=agreed, remark=None, by=by, source=source, now=now
                )
                comment.audit = comment.audit or audit
            session.commit()
            return LabelOutcome(comment, judged=True, complete=agreed is not None)
        new_remark = comment.remark if keep_remark else remark
        _change(session, comment, action="set", label=label, remark=new_remark, by=by, source=source, now=now)
        comment.audit = label is not None and (comment.audit or audit)
        session.commit()
        return LabelOutcome(comment)

    return write_retrying_deadlocks(session, write)


@dataclass(frozen=True)
class Skipped:
    num: int
    reason: str


@dataclass(frozen=True)
class AcceptResult:
    accepted: int
    skipped: list[Skipped]


def accept_predictions(
    session: Session,
    nums: Iterable[int],
    *,
    by: Author,
    overwrite: bool = False,
    remark: str | None = None,
) -> AcceptResult:
    """Label each comment with its own prediction (source ``bulk_accepted``); the old remark goes unless
    ``remark`` is given. A label a person decided on is never replaced unless ``overwrite``; such
    comments, and missing or unpredicted ones, come back in ``skipped`` with the reason. Comments already
    labelled with their prediction count as accepted without a new event."""
    wanted = list(dict.fromkeys(nums))

    def write() -> AcceptResult:
        found = {
            comment.num: comment
            for comment in session.scalars(
                select(Comment)
                .where(Comment.num.in_(wanted))
                .order_by(Comment.num)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        }
        now = utcnow()
        accepted = 0
        skipped: list[Skipped] = []
        for num in wanted:
            comment = found.get(num)
            if comment is None:
                skipped.append(Skipped(num, "not found"))
                continue
            if comment.prediction_result not in LABELS:
                skipped.append(Skipped(num, "no prediction yet"))
                continue
            if comment.label == comment.prediction_result:
                accepted += 1
                continue
            if comment.label is not None and comment.label_source in HUMAN_SOURCES and not overwrite:
                skipped.append(
                    Skipped(num, f"has a label set by a person ({comment.labeled_by}: {comment.label})")
                )
                continue
            accepted += 1
            _change(
                session,
                comment,
                action="accept",
                label=comment.prediction_result,
                remark=remark,
                by=by,
                source="bulk_accepted",
                now=now,
            )
        session.commit()
        return AcceptResult(accepted=accepted, skipped=skipped)

    return write_retrying_deadlocks(session, write)


def resolve(
    session: Session, num: int, *, label: str, remark: str | None, by: Author, required: int
) -> Comment:
    """An admin's decision on a comment whose judgements disagree (source ``resolved``)."""
    if label not in LABELS:
        raise ValueError(f"unknown label {label!r}")

    def write() -> Comment:
        comment = _locked_comment(session, num)
        if comment.label is not None or not judgements.disagree(session, num, required):
            session.rollback()
            raise LabelConflictError(f"Comment {num} is not waiting for a decision on a disagreement")
        _change(session, comment, action="resolve", label=label, remark=remark, by=by, source="resolved",
                now=utcnow())  # fmt: skip
        session.commit()
        return comment

    return write_retrying_deadlocks(session, write)


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


def _newest_undoable_by(session: Session, by: Author) -> LabelEvent | None:
    """This person's newest change that is still the one an undo of its comment would revert."""
    own = session.scalars(
        select(LabelEvent)
        .where(LabelEvent.changed_by_id == by.id, LabelEvent.action != "undo")
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


def undo(session: Session, num: int | None, *, by: Author, may_undo_any: bool = False) -> Comment:
    """Revert the newest change of comment ``num``, or with None this person's newest change. Only those
    who ``may_undo_any`` revert someone else's change. The label, its remark, source and author come back
    as they were before the undone change."""

    def write() -> Comment:
        if num is not None:
            comment = _locked_comment(session, num)
            target = _undo_target(session, num)
        else:
            target = _newest_undoable_by(session, by)
            comment = _locked_comment(session, target.num) if target is not None else None
        if target is None or comment is None:
            session.rollback()
            raise NothingToUndoError(num)
        if target.changed_by_id != by.id and not may_undo_any:
            session.rollback()
            raise NotYoursError(target.num, target.changed_by)
        before = session.scalars(
            select(LabelEvent)
            .where(LabelEvent.num == target.num, LabelEvent.id < target.id)
            .order_by(LabelEvent.id.desc())
            .limit(1)
        ).first()
        source = before.label_source if before is not None else None
        _change(
            session,
            comment,
            action="undo",
            label=target.old_label,
            remark=target.old_remark,
            by=by,
            source=source or ("chosen" if target.old_label is not None else None),
            now=utcnow(),
        )
        if before is not None and before.changed_by_id is not None and target.old_label is not None:
            comment.labeled_by, comment.labeled_by_id = before.changed_by, before.changed_by_id
            comment.labeled_at = before.changed_at
        session.commit()
        return comment

    return write_retrying_deadlocks(session, write)


def history(session: Session, num: int) -> list[LabelEvent]:
    """Label events of one comment, newest first."""
    if session.get(Comment, num) is None:
        raise CommentNotFoundError(num)
    return list(
        session.scalars(select(LabelEvent).where(LabelEvent.num == num).order_by(LabelEvent.id.desc()))
    )
