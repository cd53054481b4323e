"""What the Statistics page says about its numbers, free of Streamlit: rates written with their n, small
samples flagged, classes without support left out of the macro average, Wilson intervals for the rates
the page computes from counts itself (per true label, per day).

Everything here works on the ``GET /stats`` answer (counts already aggregated by the database); nothing
recomputes statistics from comments.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from scipy.stats import binomtest

from threekcal.emotions import LABELS

Stats = Mapping[str, Any]
METRICS = ("precision", "recall", "f1")
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Rate:
    """``correct`` out of ``n``, with its 95% Wilson interval (none when n is 0)."""

    correct: int
    n: int
    low: float | None = None
    high: float | None = None

    @property
    def value(self) -> float | None:
        return self.correct / self.n if self.n else None

    @property
    def above(self) -> float | None:
        """How far the interval reaches above the rate (an error bar's upper arm)."""
        value = self.value
        return None if value is None or self.high is None else self.high - value

    @property
    def below(self) -> float | None:
        value = self.value
        return None if value is None or self.low is None else value - self.low


def wilson(correct: int, n: int) -> Rate:
    """The share ``correct / n`` with its 95% Wilson score interval (scipy's binomtest)."""
    if n <= 0:
        return Rate(0, 0)
    interval = binomtest(int(correct), int(n)).proportion_ci(confidence_level=CONFIDENCE, method="wilson")
    return Rate(int(correct), int(n), float(interval.low), float(interval.high))


def percent(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}%}"


def rate_text(value: float | None, n: int, digits: int = 0) -> str:
    """'100% (n=3)'; '— (n=0)' when there is nothing to divide."""
    return f"{percent(value if n else None, digits)} (n={int(n):,})"


def interval_text(low: float | None, high: float | None, digits: int = 1) -> str:
    """'48.2%–74.1%'; empty when there is no interval."""
    if low is None or high is None:
        return ""
    return f"{low:.{digits}%}–{high:.{digits}%}"


def readable(frame: pd.DataFrame, formats: Mapping[str, str]) -> pd.DataFrame:
    """The columns in ``formats`` as the text they are shown as, "—" where a value is missing.

    The browser's table draws a missing number as "None" whatever a pandas Styler says, so the page sends
    text for the columns that can be missing (precision of a class nobody labelled, a user's accuracy)."""
    shown = frame.copy()
    for column, pattern in formats.items():
        shown[column] = [("—" if pd.isna(value) else pattern.format(value)) for value in frame[column]]
    return shown


def is_small(n: int, small: int) -> bool:
    """A sample too small to trust a rate from: fewer than ``small`` (and more than none)."""
    return 0 < n < small


def stats_labels(stats: Stats) -> list[str]:
    return list(stats.get("labels") or LABELS)


def label_rates(stats: Stats) -> dict[str, Rate]:
    """Per true label: the comments of it the model got right (the confusion matrix's rows)."""
    matrix = stats.get("confusion_matrix") or []
    rates = {}
    for index, label in enumerate(stats_labels(stats)):
        row = matrix[index] if index < len(matrix) else []
        rates[label] = wilson(row[index] if row else 0, sum(row))
    return rates


def small_sample(stats: Stats) -> int:
    """Rates from fewer comments than this are flagged (the API says its threshold)."""
    return int(stats["small_sample"])


def unsupported_classes(stats: Stats) -> list[str]:
    """Classes without a labelled (and predicted) comment: their precision, recall and F1 read "—"."""
    return list(stats.get("unsupported_labels") or [])


def macro_average(stats: Stats) -> dict[str, float | None]:
    """Precision, recall and F1 averaged over the classes with at least one labelled comment only, as the
    API computes it (a class nobody labelled has no recall; counting it as 0 would pull the average down)."""
    supported = stats.get("macro_avg_supported") or {}
    return {metric: supported.get(metric) for metric in METRICS}


def accuracy_n(stats: Stats) -> int:
    """The n behind the accuracy over all labels: labelled and predicted comments (selected sources)."""
    return int(stats.get("accuracy_n") or 0)


def audit_rate(stats: Stats) -> Rate:
    """Accuracy on the audit sample (uniformly random comments) with the API's 95% Wilson interval."""
    audit = stats.get("audit") or {}
    return Rate(
        int(audit.get("correct") or 0), int(audit.get("n") or 0), audit.get("ci_low"), audit.get("ci_high")
    )
