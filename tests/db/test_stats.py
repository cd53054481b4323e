"""Statistics computed in SQL equal scikit-learn's on the same 1,000 labelled rows (SQLite and MariaDB)."""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    classification_report,
    confusion_matrix,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)
from sqlalchemy import event

from threekcal.db import stats, stats_recompute
from threekcal.db.models import Comment
from threekcal.db.session import engine_for, session_scope
from threekcal.emotions import LABELS

USERS = ("ana", "bo", "chen", "dara", "eun")
DAY0 = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)


def _dataset(seed: int = 20261124) -> list[dict]:
    """1,000 labelled + 150 predicted-only + 60 pending + 10 labelled-but-pending rows.

    Nobody's true label is 'surprise' and the model never predicts 'disgust', so zero_division matters.
    """
    rng = np.random.default_rng(seed)
    rows = []
    disgust, surprise = LABELS.index("disgust"), LABELS.index("surprise")
    for i in range(1210):
        kind = (
            "labelled" if i < 1000 else "predicted" if i < 1150 else "pending" if i < 1200 else "label_only"
        )
        probs = rng.dirichlet(np.full(len(LABELS), 0.6))
        probs[disgust] *= 0.001
        probs /= probs.sum()
        predicted = int(np.argmax(probs))
        true = predicted if rng.random() < 0.55 else int(rng.integers(len(LABELS)))
        if true == surprise:
            true = LABELS.index("neutral")
        row = {
            "request_user": USERS[int(rng.integers(len(USERS)))] if i % 7 else "ana",
            "request_time": DAY0 + timedelta(hours=int(rng.integers(0, 24 * 5))),
            "label": LABELS[true] if kind in ("labelled", "label_only") else None,
        }
        if kind in ("labelled", "predicted"):
            row |= {
                "prediction_result": LABELS[predicted],
                "prediction_score": float(probs[predicted]),
                "prediction_scores": {label: float(p) for label, p in zip(LABELS, probs, strict=True)},
            }
        rows.append(row)
    return rows


@pytest.fixture
def dataset(db_url: str) -> list[dict]:
    rows = _dataset()
    with session_scope(db_url) as session:
        session.add_all(Comment(comments=f"c{i}", receipt=f"r{i}", **row) for i, row in enumerate(rows))
    return rows


def _scored(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r["label"] and r.get("prediction_result")]


