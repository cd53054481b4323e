"""The statistics /stats serves, read from the aggregate tables (migration 0007; db/aggregates.py keeps
them in the same transaction as every write): a few hundred to a few thousand rows whatever the number of
comments. ``StatsCache`` keeps the result until the data changes (one index-only probe per request tells)
or for at most ``max_age`` seconds.

The arithmetic on the counts lives here too, shared with the full recomputation (db/stats_recompute.py,
which imports this module, never the reverse):
- classification metrics follow scikit-learn's classification_report with labels = all 7 and
  zero_division=0, derived from the confusion matrix;
- the score histogram has 20 equal bins of prediction_score over [0, 1], by predicted label;
- calibration has 10 equal confidence bins; ECE = sum over bins of n_b / N * |accuracy_b - confidence_b|;
- ROC and PR curves are one-vs-rest per label from the stored probabilities, with thresholds at 0.02
  steps (0, 0.02, ..., 1). They are exact for the scores rounded down to a multiple of 0.02, so ROC AUC and
  average precision equal scikit-learn's on floor(score * 50) / 50; against the raw scores the AUC
  differs at most by half the share of positive/negative pairs whose scores fall in the same 0.02 bin.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from scipy.stats import binomtest
from sqlalchemy import case, func, literal, select
from sqlalchemy.orm import Session

from threekcal.db import aggregates
from threekcal.db.aggregates import CALIBRATION_BINS, CURVE_STEPS, HISTOGRAM_BINS  # one place: the bins kept
from threekcal.db.models import (
    Comment,
    LabelEvent,
    PredictionBatch,
    StatsCurve,
    StatsHourly,
    StatsLabel,
    StatsModelHourly,
    StatsScore,
    StatsUser,
)
from threekcal.db.types import utcnow
from threekcal.emotions import LABELS

PER_USER_LIMIT = 50


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


@dataclass(frozen=True)
class StatsScope:
    """Which comments the statistics describe: one user's, and labels from some sources only; days in
    ``tz`` (an IANA zone; the full recomputation ``stats_recompute.compute_stats`` always uses UTC days)."""

    request_user: str | None = None
    label_sources: tuple[str, ...] | None = None
    tz: str = "UTC"


ALL = StatsScope()


def classification_metrics(matrix: list[list[int]]) -> dict[str, Any]:
    """accuracy, per-class precision/recall/F1/support and macro/weighted averages, as scikit-learn's
    classification_report(labels=all, zero_division=0) computes them from the same predictions."""
    size = len(matrix)
    total = sum(map(sum, matrix))
    per_class = []
    for i, label in enumerate(LABELS):
        tp = matrix[i][i]
        support = sum(matrix[i])
        predicted = sum(matrix[r][i] for r in range(size))
        fp, fn = predicted - tp, support - tp
        per_class.append(
            {
                "label": label,
                "precision": _ratio(tp, tp + fp),
                "recall": _ratio(tp, tp + fn),
                "f1": _ratio(2 * tp, 2 * tp + fp + fn),
                "support": support,
            }
        )
    metrics = ("precision", "recall", "f1")
    macro = {m: sum(row[m] for row in per_class) / size for m in metrics}
    weighted = {m: _ratio(sum(row[m] * row["support"] for row in per_class), total) for m in metrics}
    return {
        "accuracy": _ratio(sum(matrix[i][i] for i in range(size)), total) if total else None,
        "per_class": per_class,
        "macro_avg": {**macro, "support": total},
        "weighted_avg": {**weighted, "support": total},
    }


def calibration_from_bins(
    count: list[int], confidence_sum: list[float], correct: list[int]
) -> dict[str, Any]:
    total = sum(count)
    bins = range(CALIBRATION_BINS)
    ece = sum(count[i] / total * abs(correct[i] - confidence_sum[i]) / count[i] for i in bins if count[i])
    return {
        "bins": [i / CALIBRATION_BINS for i in range(CALIBRATION_BINS + 1)],
        "count": count,
        "mean_confidence": [confidence_sum[i] / count[i] if count[i] else None for i in bins],
        "accuracy": [correct[i] / count[i] if count[i] else None for i in bins],
        "ece": ece if total else None,
    }


def curves_from_bins(positives: list[int], totals: list[int]) -> dict[str, Any]:
    """ROC and PR points at thresholds k / CURVE_STEPS from per-bin counts (bin k: k/50 <= p < (k+1)/50).

    Thresholds go from the highest down, like scikit-learn's roc_curve; AUC is the trapezoid over the
    ROC points and average precision the step sum over recall increments (scikit-learn's definition).
    """
    all_positives = sum(positives)
    all_negatives = sum(totals) - all_positives
    fpr, tpr, precision, recall = [0.0], [0.0], [], []
    tp = fp = 0
    average_precision = 0.0
    for k in range(len(totals) - 1, -1, -1):
        if not totals[k]:
            continue
        tp += positives[k]
        fp += totals[k] - positives[k]
        fpr.append(_ratio(fp, all_negatives))
        tpr.append(_ratio(tp, all_positives))
        step_recall = _ratio(tp, all_positives)
        step_precision = tp / (tp + fp)
        average_precision += (step_recall - (recall[-1] if recall else 0.0)) * step_precision
        precision.append(step_precision)
        recall.append(step_recall)
    auc = None
    if all_positives and all_negatives:
        auc = sum((fpr[i] - fpr[i - 1]) * (tpr[i] + tpr[i - 1]) / 2 for i in range(1, len(fpr)))
    # scikit-learn ends the PR curve at recall 0, precision 1, and lists it from low threshold to high.
    precision = [*reversed(precision), 1.0]
    recall = [*reversed(recall), 0.0]
    return {
        "roc": {"fpr": fpr, "tpr": tpr, "auc": auc},
        "pr": {
            "precision": precision,
            "recall": recall,
            "average_precision": average_precision if all_positives else None,
        },
    }


def data_version(session: Session) -> tuple[Any, ...]:
    """A fingerprint of what the statistics depend on, from four index look-ups: a new comment, a label
    change (always audited), a prediction or an applied prediction batch each change it."""
    return tuple(
        session.execute(
            select(
                select(func.max(Comment.num)).scalar_subquery(),
                select(func.max(LabelEvent.id)).scalar_subquery(),
                select(func.max(Comment.prediction_time)).scalar_subquery(),
                select(func.max(PredictionBatch.applied_at)).scalar_subquery(),
            )
        ).one()
    )


def _has_comments(session: Session, request_user: str) -> bool:
    return (
        session.execute(select(Comment.num).where(Comment.request_user == request_user).limit(1)).first()
        is not None
    )


def _from_aggregates(session: Session, scope: StatsScope) -> dict[str, Any]:
    return stats_from_aggregates(session, scope)  # looked up per call


@dataclass
class _Entry:
    version: tuple[Any, ...]
    computed_at: float  # time.monotonic()
    result: dict[str, Any]


class StatsCache:
    """Statistics per scope (user filter, label sources, time zone), from the aggregate tables unless
    ``compute`` says otherwise (``stats_recompute.compute_stats``: the full recomputation).

    A result younger than ``min_interval`` seconds is served as it is, without even asking the database
    whether anything changed: under a flood of writes the statistics are recomputed at most once per
    interval. Older ones are reused while ``data_version`` is unchanged and younger than ``max_age`` (a
    bound for changes made outside ThreeKcal). One thread recomputes a result while the others wait for it.
    The all-users result is never evicted, and users without comments are not cached, so requests for
    unknown names cannot push the useful entries out.
    """

    def __init__(
        self,
        min_interval: float = 2.0,
        max_age: float = 30.0,
        max_entries: int = 64,
        compute: Callable[[Session, StatsScope], dict[str, Any]] | None = None,
    ) -> None:
        self._compute = compute or _from_aggregates
        self.min_interval = min_interval
        self.max_age = max(max_age, min_interval)
        self.max_entries = max_entries
        self._entries: OrderedDict[StatsScope, _Entry] = OrderedDict()
        self._computing: dict[StatsScope, threading.Lock] = {}
        self._empty: dict[str, Any] | None = None
        self._lock = threading.Lock()

    def get(self, session: Session, scope: StatsScope = ALL) -> tuple[dict[str, Any], float]:
        """The statistics of ``scope`` (a user, some label sources) and their age in seconds."""
        entry = self._fresh(scope)
        if entry is not None:
            return entry.result, time.monotonic() - entry.computed_at
        if (
            scope.request_user is not None
            and not self._cached(scope)
            and not _has_comments(session, scope.request_user)
        ):
            return self._nobody(session, scope), 0.0  # one index look-up for a name never seen
        with self._lock:
            computing = self._computing.setdefault(scope, threading.Lock())
        try:
            with computing:
                return self._recompute(session, scope)
        finally:
            with self._lock:
                self._computing.pop(scope, None)

    def _recompute(self, session: Session, scope: StatsScope) -> tuple[dict[str, Any], float]:
        entry = self._fresh(scope)  # another thread may have just computed it
        if entry is not None:
            return entry.result, time.monotonic() - entry.computed_at
        version = data_version(session)
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(scope)
        if entry is not None and entry.version == version and now - entry.computed_at < self.max_age:
            entry.computed_at = now  # checked: still current
            return entry.result, 0.0
        result = self._compute(session, scope)
        self._store(scope, _Entry(version, now, result))
        return result, time.monotonic() - now

    def _cached(self, scope: StatsScope) -> bool:
        with self._lock:
            return scope in self._entries

    def _nobody(self, session: Session, scope: StatsScope) -> dict[str, Any]:
        """The statistics of a name without comments: all the same, computed once."""
        if self._empty is None:
            self._empty = self._compute(session, scope)
        return {**self._empty, "tz": scope.tz}

    def _fresh(self, scope: StatsScope) -> _Entry | None:
        with self._lock:
            entry = self._entries.get(scope)
            if entry is not None and time.monotonic() - entry.computed_at < self.min_interval:
                self._entries.move_to_end(scope)
                return entry
        return None

    def _store(self, scope: StatsScope, entry: _Entry) -> None:
        if scope.request_user is not None and entry.result["counts"]["total"] == 0:
            return  # nobody by that name: not worth a place
        with self._lock:
            self._entries[scope] = entry
            self._entries.move_to_end(scope)
            while len(self._entries) > self.max_entries:
                oldest = next(key for key in self._entries if key != ALL)
                del self._entries[oldest]


# --- Reading the aggregate tables ------------------------------------------------------------------------

CONFIDENCE = 0.95
SMALL_SAMPLE = 30  # a rate on fewer examples is flagged as a small sample
UNKNOWN_MODEL = "unknown"


class UnknownTimeZoneError(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(f"Unknown time zone: {name}")
        self.name = name


def time_zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; UnknownTimeZoneError if there is none by that name."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, IsADirectoryError) as error:
        raise UnknownTimeZoneError(name) from error


def local_day(hour: int, zone: ZoneInfo) -> str:
    """The day (YYYY-MM-DD) in ``zone`` in which the UTC hour ``hour`` (hours since 1970) begins.

    Counts are kept per UTC hour, so a zone's day is the sum of its hours. Zones whose offset is a whole
    number of hours get exact days; with a :30 or :45 offset (India, Nepal, Newfoundland, ...) the one UTC
    hour that straddles local midnight is counted whole in the day it begins in, so comments made up to
    30 or 45 minutes after local midnight can show on the day before."""
    return datetime.fromtimestamp(hour * 3600, zone).date().isoformat()


def wilson_interval(correct: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """The Wilson score interval of the proportion correct / n (scipy's binomtest ``proportion_ci``)."""
    if n <= 0:
        return None
    interval = binomtest(correct, n).proportion_ci(confidence_level=confidence, method="wilson")
    return float(interval.low), float(interval.high)


def _scope_key(scope: StatsScope) -> str:
    return scope.request_user if scope.request_user is not None else aggregates.ALL_USERS


def _in_sources(source: str, scope: StatsScope) -> bool:
    return not scope.label_sources or source in scope.label_sources


def _offset_minutes(hour: int, zone: ZoneInfo) -> int:
    offset = datetime.fromtimestamp(hour * 3600, zone).utcoffset()
    return int(offset.total_seconds() // 60) if offset is not None else 0


def offset_segments(first: int, last: int, zone: ZoneInfo) -> list[tuple[int, int]]:
    """(first hour, UTC offset in minutes) of each stretch of hours in [first, last] with one offset.

    Walks day by day and bisects the day where the offset changes: about one step per day spanned."""
    segments = [(first, _offset_minutes(first, zone))]
    hour = first
    while hour < last:
        step = min(24, last - hour)
        if _offset_minutes(hour + step, zone) != segments[-1][1]:
            low, high = hour, hour + step  # offset(low) is the current one, offset(high) is not
            while high - low > 1:
                middle = (low + high) // 2
                if _offset_minutes(middle, zone) == segments[-1][1]:
                    low = middle
                else:
                    high = middle
            segments.append((high, _offset_minutes(high, zone)))
            hour = high
        else:
            hour += step
    return segments


def _local_day_number(hour: Any, segments: list[tuple[int, int]]) -> Any:
    """SQL: days since 1970-01-01 of the local date in which UTC hour ``hour`` begins (see local_day)."""
    offset: Any = literal(segments[-1][1])
    if len(segments) > 1:
        offset = case(
            *((hour < next_start, literal(minutes)) for (_, minutes), (next_start, _) in pairwise(segments)),
            else_=literal(segments[-1][1]),
        )  # fmt: skip
    return (hour * 60 + offset) // 1440


def _hourly_days(
    session: Session, scope: StatsScope, since: str | None = None, until: str | None = None
) -> list[dict[str, Any]]:
    """Per day in ``scope.tz``: totals, the predicted mix (all and per model version), accuracy with n.

    The database sums the hours into local days (GROUP BY the local day number, computed from the
    zone's offsets over the hours present), so Python sees one row per day, model and label."""
    zone = time_zone(scope.tz)
    table = StatsHourly
    conditions = [table.scope == _scope_key(scope)]
    if since is not None:  # a local day begins at most 14 hours before or 12 after the UTC day
        conditions.append(table.hour >= aggregates.hour_of(datetime.fromisoformat(since)) - 15)
    if until is not None:
        conditions.append(table.hour < aggregates.hour_of(datetime.fromisoformat(until)) + 24 + 15)
    first = session.scalar(select(table.hour).where(*conditions).order_by(table.hour.asc()).limit(1))
    last = session.scalar(select(table.hour).where(*conditions).order_by(table.hour.desc()).limit(1))
    if first is None or last is None:
        return []
    segments = offset_segments(first, last, zone)
    day_number = _local_day_number(table.hour, segments).label("day_number")
    names = ("total", "pending", "labeled", "scored", "correct", "audit_scored", "audit_correct")
    predicted_columns = [f"predicted_{label}" for label in LABELS]
    # For all users the predicted mix of a day is the sum of its mix per model version (read below):
    # the hourly rows are summed without their seven predicted columns (half the work on MariaDB).
    everyone = scope.request_user is None
    summed = names if everyone else (*names, *predicted_columns)
    query = (
        select(day_number, *(func.sum(table.__table__.c[name]) for name in summed))
        .where(*conditions)
        .group_by(day_number)
    )
    epoch = date(1970, 1, 1)
    days: dict[str, dict[str, Any]] = {}
    for number, *sums in session.execute(query):
        counts = [int(value or 0) for value in sums]
        if not counts[0]:
            continue
        day = (epoch + timedelta(days=int(number))).isoformat()
        entry = days[day] = dict(zip(names, counts, strict=False))
        entry["day"] = day
        entry["predicted"] = entry["total"] - entry["pending"]
        mix = counts[len(names) :] or [0] * len(LABELS)
        entry["by_prediction"] = {label: n for label, n in zip(LABELS, mix, strict=True) if n}
        entry["by_model"] = {}
    if everyone:  # the mix per model version is kept for all users only
        models = StatsModelHourly
        model_conditions = [models.hour >= first, models.hour <= last]
        model_day = _local_day_number(models.hour, segments).label("day_number")
        query = (
            select(model_day, models.model_version,
                   *(func.sum(models.__table__.c[name]) for name in predicted_columns))
            .where(*model_conditions)
            .group_by(model_day, models.model_version)
        )  # fmt: skip
        totals: dict[str, list[int]] = {}
        for number, model, *sums in session.execute(query):
            day = (epoch + timedelta(days=int(number))).isoformat()
            counts = [int(n or 0) for n in sums]
            mix = {label: n for label, n in zip(LABELS, counts, strict=True) if n}
            if day in days and mix:
                days[day]["by_model"][model or UNKNOWN_MODEL] = mix
                total = totals.setdefault(day, [0] * len(LABELS))
                for i, n in enumerate(counts):
                    total[i] += n
        for day, total in totals.items():
            days[day]["by_prediction"] = {label: n for label, n in zip(LABELS, total, strict=True) if n}
    result = []
    for day in sorted(days):
        if (since is not None and day < since) or (until is not None and day > until):
            continue
        entry = days[day]
        entry["accuracy"] = entry["correct"] / entry["scored"] if entry["scored"] else None
        entry["audit_accuracy"] = (
            entry["audit_correct"] / entry["audit_scored"] if entry["audit_scored"] else None
        )
        result.append(entry)
    return result


def _labels_figures(session: Session, scope: StatsScope) -> dict[str, Any]:
    """Confusion matrix, calibration, audit accuracy and labelled counts per source, from stats_labels."""
    index = {label: i for i, label in enumerate(LABELS)}
    table = StatsLabel
    query = select(
        table.label_source,
        table.audit,
        table.label,
        table.prediction,
        table.bin,
        table.n,
        table.confidence_nano,
    ).where(table.scope == _scope_key(scope), table.n != 0)
    matrix = [[0] * len(LABELS) for _ in LABELS]
    count = [0] * CALIBRATION_BINS
    confidence_sum = [0.0] * CALIBRATION_BINS
    correct = [0] * CALIBRATION_BINS
    by_source: dict[str, int] = {}
    audit_n = audit_correct = 0
    for source, audit, true_label, predicted, bin_index, n, confidence_nano in session.execute(query):
        key = source or "unknown"
        by_source[key] = by_source.get(key, 0) + n
        if true_label not in index or predicted not in index or not _in_sources(source, scope):
            continue
        matrix[index[true_label]][index[predicted]] += n
        if audit:
            audit_n += n
            audit_correct += n if true_label == predicted else 0
        if bin_index == aggregates.NO_BIN:
            continue
        count[bin_index] += n
        confidence_sum[bin_index] += confidence_nano / aggregates.NANO
        correct[bin_index] += n if true_label == predicted else 0
    interval = wilson_interval(audit_correct, audit_n)
    audit = {
        "n": audit_n,
        "correct": audit_correct,
        "accuracy": audit_correct / audit_n if audit_n else None,
        "ci_low": interval[0] if interval else None,
        "ci_high": interval[1] if interval else None,
        "confidence": CONFIDENCE,
        "method": "wilson",
    }
    return {
        "matrix": matrix,
        "calibration": calibration_from_bins(count, confidence_sum, correct),
        "audit": audit,
        "by_label_source": {source: n for source, n in by_source.items() if n},
    }


def _histogram_from_aggregates(session: Session, scope: StatsScope) -> dict[str, Any]:
    counts = {label: [0] * HISTOGRAM_BINS for label in LABELS}
    query = select(StatsScore.prediction, StatsScore.bin, StatsScore.n).where(
        StatsScore.scope == _scope_key(scope)
    )
    for predicted, bin_index, n in session.execute(query):
        if predicted in counts:
            counts[predicted][bin_index] += n
    return {"bins": [i / HISTOGRAM_BINS for i in range(HISTOGRAM_BINS + 1)], "counts": counts}


def _curves_from_aggregates(session: Session, scope: StatsScope) -> dict[str, Any]:
    positives = {label: [0] * (CURVE_STEPS + 1) for label in LABELS}
    totals = {label: [0] * (CURVE_STEPS + 1) for label in LABELS}
    table = StatsCurve
    query = select(table.label_source, table.curve_label, table.bin, table.n, table.positives).where(
        table.scope == _scope_key(scope)
    )
    for source, label, bin_index, n, n_positive in session.execute(query):
        if label in totals and _in_sources(source, scope):
            positives[label][bin_index] += n_positive
            totals[label][bin_index] += n
    return {label: curves_from_bins(positives[label], totals[label]) for label in LABELS}


def _per_user_from_aggregates(session: Session, scope: StatsScope) -> list[dict[str, Any]]:
    query = select(
        StatsUser.request_user, StatsUser.total, StatsUser.labeled, StatsUser.scored, StatsUser.correct
    )
    if scope.request_user is not None:
        query = query.where(StatsUser.request_user == scope.request_user)
    query = query.where(StatsUser.total > 0).order_by(StatsUser.total.desc(), StatsUser.request_user.asc())
    return [
        per_user_row(user, n, labeled, scored, correct)
        for user, n, labeled, scored, correct in session.execute(query.limit(PER_USER_LIMIT))
    ]


def _supported(matrix: list[list[int]], metrics: dict[str, Any]) -> dict[str, Any]:
    """Classes without support left out of the macro average (their P/R/F1 are shown as "—")."""
    supported = [row for row in metrics["per_class"] if row["support"] > 0]
    names = ("precision", "recall", "f1")
    macro = {m: (sum(row[m] for row in supported) / len(supported) if supported else None) for m in names}
    return {
        "supported_labels": [row["label"] for row in supported],
        "unsupported_labels": [row["label"] for row in metrics["per_class"] if row["support"] == 0],
        "macro_avg_supported": {**macro, "support": sum(map(sum, matrix))},
    }


def per_user_row(user: str, n: int, labeled: int, scored: int, correct: int) -> dict[str, Any]:
    """One user's row of /stats ``per_user``, from the aggregates or the full recomputation alike."""
    return {
        "request_user": user,
        "total": int(n),
        "labeled": int(labeled),
        "scored": int(scored),  # labelled and predicted: the n of accuracy, as in the timeline
        "correct": int(correct),
        "accuracy": int(correct) / int(scored) if scored else None,
    }


def stats_from_aggregates(session: Session, scope: StatsScope = ALL) -> dict[str, Any]:
    """Every figure of ``stats_recompute.compute_stats`` (days in ``scope.tz``) plus the audit accuracy,
    per-day accuracy and model mix, read from the aggregate tables only."""
    days = _hourly_days(session, scope)
    counts = {
        "total": sum(day["total"] for day in days),
        "pending": sum(day["pending"] for day in days),
        "predicted": sum(day["predicted"] for day in days),
        "labeled": sum(day["labeled"] for day in days),
        "labeled_and_predicted": sum(day["scored"] for day in days),
    }
    labelled = _labels_figures(session, scope)
    matrix = labelled["matrix"]
    counts["by_label_source"] = labelled["by_label_source"]
    counts["scored"] = sum(map(sum, matrix))
    metrics = classification_metrics(matrix)
    return {
        "counts": counts,
        "labels": list(LABELS),
        "confusion_matrix": matrix,
        **metrics,
        **_supported(matrix, metrics),
        "accuracy_n": counts["scored"],
        "small_sample": SMALL_SAMPLE,
        "audit": labelled["audit"],
        "score_histogram": _histogram_from_aggregates(session, scope),
        "calibration": labelled["calibration"],
        "curves": _curves_from_aggregates(session, scope),
        "timeline": days,
        "per_user": _per_user_from_aggregates(session, scope),
        "tz": scope.tz,
        "generated_at": utcnow(),
    }


def daily_from_aggregates(
    session: Session, scope: StatsScope = ALL, *, since: str | None = None, until: str | None = None
) -> dict[str, Any]:
    """Per day in ``scope.tz`` between the local days ``since`` and ``until`` (both inclusive)."""
    return {"tz": scope.tz, "days": _hourly_days(session, scope, since, until), "generated_at": utcnow()}
