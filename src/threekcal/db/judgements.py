"""Several annotators per comment: one judgement per person per comment, agreement, disagreements, the
annotator's queue, and agreement statistics (scikit-learn's Cohen's kappa, the krippendorff package)."""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import ColumnElement, and_, exists, func, select
from sqlalchemy.orm import Session

from threekcal.db.models import Comment, Judgement, User
from threekcal.db.types import utcnow
from threekcal.emotions import LABELS


class Author(Protocol):
    """Whoever labels: an account (the API's Principal, a User row)."""

    @property
    def id(self) -> int: ...

    @property
    def username(self) -> str: ...


def record(
    session: Session, comment: Comment, *, by: Author, label: str | None, remark: str | None, required: int
) -> str | None:
    """Store (or with None withdraw) ``by``'s judgement of ``comment``; the agreed label once ``required``
    judgements exist and all agree, else None. The caller holds the comment's row lock and commits."""
    mine = session.scalars(
        select(Judgement).where(Judgement.num == comment.num, Judgement.user_id == by.id)
    ).one_or_none()
    if label is None:
        if mine is not None:
            session.delete(mine)
        return None
    if mine is None:
        session.add(Judgement(num=comment.num, user_id=by.id, label=label, remark=remark, judged_at=utcnow()))
    else:
        mine.label, mine.remark, mine.judged_at = label, remark, utcnow()
    session.flush()
    labels = session.scalars(select(Judgement.label).where(Judgement.num == comment.num)).all()
    if len(labels) >= required and len(set(labels)) == 1:
        return labels[0]
    return None


def disagree(session: Session, num: int, required: int) -> bool:
    labels = session.scalars(select(Judgement.label).where(Judgement.num == num)).all()
    return len(labels) >= required and len(set(labels)) > 1


def _judgement_count(num: ColumnElement[int]) -> Any:
    return select(func.count()).where(Judgement.num == num).correlate(Comment).scalar_subquery()


def queue_conditions(user_id: int, required: int) -> list[ColumnElement[bool]]:
    """An annotator's queue: comments without a label that this person has not judged and that still
    need judgements."""
    return [
        Comment.label.is_(None),
        ~exists().where(and_(Judgement.num == Comment.num, Judgement.user_id == user_id)),
        _judgement_count(Comment.num) < required,
    ]


@dataclass(frozen=True)
class Disagreement:
    num: int
    comments: str
    prediction_result: str | None
    judgements: list[dict[str, Any]]


def disagreements(session: Session, required: int, limit: int) -> list[Disagreement]:
    """Comments whose ``required`` judgements do not agree and that no admin has resolved, oldest first."""
    counted = (
        select(Judgement.num)
        .group_by(Judgement.num)
        .having(func.count() >= required, func.count(func.distinct(Judgement.label)) > 1)
        .subquery()
    )
    comments = session.scalars(
        select(Comment).join(counted, counted.c.num == Comment.num).where(Comment.label.is_(None))
        .order_by(Comment.num).limit(limit)
    ).all()  # fmt: skip
    by_num: dict[int, list[dict[str, Any]]] = defaultdict(list)
    rows = session.execute(
        select(Judgement.num, User.username, Judgement.label, Judgement.remark, Judgement.judged_at)
        .join(User, User.id == Judgement.user_id)
        .where(Judgement.num.in_([comment.num for comment in comments]))
        .order_by(Judgement.id)
    )
    for num, username, label, remark, judged_at in rows:
        by_num[num].append({"username": username, "label": label, "remark": remark, "judged_at": judged_at})
    return [Disagreement(c.num, c.comments, c.prediction_result, by_num[c.num]) for c in comments]


# ------------------------------------------------------------------------------------- statistics
def _kappa(first: list[str], second: list[str]) -> float | None:
    from sklearn.metrics import cohen_kappa_score

    value = float(cohen_kappa_score(first, second, labels=list(LABELS)))
    return None if math.isnan(value) else value


def _alpha(matrix: list[list[float]]) -> float | None:
    import krippendorff
    import numpy as np

    data = np.array(matrix, dtype=float)
    # alpha needs at least two values somewhere in one unit and more than one value overall
    if data.size == 0 or np.count_nonzero(~np.isnan(data).all(axis=0)) == 0:
        return None
    values = data[~np.isnan(data)]
    if len(set(values.tolist())) < 2:
        return None
    value = float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))
    return None if math.isnan(value) else value


def agreement(session: Session, *, min_common: int) -> dict[str, Any]:
    """Cohen's kappa for every pair of annotators with at least ``min_common`` comments in common,
    Krippendorff's alpha (nominal) over all judgements, and per annotator: judgements, agreement with the
    comments' final labels (agreed or resolved) and judgements per UTC day."""
    rows = session.execute(
        select(Judgement.num, User.username, Judgement.label, Judgement.judged_at)
        .join(User, User.id == Judgement.user_id)
        .order_by(Judgement.num, User.username)
    ).all()
    by_user: dict[str, dict[int, str]] = defaultdict(dict)
    per_day: dict[str, Counter[str]] = defaultdict(Counter)
    for num, username, label, judged_at in rows:
        by_user[username][num] = label
        per_day[username][_day(judged_at)] += 1
    nums = sorted({num for num, *_ in rows})
    final = dict(
        session.execute(
            select(Comment.num, Comment.label).where(Comment.num.in_(nums), Comment.label.is_not(None))
        ).all()
    ) if nums else {}  # fmt: skip

    pairs = []
    for first, second in itertools.combinations(sorted(by_user), 2):
        common = sorted(by_user[first].keys() & by_user[second].keys())
        if len(common) < min_common:
            continue
        pairs.append(
            {
                "annotators": [first, second],
                "common": len(common),
                "kappa": _kappa([by_user[first][n] for n in common], [by_user[second][n] for n in common]),
            }
        )
    index = {label: i for i, label in enumerate(LABELS)}
    matrix = [
        [float(index[by_user[user][num]]) if num in by_user[user] else math.nan for num in nums]
        for user in sorted(by_user)
    ]
    annotators = []
    for user in sorted(by_user):
        judged = by_user[user]
        with_final = [num for num in judged if num in final]
        matches = sum(1 for num in with_final if judged[num] == final[num])
        annotators.append(
            {
                "username": user,
                "judgements": len(judged),
                "with_final_label": len(with_final),
                "agreement_with_final": matches / len(with_final) if with_final else None,
                "per_day": dict(sorted(per_day[user].items())),
            }
        )
    return {
        "annotators": annotators,
        "pairs": pairs,
        "krippendorff_alpha": _alpha(matrix),
        "comments": len(nums),
        "judgements": len(rows),
        "min_common": min_common,
    }


def _day(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d")
