"""The full recomputation of the statistics from the comments: five GROUP BY statements over
``comments``, never a scan of rows in Python (Python only does the arithmetic of db/stats.py on the
aggregated counts, at most a few hundred numbers).

This is how /stats was answered before issue 12; its cost grows with the table. It stays as the reference
the aggregate reader (db/stats.py ``stats_from_aggregates``) is tested against, and as the baseline of the
benchmarks. Days are UTC days.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Integer,
    and_,
    case,
    func,
    literal,
    literal_column,
    select,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from threekcal.db.aggregates import CALIBRATION_BINS, CURVE_STEPS, HISTOGRAM_BINS
from threekcal.db.models import Comment
from threekcal.db.stats import (
    ALL,
    PER_USER_LIMIT,
    StatsScope,
    calibration_from_bins,
    classification_metrics,
    curves_from_bins,
    per_user_row,
)
from threekcal.db.types import utcnow
from threekcal.emotions import LABELS


class score_bin(FunctionElement[int]):
    """FLOOR(score * bins) clamped into [0, top]: the bin a probability falls in, computed in SQL.

    ``bins`` and ``top`` travel as literal clauses so that they are part of the statement cache key."""

    type = Integer()
    inherit_cache = True

    def __init__(self, score: ColumnElement[Any], bins: int, top: int) -> None:
        super().__init__(score, literal_column(str(int(bins))), literal_column(str(int(top))))


@compiles(score_bin)
def _score_bin_default(element: score_bin, compiler: SQLCompiler, **kw: Any) -> str:
    score, bins, top = (compiler.process(clause, **kw) for clause in element.clauses.clauses)
    return f"GREATEST(0, LEAST({top}, FLOOR(({score}) * {bins})))"


@compiles(score_bin, "sqlite")
def _score_bin_sqlite(element: score_bin, compiler: SQLCompiler, **kw: Any) -> str:
    # CAST truncates toward zero, which is FLOOR for the non-negative values that pass the clamp.
    score, bins, top = (compiler.process(clause, **kw) for clause in element.clauses.clauses)
    return f"max(0, min({top}, CAST(({score}) * {bins} AS INTEGER)))"


def _scope(scope: StatsScope) -> list[ColumnElement[bool]]:
    return [Comment.request_user == scope.request_user] if scope.request_user is not None else []


def _labelled(scope: StatsScope) -> list[ColumnElement[bool]]:
    """Rows that have both a true label and a prediction: the ones the model can be scored on."""
    sources = [Comment.label_source.in_(scope.label_sources)] if scope.label_sources else []
    return [Comment.label.in_(LABELS), Comment.prediction_result.in_(LABELS), *_scope(scope), *sources]


def _timeline_and_counts(session: Session, scope: StatsScope) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Comments per UTC day and predicted label; the overall counts are the sums of the same groups."""
    day = func.date(Comment.request_time)
    both = case((and_(Comment.label.is_not(None), Comment.prediction_result.is_not(None)), 1), else_=0)
    query = (
        select(
            day.label("day"),
            Comment.prediction_result,
            func.count(),
            func.count(Comment.label),
            func.sum(both),
        )
        .where(*_scope(scope))
        .group_by(day, Comment.prediction_result)
        .order_by(day)
    )
    counts = dict.fromkeys(("total", "pending", "predicted", "labeled", "labeled_and_predicted"), 0)
    by_day: dict[str, dict[str, Any]] = {}
    for day_value, predicted, n, n_labeled, n_both in session.execute(query):
        n, n_labeled, n_both = int(n), int(n_labeled), int(n_both or 0)
        key = str(day_value)[:10]  # SQLite gives 'YYYY-MM-DD', MariaDB a date
        entry = by_day.setdefault(key, {"day": key, "total": 0, "by_prediction": {}})
        entry["total"] += n
        counts["total"] += n
        counts["labeled"] += n_labeled
        counts["labeled_and_predicted"] += n_both
        if predicted is None:
            counts["pending"] += n
        else:
            counts["predicted"] += n
            entry["by_prediction"][predicted] = entry["by_prediction"].get(predicted, 0) + n
    return list(by_day.values()), counts


def _confusion_and_calibration(session: Session, scope: StatsScope) -> tuple[list[list[int]], dict[str, Any]]:
    """Groups of (true label, predicted label, confidence bin): summed over bins they give the confusion
    matrix, summed over label pairs the calibration table."""
    index = {label: i for i, label in enumerate(LABELS)}
    binned = (
        select(
            Comment.label.label("true_label"),
            Comment.prediction_result.label("predicted"),
            score_bin(Comment.prediction_score, CALIBRATION_BINS, CALIBRATION_BINS - 1).label("bin"),
            Comment.prediction_score.label("confidence"),
        )
        .where(*_labelled(scope))
        .subquery()
    )
    query = select(
        binned.c.true_label, binned.c.predicted, binned.c.bin, func.count(), func.sum(binned.c.confidence)
    ).group_by(binned.c.true_label, binned.c.predicted, binned.c.bin)
    matrix = [[0] * len(LABELS) for _ in LABELS]
    count = [0] * CALIBRATION_BINS
    confidence_sum = [0.0] * CALIBRATION_BINS
    correct = [0] * CALIBRATION_BINS
    for true_label, predicted, bin_index, n, conf_sum in session.execute(query):
        matrix[index[true_label]][index[predicted]] += int(n)
        if bin_index is None:  # a prediction without a score: in the matrix, not in the calibration
            continue
        i = int(bin_index)
        count[i] += int(n)
        confidence_sum[i] += float(conf_sum)
        correct[i] += int(n) if true_label == predicted else 0
    return matrix, calibration_from_bins(count, confidence_sum, correct)


