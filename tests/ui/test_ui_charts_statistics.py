"""The Statistics page's figures and tables (ui/charts/statistics.py), built from what the real GET /stats
answers: the derived numbers are right, every rate carries its n, classes nobody labelled read "—" and
stay out of the macro average, days come in the viewer's zone, and empty data draws nothing."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest
from ui_api import RealApi

from threekcal.emotions import LABELS
from threekcal.ui.charts import statistics as charts
from threekcal.ui.charts.common import DAY_MS

SMALL = 30


def row(
    num: int,
    truth: str | None,
    predicted: str | None,
    confidence: float = 0.7,
    day: int = 1,
    *,
    hour: str = "08:00",
    model: str = "v1",
    audit: bool = False,
) -> dict:
    scores = None
    if predicted:
        rest = (1 - confidence) / 6
        scores = {label: confidence if label == predicted else rest for label in LABELS}
    return {
        "num": num,
        "request_user": f"u{num % 2}",
        "request_time": f"2026-11-{day:02d}T{hour}:00+00:00",
        "prediction_result": predicted,
        "prediction_score": confidence if predicted else None,
        "prediction_scores": scores,
        "model_version": model,
        "label": truth,
        "audit": audit,
    }


ROWS = [
    row(1, "joy", "joy", 0.9, day=1, audit=True),
    row(2, "joy", "sadness", 0.55, day=1, audit=True),
    row(3, "anger", "anger", 0.8, day=2, model="v2"),
    row(4, "anger", "joy", 0.35, day=2, model="v2"),
    row(5, "fear", "fear", 0.95, day=3, model="v2"),
    row(6, None, "joy", 0.6, day=3),
    row(7, None, None, day=3),
]


@pytest.fixture
def stats(real_api: RealApi) -> dict:
    """What the real GET /stats answers for ROWS."""
    real_api.insert_rows(ROWS)
    return real_api.stats()


def test_per_label_accuracy_is_the_diagonal_over_each_row(stats: dict) -> None:
    accuracy = charts.per_label_accuracy(stats)
    assert accuracy["joy"] == 0.5 and accuracy["anger"] == 0.5 and accuracy["fear"] == 1.0
    assert accuracy["surprise"] is None  # no comment is truly surprise


def test_accuracy_bars_carry_n_a_wilson_interval_and_a_dash_without_support(stats: dict) -> None:
    figure = charts.accuracy_by_label_figure(stats, "en", small=SMALL)
    bars = figure.data[0]
    text = dict(zip(bars.x, bars.text, strict=True))
    assert text["😀 joy"] == "50% (n=2)" and text["😨 fear"] == "100% (n=1)"
    assert text["😲 surprise"] == "— (n=0)"
    assert bars.y[LABELS.index("surprise")] is None  # no bar drawn, and no made-up zero
    assert [a.text for a in figure.layout.annotations if a.x == "😲 surprise"] == ["— (n=0)"]
    interval = binomtest(1, 2).proportion_ci(0.95, method="wilson")
    joy = LABELS.index("joy")
    assert bars.y[joy] + bars.error_y.array[joy] == pytest.approx(interval.high)
    assert bars.y[joy] - bars.error_y.arrayminus[joy] == pytest.approx(interval.low)
    # every bar rests on fewer than 30 comments: all hatched
    shapes = bars.marker.pattern.shape
    assert [
        shape for label, shape in zip(LABELS, shapes, strict=True) if label in ("joy", "anger", "fear")
    ] == ["/"] * 3
    assert "(n=5)" in figure.layout.annotations[-1].text  # the overall line says its n too


def test_confusion_rows_are_named_with_their_n(stats: dict) -> None:
    figure = charts.confusion_figure(stats, "en", row_counts=True)
    assert list(figure.data[0].y)[LABELS.index("joy")] == "😀 joy (n=2)"
    assert list(figure.data[0].x)[LABELS.index("joy")] == "😀 joy"
    frame = charts.confusion_frame(stats, "en", normalise=True)
    sums = frame.sum(axis=1, min_count=1)
    assert sums["😀 joy"] == pytest.approx(1.0) and np.isnan(sums["😲 surprise"])
    assert charts.confusion_frame(stats, "ko").loc["😀 기쁨", "😭 슬픔"] == 1


def test_per_class_leaves_unsupported_classes_empty_and_out_of_the_macro_average(stats: dict) -> None:
    frame = charts.per_class_frame(stats, "en", small=SMALL).set_index("label")
    assert frame.loc["😲 surprise", ["precision", "recall", "f1"]].isna().all()  # drawn as "—"
    assert frame.loc["😲 surprise", "sample"] == "no labelled comment"
    assert frame.loc["😀 joy", "sample"] == "⚠ small sample (n < 30)"
    supported = [item for item in stats["per_class"] if item["support"]]
    assert len(supported) == 3
    macro = frame.loc["macro average"]
    assert macro["f1"] == pytest.approx(sum(item["f1"] for item in supported) / 3)
    assert macro["f1"] == pytest.approx(stats["macro_avg_supported"]["f1"])
    assert macro["f1"] > stats["macro_avg"]["f1"]  # the all-7 average is pulled down by the empty ones
    assert macro["sample"] == "over 3 of 7 classes"
    assert list(frame.index[-2:]) == ["macro average", "weighted average"]
    figure = charts.per_class_figure(stats, "en", small=SMALL)
    assert list(figure.data[0].x) == ["🤬 anger (n=2)", "😨 fear (n=1)", "😀 joy (n=2)"]


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


def test_mix_is_split_by_model_version_with_shares_summing_to_one_and_n_on_top(stats: dict) -> None:
    figure = charts.mix_figure(stats, "en")
    titles = [annotation.text for annotation in figure.layout.annotations]
    assert titles == ["model v1", "model v2"]
    for axis in ("x", "x2"):  # v1 on days 1 and 3, v2 on days 2 and 3
        bars = [trace for trace in figure.data if trace.type == "bar" and trace.xaxis == axis]
        shares = np.array([trace.y for trace in bars], dtype=float)
        assert shares.sum(axis=0) == pytest.approx(np.ones(shares.shape[1]))
    texts = {trace.xaxis: list(trace.text) for trace in figure.data if trace.type == "scatter"}
    assert texts == {"x": ["n=2", "n=1"], "x2": ["n=2", "n=1"]}
    assert figure.layout.xaxis.tickformat == "%Y-%m-%d" and figure.layout.xaxis.dtick == DAY_MS


def test_accuracy_per_day_has_n_and_wilson_intervals(stats: dict) -> None:
    frame = charts.accuracy_days_frame(stats)
    assert frame["day"].tolist() == ["2026-11-01", "2026-11-02", "2026-11-03"]
    assert frame["n"].tolist() == [2, 2, 1] and frame["correct"].tolist() == [1, 1, 1]
    figure = charts.accuracy_per_day_figure(stats, "en", small=SMALL)
    assert list(figure.data[0].text) == ["50% (n=2)", "50% (n=2)", "100% (n=1)"]
    low = binomtest(1, 1).proportion_ci(0.95, method="wilson").low
    assert frame["low"].iloc[2] == pytest.approx(low)
    volume = charts.volume_figure(stats, "en")
    assert list(volume.data[0].y) == [2, 2, 3] and list(volume.data[0].text) == ["2", "2", "3"]


def test_days_are_the_viewers_days(real_api: RealApi) -> None:
    """23:30 UTC on 29 November is 08:30 on 30 November in Seoul."""
    real_api.insert_rows([row(1, "joy", "joy", day=29, hour="23:30")])
    assert [day["day"] for day in real_api.stats(tz="Asia/Seoul")["timeline"]] == ["2026-11-30"]
    assert [day["day"] for day in real_api.stats()["timeline"]] == ["2026-11-29"]


def test_a_one_day_range_is_ticked_in_days_not_hours(real_api: RealApi) -> None:
    real_api.insert_rows([row(1, "joy", "joy", day=29), row(2, "joy", "fear", day=29)])
    stats = real_api.stats()
    for figure in (
        charts.volume_figure(stats, "en"),
        charts.accuracy_per_day_figure(stats, "en", small=SMALL),
        charts.mix_figure(stats, "en"),
    ):
        axis = figure.layout.xaxis
        assert (axis.type, axis.tickformat, axis.dtick) == ("date", "%Y-%m-%d", DAY_MS)
        assert axis.range == ("2026-11-28T12:00:00", "2026-11-29T12:00:00")


def test_reliability_leaves_out_empty_bins(stats: dict) -> None:
    figure = charts.reliability_figure(stats, "en")
    model = figure.data[1]
    assert len(model.x) == sum(1 for count in stats["calibration"]["count"] if count)
    assert "ECE" in figure.layout.title.text


def test_curves_only_for_emotions_with_both_classes(stats: dict) -> None:
    assert set(charts.curve_labels(stats)) == {"joy", "anger", "fear"}
    assert len(charts.roc_figure(stats, "en").data) == 1 + 3
    frame = charts.curves_frame(stats, "en").set_index("label")
    assert frame.loc["😲 surprise", ["auc", "average_precision"]].isna().all()
    assert frame.loc["😀 joy", "support"] == 2


def test_empty_stats_draw_without_errors(real_api: RealApi) -> None:
    empty = real_api.stats()  # an empty database
    for build in (
        charts.confusion_figure,
        charts.score_histogram_figure,
        charts.score_density_figure,
        charts.reliability_figure,
        charts.roc_figure,
        charts.pr_figure,
        charts.volume_figure,
        charts.mix_figure,
    ):
        build(empty, "en")
    for build_small in (
        charts.accuracy_by_label_figure,
        charts.per_class_figure,
        charts.accuracy_per_day_figure,
    ):
        build_small(empty, "en", small=SMALL)
    assert charts.curve_labels(empty) == []
    assert charts.per_user_frame(empty).empty
    assert charts.accuracy_days_frame(empty).empty
    assert (
        charts.per_class_frame(empty, "en", small=SMALL).loc[:, "sample"].tolist()[:7]
        == ["no labelled comment"] * 7
    )


def test_a_rate_text_sits_inside_a_tall_bar_and_above_a_short_one() -> None:
    assert charts.text_positions([0.0, 0.1, 0.5, None]) == ["outside", "outside", "inside", "outside"]