def _compute(db_url: str, request_user: str | None = None) -> tuple[dict, list[str]]:
    statements: list[str] = []
    engine = engine_for(db_url)

    def record(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        with session_scope(db_url) as session:
            return stats_recompute.compute_stats(session, stats.StatsScope(request_user)), statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _assert_matches_sklearn(result: dict, rows: list[dict]) -> None:
    scored = _scored(rows)
    y_true = [r["label"] for r in scored]
    y_pred = [r["prediction_result"] for r in scored]
    assert result["confusion_matrix"] == confusion_matrix(y_true, y_pred, labels=list(LABELS)).tolist()
    assert result["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred), abs=1e-12)
    report = classification_report(y_true, y_pred, labels=list(LABELS), output_dict=True, zero_division=0)
    for row in result["per_class"]:
        expected = report[row["label"]]
        assert row["support"] == expected["support"]
        for metric, key in (("precision", "precision"), ("recall", "recall"), ("f1", "f1-score")):
            assert row[metric] == pytest.approx(expected[key], abs=1e-12), (row["label"], metric)
    for ours, theirs in (("macro_avg", "macro avg"), ("weighted_avg", "weighted avg")):
        assert result[ours]["support"] == report[theirs]["support"]
        for metric, key in (("precision", "precision"), ("recall", "recall"), ("f1", "f1-score")):
            assert result[ours][metric] == pytest.approx(report[theirs][key], abs=1e-12), (ours, metric)


def test_counts(db_url: str, dataset: list[dict]) -> None:
    result, _ = _compute(db_url)
    assert result["counts"] == {
        "total": 1210,
        "pending": 60,
        "predicted": 1150,
        "labeled": 1010,
        "labeled_and_predicted": 1000,
        "scored": 1000,
        "by_label_source": {"unknown": 1010},  # rows written without provenance
    }
    assert result["labels"] == list(LABELS)


def test_classification_metrics_equal_sklearn(db_url: str, dataset: list[dict]) -> None:
    result, statements = _compute(db_url)
    _assert_matches_sklearn(result, dataset)
    per_class = {row["label"]: row for row in result["per_class"]}
    assert per_class["surprise"]["support"] == 0 and per_class["disgust"]["precision"] == 0.0
    assert len(statements) == 6  # a few GROUP BYs (one of them per label source), never row by row


def test_metrics_for_one_user_equal_sklearn(db_url: str, dataset: list[dict]) -> None:
    result, _ = _compute(db_url, request_user="ana")
    mine = [r for r in dataset if r["request_user"] == "ana"]
    _assert_matches_sklearn(result, mine)
    assert result["counts"]["total"] == len(mine)
    assert [u["request_user"] for u in result["per_user"]] == ["ana"]


def test_score_histogram_equals_numpy(db_url: str, dataset: list[dict]) -> None:
    result, _ = _compute(db_url)
    edges = np.linspace(0, 1, 21)
    assert result["score_histogram"]["bins"] == pytest.approx(edges.tolist())
    for label in LABELS:
        scores = [r["prediction_score"] for r in dataset if r.get("prediction_result") == label]
        assert result["score_histogram"]["counts"][label] == np.histogram(scores, bins=edges)[0].tolist(), (
            label
        )
    assert sum(map(sum, result["score_histogram"]["counts"].values())) == 1150


def test_calibration_and_ece(db_url: str, dataset: list[dict]) -> None:
    result, _ = _compute(db_url)
    calibration = result["calibration"]
    scored = _scored(dataset)
    confidence = np.array([r["prediction_score"] for r in scored])
    correct = np.array([r["label"] == r["prediction_result"] for r in scored])
    bins = np.minimum((confidence * 10).astype(int), 9)
    expected_count = np.bincount(bins, minlength=10)
    assert calibration["count"] == expected_count.tolist()
    ece = 0.0
    for b in range(10):
        members = bins == b
        if not members.any():
            assert calibration["mean_confidence"][b] is None and calibration["accuracy"][b] is None
            continue
        assert calibration["mean_confidence"][b] == pytest.approx(confidence[members].mean(), abs=1e-12)
        assert calibration["accuracy"][b] == pytest.approx(correct[members].mean(), abs=1e-12)
        ece += members.sum() / len(scored) * abs(correct[members].mean() - confidence[members].mean())
    assert calibration["ece"] == pytest.approx(ece, abs=1e-12)


def _same_bin_pair_share(scores: np.ndarray, positive: np.ndarray) -> float:
    bins = np.minimum(np.floor(scores * 50), 50)
    pos, neg = Counter(bins[positive]), Counter(bins[~positive])
    return sum(pos[b] * neg[b] for b in pos) / (positive.sum() * (~positive).sum())


def test_roc_and_pr_curves_equal_sklearn_on_binned_scores(db_url: str, dataset: list[dict]) -> None:
    """Exact on the scores floored to 0.02; against the raw scores AUC stays within half the share of
    positive/negative pairs that share a bin (the tolerance binning allows, documented in db/stats.py)."""
    result, _ = _compute(db_url)
    scored = _scored(dataset)
    for label in LABELS:
        curve = result["curves"][label]
        scores = np.array([r["prediction_scores"][label] for r in scored])
        positive = np.array([r["label"] == label for r in scored])
        if not positive.any():
            assert curve["roc"]["auc"] is None and curve["pr"]["average_precision"] is None
            continue
        binned = np.minimum(np.floor(scores * 50), 50) / 50
        fpr, tpr, _ = roc_curve(positive, binned, drop_intermediate=False)
        assert curve["roc"]["fpr"] == pytest.approx(fpr.tolist(), abs=1e-12), label
        assert curve["roc"]["tpr"] == pytest.approx(tpr.tolist(), abs=1e-12), label
        assert curve["roc"]["auc"] == pytest.approx(roc_auc_score(positive, binned), abs=1e-12), label
        precision, recall, _ = precision_recall_curve(positive, binned)
        assert curve["pr"]["precision"] == pytest.approx(precision.tolist(), abs=1e-12), label
        assert curve["pr"]["recall"] == pytest.approx(recall.tolist(), abs=1e-12), label
        assert curve["pr"]["average_precision"] == pytest.approx(
            average_precision_score(positive, binned), abs=1e-12
        ), label
        tolerance = _same_bin_pair_share(scores, positive) / 2
        assert abs(curve["roc"]["auc"] - roc_auc_score(positive, scores)) <= tolerance + 1e-12, label


def test_timeline_by_utc_day_and_prediction(db_url: str, dataset: list[dict]) -> None:
    result, _ = _compute(db_url)
    totals = Counter(r["request_time"].date().isoformat() for r in dataset)
    assert [(d["day"], d["total"]) for d in result["timeline"]] == sorted(totals.items())
    for day in result["timeline"]:
        expected = Counter(
            r["prediction_result"]
            for r in dataset
            if r["request_time"].date().isoformat() == day["day"] and r.get("prediction_result")
        )
        assert day["by_prediction"] == dict(expected)


def test_per_user_table(db_url: str, dataset: list[dict]) -> None:
    result, _ = _compute(db_url)
    expected = []
    for user in USERS:
        mine = [r for r in dataset if r["request_user"] == user]
        scored = _scored(mine)
        correct = sum(r["label"] == r["prediction_result"] for r in scored)
        expected.append(
            {
                "request_user": user,
                "total": len(mine),
                "labeled": sum(1 for r in mine if r["label"]),
                "scored": len(scored),
                "correct": correct,
                "accuracy": correct / len(scored),
            }
        )
    expected.sort(key=lambda u: (-u["total"], u["request_user"]))
    assert [{**u, "accuracy": pytest.approx(u["accuracy"])} for u in expected] == result["per_user"]


def test_empty_database(db_url: str) -> None:
    result, _ = _compute(db_url)
    assert result["counts"] == {
        **dict.fromkeys(("total", "pending", "predicted", "labeled", "labeled_and_predicted", "scored"), 0),
        "by_label_source": {},
    }
    assert result["accuracy"] is None and result["calibration"]["ece"] is None
    assert result["confusion_matrix"] == [[0] * 7 for _ in range(7)]
    assert all(row["f1"] == 0.0 and row["support"] == 0 for row in result["per_class"])
    assert all(c["roc"]["auc"] is None for c in result["curves"].values())
    assert result["timeline"] == [] and result["per_user"] == []


def test_curves_from_bins_edge_cases() -> None:
    only_negatives = stats.curves_from_bins([0, 0, 0], [2, 0, 1])
    assert only_negatives["roc"]["auc"] is None and only_negatives["pr"]["average_precision"] is None
    perfect = stats.curves_from_bins([0, 3], [2, 3])
    assert perfect["roc"]["auc"] == 1.0 and perfect["pr"]["average_precision"] == 1.0
    assert not math.isnan(stats.curves_from_bins([1], [1])["pr"]["average_precision"])