def _score_histogram(session: Session, scope: StatsScope) -> dict[str, Any]:
    # Bin first in GROUP BY and IS NOT NULL rather than IN (labels): SQLite then scans the table once
    # instead of walking ix_comments_prediction_result with a row look-up per comment (about 2x slower).
    binned = (
        select(
            score_bin(Comment.prediction_score, HISTOGRAM_BINS, HISTOGRAM_BINS - 1).label("bin"),
            Comment.prediction_result.label("predicted"),
        )
        .where(
            Comment.prediction_score.is_not(None),
            Comment.prediction_result.is_not(None),
            *_scope(scope),
        )
        .subquery()
    )
    counts = {label: [0] * HISTOGRAM_BINS for label in LABELS}
    query = select(binned.c.bin, binned.c.predicted, func.count()).group_by(binned.c.bin, binned.c.predicted)
    for bin_index, predicted, count in session.execute(query):
        if predicted in counts:
            counts[predicted][int(bin_index)] = int(count)
    return {"bins": [i / HISTOGRAM_BINS for i in range(HISTOGRAM_BINS + 1)], "counts": counts}


def _probability_bins(scope: StatsScope) -> CompoundSelect[Any]:
    """Per label, the labelled rows grouped by the bin of that label's stored probability column.

    Seven small GROUP BYs over ``comments`` (the recomputation of before issue 12)."""
    return union_all(
        *(
            select(
                literal(label).label("label"),
                score_bin(Comment.score_column(label), CURVE_STEPS, CURVE_STEPS).label("bin"),
                func.sum(case((Comment.label == label, 1), else_=0)),
                func.count(),
            )
            .where(*_labelled(scope), Comment.score_column(label).is_not(None))
            .group_by(literal_column("bin"))
            for label in LABELS
        )
    )


def _curves(session: Session, scope: StatsScope) -> dict[str, Any]:
    query = _probability_bins(scope)
    positives = {label: [0] * (CURVE_STEPS + 1) for label in LABELS}
    totals = {label: [0] * (CURVE_STEPS + 1) for label in LABELS}
    for label, bin_index, n_positive, n in session.execute(query):
        if label in totals and bin_index is not None:
            positives[label][int(bin_index)] = int(n_positive)
            totals[label][int(bin_index)] = int(n)
    return {label: curves_from_bins(positives[label], totals[label]) for label in LABELS}


def _per_user(session: Session, scope: StatsScope) -> list[dict[str, Any]]:
    total = func.count().label("total")
    both = and_(Comment.label.is_not(None), Comment.prediction_result.is_not(None))
    is_correct = and_(both, Comment.label == Comment.prediction_result)
    query = (
        select(
            Comment.request_user,
            total,
            func.count(Comment.label),
            func.coalesce(func.sum(case((both, 1), else_=0)), 0),
            func.coalesce(func.sum(case((is_correct, 1), else_=0)), 0),
        )
        .where(*_scope(scope))
        .group_by(Comment.request_user)
        .order_by(total.desc(), Comment.request_user.asc())
        .limit(PER_USER_LIMIT)
    )
    return [
        per_user_row(user, n, labeled, scored, correct)
        for user, n, labeled, scored, correct in session.execute(query)
    ]


def _by_label_source(session: Session, scope: StatsScope) -> dict[str, int]:
    """Labelled comments per label source (provenance), whatever ``label_sources`` selects."""
    query = (
        select(Comment.label_source, func.count())
        .where(Comment.label.is_not(None), *_scope(scope))
        .group_by(Comment.label_source)
    )
    return {str(source or "unknown"): int(n) for source, n in session.execute(query)}


def compute_stats(session: Session, scope: StatsScope = ALL) -> dict[str, Any]:
    """Every figure of the statistics page, optionally for one user's comments and some label sources."""
    timeline, counts = _timeline_and_counts(session, scope)
    counts["by_label_source"] = _by_label_source(session, scope)
    matrix, calibration = _confusion_and_calibration(session, scope)
    counts["scored"] = sum(sum(row) for row in matrix)  # labelled and predicted, in the selected sources
    return {
        "counts": counts,
        "labels": list(LABELS),
        "confusion_matrix": matrix,
        **classification_metrics(matrix),
        "score_histogram": _score_histogram(session, scope),
        "calibration": calibration,
        "curves": _curves(session, scope),
        "timeline": timeline,
        "per_user": _per_user(session, scope),
        "generated_at": utcnow(),
    }
