"""The other pages' figures and what they share: the Home page's flow diagram, one comment's
probabilities (Upload, Label, Annotate), the Models page's comparison, the confusion heatmap and the
per-day date axis (ui/charts/common.py, home.py, comment.py, models.py)."""

from __future__ import annotations

import numpy as np
import pytest

from threekcal.emotions import LABELS
from threekcal.ui.charts import comment, common, home, models


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_flow_diagram_is_dot_in_both_languages(lang: str) -> None:
    dot = home.flow_dot(lang)
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    assert dot.count("->") == 10
    assert dot.count('"') % 2 == 0


def test_probabilities_are_drawn_highest_on_top_with_percentages() -> None:
    scores = {"joy": 0.7, "anger": 0.1, "fear": 0.2}
    bars = comment.probabilities_figure(scores, "en").data[0]
    assert list(bars.x) == [0.1, 0.2, 0.7]
    assert list(bars.y) == ["🤬 anger", "😨 fear", "😀 joy"]
    assert list(bars.text) == ["10.0%", "20.0%", "70.0%"]


def evaluation() -> dict:
    labels = list(LABELS)
    identity = np.eye(len(labels), dtype=int).tolist()
    return {
        "active_version_id": 1,
        "candidate": {
            "labels": labels,
            "per_class_f1": dict.fromkeys(labels, 0.5),
            "confusion_matrix": identity,
        },
        "active": {
            "labels": labels,
            "per_class_f1": dict.fromkeys(labels, 0.25),
            "confusion_matrix": identity,
        },
    }


def test_models_page_compares_candidate_and_active_per_emotion() -> None:
    figure = models.per_class_f1_figure(evaluation(), 2, "en")
    assert [trace.name for trace in figure.data] == [
        "Candidate (version 2)",
        "Active at training (version 1)",
    ]
    assert list(figure.data[0].y) == [0.5] * 7 and list(figure.data[1].y) == [0.25] * 7
    confusion = models.side_confusion_figure(evaluation(), "active", "Active #1", "en")
    assert confusion.layout.title.text == "Active #1"
    assert np.asarray(confusion.data[0].z).tolist() == evaluation()["active"]["confusion_matrix"]
    assert list(confusion.data[0].y)[3] == "😀 joy"  # the Models page's rows keep their plain names


def test_day_axis_ticks_whole_days_and_at_most_ten_of_them() -> None:
    one = common.day_axis(["2026-11-30"], "Day")
    assert (one["type"], one["tickformat"], one["dtick"]) == ("date", "%Y-%m-%d", common.DAY_MS)
    assert one["range"] == ["2026-11-29T12:00:00", "2026-11-30T12:00:00"]
    long = common.day_axis(["2026-01-01", "2026-04-10"], "Day")  # 100 days
    assert long["dtick"] == 10 * common.DAY_MS
    assert "dtick" not in common.day_axis([], "Day")
