"""Drift of the active model's predictions: each day's emotion mix and top scores against a reference.

The reference window is the ``THREEKCAL_DRIFT_REFERENCE_DAYS`` days after the active version's promotion,
or a period the caller chooses. Each later day is compared with it the way Evidently does by default:
the predicted emotion (categorical) with a chi-square test on the counts while the reference holds at
most 1,000 predictions and with the Jensen-Shannon distance (threshold THREEKCAL_DRIFT_JS_THRESHOLD)
above that; the top score (numeric) with a two-sample Kolmogorov-Smirnov test. All statistics are
scipy's. A day with drift in either is flagged.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from threekcal.db import registry
from threekcal.db.models import Comment
from threekcal.emotions import LABELS
from threekcal.settings import Settings

CHI_SQUARE_MAX_REFERENCE = 1000  # Evidently: chi-square up to 1,000 objects, Jensen-Shannon above
MIN_DAY_PREDICTIONS = 10  # fewer predictions on a day say nothing about its mix


def _as_utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def compare_day(
    reference_labels: Counter[str],
    reference_scores: np.ndarray,
    day_labels: Counter[str],
    day_scores: np.ndarray,
    *,
    alpha: float,
    js_threshold: float,
) -> dict[str, Any]:
    """The drift figures of one day against the reference."""
    from scipy.spatial.distance import jensenshannon
    from scipy.stats import chi2_contingency, ks_2samp

    present = [label for label in LABELS if reference_labels[label] or day_labels[label]]
    table = np.array(
        [[reference_labels[label] for label in present], [day_labels[label] for label in present]]
    )
    chi_p = float(chi2_contingency(table).pvalue) if len(present) > 1 else 1.0
    reference_mix = np.array([reference_labels[label] for label in LABELS], float)
    day_mix = np.array([day_labels[label] for label in LABELS], float)
    js = float(jensenshannon(reference_mix / reference_mix.sum(), day_mix / day_mix.sum(), base=2))
    ks = ks_2samp(reference_scores, day_scores)
    reference_size = int(reference_mix.sum())
    label_drift = chi_p < alpha if reference_size <= CHI_SQUARE_MAX_REFERENCE else js >= js_threshold
    score_drift = float(ks.pvalue) < alpha
    return {
        "count": int(day_mix.sum()),
        "mix": {label: int(day_labels[label]) for label in LABELS},
        "chi_square_p": chi_p,
        "jensen_shannon": js,
        "ks_statistic": float(ks.statistic),
        "ks_p": float(ks.pvalue),
        "label_drift": bool(label_drift),
        "score_drift": bool(score_drift),
        "flagged": bool(label_drift or score_drift),
    }


def drift_report(
    session: Session,
    settings: Settings,
    *,
    reference_start: datetime | None = None,
    reference_end: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """Per-day drift of the active version's predictions since its reference window (by request day)."""
    active = registry.active_version(session)
    if active is None or not active.tag:
        return {"version_id": active.id if active else None, "reference": None, "days": [],
                "note": "no active model has made predictions yet"}  # fmt: skip
    if reference_start is None:
        reference_start = _as_utc(active.promoted_at or active.created_at)
    if reference_end is None:
        reference_end = reference_start + timedelta(days=settings.drift_reference_days)
    reference_start, reference_end = _as_utc(reference_start), _as_utc(reference_end)
    if reference_end <= reference_start:
        raise ValueError("the reference window must end after it starts")
    query = select(Comment.request_time, Comment.prediction_result, Comment.prediction_score).where(
        Comment.model_version.startswith(f"{active.tag}+", autoescape=True),
        Comment.request_time >= min(reference_start, reference_end),
    )
    if until is not None:
        query = query.where(Comment.request_time < _as_utc(until))
    reference_labels: Counter[str] = Counter()
    reference_scores: list[float] = []
    day_labels: dict[date, Counter[str]] = defaultdict(Counter)
    day_scores: dict[date, list[float]] = defaultdict(list)
    for requested, label, score in session.execute(query):
        requested = _as_utc(requested)
        if reference_start <= requested < reference_end:
            reference_labels[label] += 1
            reference_scores.append(score)
        elif requested >= reference_end:
            day = requested.date()
            day_labels[day][label] += 1
            day_scores[day].append(score)
    report: dict[str, Any] = {
        "version_id": active.id,
        "tag": active.tag,
        "reference": {
            "start": reference_start.isoformat(),
            "end": reference_end.isoformat(),
            "count": sum(reference_labels.values()),
            "mix": {label: int(reference_labels[label]) for label in LABELS},
        },
        "alpha": settings.significance_level,
        "js_threshold": settings.drift_js_threshold,
        "days": [],
    }
    if sum(reference_labels.values()) < MIN_DAY_PREDICTIONS:
        report["note"] = "the reference window holds too few predictions to compare against"
        return report
    for day in sorted(day_labels):
        entry: dict[str, Any] = {"day": day.isoformat()}
        if sum(day_labels[day].values()) < MIN_DAY_PREDICTIONS:
            entry |= {"count": sum(day_labels[day].values()), "flagged": False, "note": "too few predictions"}
        else:
            entry |= compare_day(
                reference_labels,
                np.asarray(reference_scores),
                day_labels[day],
                np.asarray(day_scores[day]),
                alpha=settings.significance_level,
                js_threshold=settings.drift_js_threshold,
            )
        report["days"].append(entry)
    report["flagged_days"] = [entry["day"] for entry in report["days"] if entry["flagged"]]
    return report
