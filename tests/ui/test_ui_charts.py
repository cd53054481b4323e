"""Figures and tables built from /stats: the derived numbers are right and empty data draws nothing."""

from __future__ import annotations

import numpy as np
import pytest
from ui_api import RealApi

from threekcal.emotions import LABELS
from threekcal.ui import charts


def row(num: int, truth: str | None, predicted: str | None, confidence: float = 0.7, day: int = 1) -> dict:
    scores = None
    if predicted:
        rest = (1 - confidence) / 6
        scores = {label: confidence if label == predicted else rest for label in LABELS}
    return {
        "num": num,
        "request_user": f"u{num % 2}",
        "request_time": f"2026-11-{day:02d}T08:00:00Z",
        "prediction_result": predicted,
        "prediction_score": confidence if predicted else None,
        "prediction_scores": scores,
        "label": truth,
    }


@pytest.fixture
def stats(real_api: RealApi) -> dict:
    """What the real GET /stats answers for these rows."""
    rows = [
        row(1, "joy", "joy", 0.9, day=1),
        row(2, "joy", "sadness", 0.55, day=1),
        row(3, "anger", "anger", 0.8, day=2),
        row(4, "anger", "joy", 0.35, day=2),
        row(5, "fear", "fear", 0.95, day=3),
        row(6, None, "joy", 0.6, day=3),
        row(7, None, None, day=3),
    ]
    real_api.insert_rows(rows)
    return real_api.stats()


def test_per_label_accuracy_is_the_diagonal_over_each_row(stats: dict) -> None:
    accuracy = charts.per_label_accuracy(stats)
    assert accuracy["joy"] == 0.5 and accuracy["anger"] == 0.5 and accuracy["fear"] == 1.0
    assert accuracy["surprise"] is None  # no comment is truly surprise


def test_row_normalised_confusion_sums_to_one_per_labelled_row(stats: dict) -> None:
    frame = charts.confusion_frame(stats, "en", normalise=True)
    sums = frame.sum(axis=1, min_count=1)
    assert sums["😀 joy"] == pytest.approx(1.0) and sums["🤬 anger"] == pytest.approx(1.0)
    assert np.isnan(sums["😲 surprise"])
    counts = charts.confusion_frame(stats, "ko")
    assert counts.loc["😀 기쁨", "😭 슬픔"] == 1


def test_one_vs_rest_counts_partition_the_labelled_comments(stats: dict) -> None:
    frame = charts.one_vs_rest_frame(stats, "en").set_index("label")
    total = stats["counts"]["labeled_and_predicted"]
    assert (frame[["tp", "fp", "fn", "tn"]].sum(axis=1) == total).all()
    joy = frame.loc["😀 joy"]
    assert (joy.tp, joy.fp, joy.fn, joy.tn) == (1, 1, 1, 2)
    figure = charts.one_vs_rest_figure(stats, "en", "joy")
    assert np.asarray(figure.data[0].z).tolist() == [[1, 1], [1, 2]]


def test_score_density_has_unit_area(stats: dict) -> None:
    figure = charts.score_density_figure(stats, "en")
    width = 1 / 20
    assert figure.data, "one line per predicted label"
    for trace in figure.data:
        assert sum(trace.y) * width == pytest.approx(1.0)


def test_label_mix_shares_sum_to_one_per_day(stats: dict) -> None:
    figure = charts.mix_figure(stats, "en")
    shares = np.array([trace.y for trace in figure.data], dtype=float)
    assert shares.sum(axis=0) == pytest.approx(np.ones(shares.shape[1]))
    volume = charts.volume_figure(stats, "en")
    assert list(volume.data[0].y) == [2, 2, 3]


def test_reliability_leaves_out_empty_bins(stats: dict) -> None:
    figure = charts.reliability_figure(stats, "en")
    model = figure.data[1]
    assert len(model.x) == sum(1 for count in stats["calibration"]["count"] if count)
    assert "ECE" in figure.layout.title.text


def test_curves_only_for_emotions_with_both_classes(stats: dict) -> None:
    assert set(charts.curve_labels(stats)) == {"joy", "anger", "fear"}
    assert len(charts.roc_figure(stats, "en").data) == 1 + 3
    frame = charts.curves_frame(stats, "en").set_index("label")
    assert frame.loc["😲 surprise"].isna().all()


def test_per_class_frame_adds_macro_and_weighted_rows(stats: dict) -> None:
    frame = charts.per_class_frame(stats, "en")
    assert frame["label"].tolist()[-2:] == ["macro average", "weighted average"]
    assert len(frame) == len(LABELS) + 2


def test_empty_stats_draw_without_errors(real_api: RealApi) -> None:
    empty = real_api.stats()  # an empty database
    for build in (
        charts.accuracy_by_label_figure,
        charts.confusion_figure,
        charts.per_class_figure,
        charts.score_histogram_figure,
        charts.score_density_figure,
        charts.reliability_figure,
        charts.roc_figure,
        charts.pr_figure,
        charts.volume_figure,
        charts.mix_figure,
    ):
        build(empty, "en")
    assert charts.curve_labels(empty) == []
    assert charts.per_user_frame(empty).empty


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_flow_diagram_is_dot_in_both_languages(lang: str) -> None:
    dot = charts.flow_dot(lang)
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    assert dot.count("->") == 10
    assert dot.count('"') % 2 == 0
