"""Held-out comparison of two models on the same comments: metrics, a paired test and a verdict.

Metrics come from scikit-learn; the paired test is the exact McNemar test, i.e. a two-sided binomial test
(scipy) on the comments exactly one of the two models gets right. Expected calibration error has no
library function in scikit-learn (``calibration_curve`` is one-vs-rest and drops bin weights), so it is
the standard equal-width-bin formula over the top score.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from threekcal.emotions import LABELS

Verdict = Literal["better", "no significant difference", "worse"]
ECE_BINS = 10


def expected_calibration_error(confidences: np.ndarray, correct: np.ndarray, bins: int = ECE_BINS) -> float:
    """Sum over equal-width confidence bins of |accuracy - mean confidence| weighted by the bin's share."""
    if len(confidences) == 0:
        return 0.0
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidences, edges[1:-1], right=True), 0, bins - 1)
    total = 0.0
    for index in range(bins):
        in_bin = which == index
        if in_bin.any():
            total += in_bin.mean() * abs(correct[in_bin].mean() - confidences[in_bin].mean())
    return float(total)


def model_metrics(
    truth: Sequence[str], predicted: Sequence[str], confidences: Sequence[float]
) -> dict[str, Any]:
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    truth_array, predicted_array = np.asarray(truth), np.asarray(predicted)
    per_class = f1_score(truth_array, predicted_array, labels=list(LABELS), average=None, zero_division=0)
    correct = (truth_array == predicted_array).astype(float)
    return {
        "n": len(truth_array),
        "accuracy": float(accuracy_score(truth_array, predicted_array)),
        "macro_f1": float(
            f1_score(truth_array, predicted_array, labels=list(LABELS), average="macro", zero_division=0)
        ),
        "per_class_f1": {label: float(value) for label, value in zip(LABELS, per_class, strict=True)},
        "ece": expected_calibration_error(np.asarray(confidences, dtype=float), correct),
        "confusion_matrix": confusion_matrix(truth_array, predicted_array, labels=list(LABELS)).tolist(),
        "labels": list(LABELS),
    }


def mcnemar_exact(candidate_correct: Sequence[bool], active_correct: Sequence[bool]) -> dict[str, Any]:
    """Exact McNemar: binomial test of the discordant pairs against p = 0.5."""
    from scipy.stats import binomtest

    candidate, active = np.asarray(candidate_correct, bool), np.asarray(active_correct, bool)
    only_candidate = int(np.sum(candidate & ~active))
    only_active = int(np.sum(active & ~candidate))
    discordant = only_candidate + only_active
    p_value = float(binomtest(only_candidate, discordant, 0.5).pvalue) if discordant else 1.0
    return {"only_candidate_right": only_candidate, "only_active_right": only_active, "p_value": p_value}


def verdict(test: dict[str, Any], alpha: float) -> Verdict:
    if test["p_value"] >= alpha or test["only_candidate_right"] == test["only_active_right"]:
        return "no significant difference"
    return "better" if test["only_candidate_right"] > test["only_active_right"] else "worse"


def compare(
    truth: Sequence[str],
    candidate: Sequence[tuple[str, float]],
    active: Sequence[tuple[str, float]],
    *,
    alpha: float,
) -> dict[str, Any]:
    """Candidate vs active on the same held-out comments (``(label, top score)`` per comment)."""
    if not (len(truth) == len(candidate) == len(active)):
        raise ValueError("the two models must be evaluated on the same comments")
    candidate_labels = [label for label, _ in candidate]
    active_labels = [label for label, _ in active]
    test = mcnemar_exact(
        [c == t for c, t in zip(candidate_labels, truth, strict=True)],
        [a == t for a, t in zip(active_labels, truth, strict=True)],
    )
    return {
        "eval_size": len(truth),
        "candidate": model_metrics(truth, candidate_labels, [score for _, score in candidate]),
        "active": model_metrics(truth, active_labels, [score for _, score in active]),
        "mcnemar": test,
        "alpha": alpha,
        "verdict": verdict(test, alpha),
    }
