"""The Statistics page under AppTest against the real API in-process (temporary SQLite): a tiny sample with
classes nobody labelled, the audit-sample accuracy with its Wilson interval, and days in the viewer's
time zone. Nothing on the page may read "None"."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from scipy.stats import binomtest
from streamlit.testing.v1 import AppTest
from ui_api import APP_PATH, RealApi

from threekcal.emotions import LABELS

TAB_KEY = "stats_tab_en"


def scores_for(top: str, confidence: float = 0.7) -> dict[str, float]:
    rest = (1 - confidence) / (len(LABELS) - 1)
    return {label: confidence if label == top else rest for label in LABELS}


def comment(
    num: int, truth: str | None, predicted: str, *, at: str = "2026-11-20T10:00:00", model: str = "v1",
    audit: bool = False,
) -> dict[str, Any]:  # fmt: skip
    scores = scores_for(predicted)
    return {
        "num": num,
        "request_user": "minji",
        "request_time": f"{at}+00:00",
        "prediction_result": predicted,
        "prediction_score": scores[predicted],
        "prediction_scores": scores,
        "model_version": model,
        "label": truth,
        "audit": audit,
    }


# Six labelled comments: anger 3 of 3 right, joy 1 of 2, sadness 1 of 1; disgust, fear, neutral and surprise
# have no labelled comment. Four come from the audit queue (3 right). One arrives at 23:30 UTC.
TINY = [
    comment(1, "anger", "anger", audit=True),
    comment(2, "anger", "anger", audit=True),
    comment(3, "anger", "anger"),
    comment(4, "joy", "joy", audit=True, model="v2"),
    comment(5, "joy", "fear", audit=True, model="v2"),
    comment(6, "sadness", "sadness", at="2026-11-20T23:30:00", model="v2"),
    comment(7, None, "joy", model="v2"),
]


def open_statistics(timezone: str | None = None, **session: Any) -> AppTest:
    app = AppTest.from_file(str(APP_PATH), default_timeout=30)
    if timezone:
        app.context = {"timezone": timezone}
    for key, value in session.items():
        app.session_state[key] = value
    app.run()
    return app.switch_page("screens/statistics.py").run()


def open_tab(app: AppTest, label: str) -> AppTest:
    app.session_state[TAB_KEY] = label
    return app.run()


def texts(app: AppTest) -> str:
    parts = [element.value for kind in ("title", "markdown", "caption", "info", "warning", "success", "error")
             for element in getattr(app, kind)]  # fmt: skip
    return "\n".join(str(part) for part in parts)


def metrics(app: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in app.metric}


def charts(app: AppTest) -> dict[str, dict[str, Any]]:
    specs = [json.loads(element.proto.spec) for element in app.get("plotly_chart")]
    return {spec["layout"]["title"]["text"]: spec for spec in specs}


def shown_tables(app: AppTest) -> list[pd.DataFrame]:
    """Each table as sent to the browser, which draws a missing cell as "None" (a pandas Styler's
    ``na_rep`` does not change that)."""
    return [table.value for table in app.dataframe]


def assert_nothing_reads_none(app: AppTest) -> None:
    """No element's text, metric, chart or table cell says "None"."""
    assert [exception.value for exception in app.exception] == []
    for kind in ("title", "markdown", "caption", "info", "warning", "success", "error", "metric"):
        for element in getattr(app, kind):
            assert "None" not in str(element.proto), (kind, element.proto)
    for element in app.get("plotly_chart"):
        assert "None" not in element.proto.spec
    for frame in shown_tables(app):
        assert not frame.isna().to_numpy().any(), frame
        assert "None" not in frame.astype(str).to_string()


def wilson(correct: int, n: int) -> tuple[float, float]:
    interval = binomtest(correct, n).proportion_ci(0.95, method="wilson")
    return interval.low, interval.high


@pytest.fixture
def tiny(real_api: RealApi) -> Iterator[RealApi]:
    real_api.insert_rows(TINY)
    yield real_api


def test_a_tiny_sample_is_flagged_and_every_rate_has_its_n(tiny: RealApi) -> None:
    app = open_statistics()
    assert_nothing_reads_none(app)
    shown = metrics(app)
    assert shown["Accuracy over all labels"] == "83.3% (n=6)"
    page = texts(app)
    assert "Biased by the labelling order" in page and "least confident predictions first" in page
    assert "Small sample: fewer than 30 comments" in page

    # the audit sample: 3 of 4 right, with the 95% Wilson interval scipy gives
    assert shown["Accuracy on the audit sample"] == "75.0% (n=4)"
    low, high = wilson(3, 4)
    assert f"95% Wilson interval {low:.1%}–{high:.1%}, on 4 comments" in page

    bars = charts(app)["Accuracy per true label"]["data"][0]
    text = dict(zip(bars["x"], bars["text"], strict=True))
    assert text["🤬 anger"] == "100% (n=3)" and text["😀 joy"] == "50% (n=2)"
    assert text["😨 fear"] == "— (n=0)"
    assert "Hatched bars rest on fewer than 30 comments" in page
    confusion = charts(app)["Confusion matrix (counts)"]["data"][0]
    assert confusion["y"][0] == "🤬 anger (n=3)"
    app.toggle(key="confusion_normalise").set_value(True).run()
    assert_nothing_reads_none(app)
    shares = next(frame for frame in shown_tables(app) if frame.shape == (7, 7))
    assert shares.loc["😀 joy", "😀 joy"] == "50.0%" and shares.loc["😨 fear", "😨 fear"] == "—"


def test_classes_nobody_labelled_read_dash_and_stay_out_of_the_macro_average(tiny: RealApi) -> None:
    app = open_tab(open_statistics(), "Per class")
    assert_nothing_reads_none(app)
    note = next(info.value for info in app.info if "macro average" in info.value)
    assert "No labelled comment is truly 🤢 disgust, 😨 fear, 😐 neutral, 😲 surprise" in note
    assert "left out of the macro average" in note and "over the 3 classes" in note

    table = next(frame for frame in shown_tables(app) if "precision" in frame.columns).set_index("label")
    assert table.loc["😲 surprise", ["precision", "recall", "f1"]].tolist() == ["—", "—", "—"]
    assert table.loc["😲 surprise", "sample"] == "no labelled comment"
    assert table.loc["🤬 anger", "sample"] == "⚠ small sample (n < 30)"
    assert table.loc["macro average", "sample"] == "over 3 of 7 classes"
    stats = tiny.stats()
    assert table.loc["macro average", "f1"] == f"{stats['macro_avg_supported']['f1']:.3f}"
    supported = [item["f1"] for item in stats["per_class"] if item["support"]]
    assert stats["macro_avg_supported"]["f1"] == pytest.approx(sum(supported) / len(supported))


def test_every_tab_renders_without_none(tiny: RealApi) -> None:
    app = open_statistics(admin_token=tiny.token)
    for tab in ("One vs rest", "Calibration", "ROC & PR curves", "Scores", "Over time", "Users"):
        open_tab(app, tab)
        assert_nothing_reads_none(app)
    users = shown_tables(app)[0]
    assert users.loc[0, "accuracy"] == "83.3%"


def test_no_audit_sample_says_how_to_collect_one(real_api: RealApi) -> None:
    real_api.insert_rows([comment(1, "joy", "joy"), comment(2, "joy", "fear")])
    app = open_statistics()
    assert_nothing_reads_none(app)
    page = texts(app)
    assert "No audit sample yet" in page and "/annotate" in page and "audit mode" in page
    assert "Accuracy on the audit sample" not in metrics(app)


def test_days_and_computed_at_are_in_the_viewers_time_zone(tiny: RealApi) -> None:
    app = open_tab(open_statistics("Asia/Seoul"), "Over time")
    assert_nothing_reads_none(app)
    assert dict(tiny.calls("GET", "/stats")[-1].url.params)["tz"] == "Asia/Seoul"
    volume = charts(app)["Comments per day"]["data"][0]
    # 23:30 UTC on the 20th is 08:30 on the 21st in Seoul; 10:00 UTC is 19:00, still the 20th
    assert volume["x"] == ["2026-11-20", "2026-11-21"]
    page = texts(app)
    assert "Days and times in Asia/Seoul." in page
    computed = next(caption.value for caption in app.caption if "Computed at" in caption.value)
    assert " KST." in computed

    accuracy = charts(app)["Accuracy per day"]["data"][0]
    assert accuracy["text"] == ["80% (n=5)", "100% (n=1)"]
    mix = charts(app)["Predicted emotions per day, by model version"]
    titles = [annotation["text"] for annotation in mix["layout"]["annotations"]]
    assert titles == ["model v1", "model v2"]
    axis = mix["layout"]["xaxis"]
    assert axis["tickformat"] == "%Y-%m-%d" and axis["dtick"] == 86_400_000

    for tab in ("Accuracy & confusion", "Per class", "Calibration", "Scores"):  # one zone on every tab
        open_tab(app, tab)
        assert any(" KST. Days and times in Asia/Seoul." in caption.value for caption in app.caption), tab

    utc = open_tab(open_statistics(), "Over time")  # the browser did not say: UTC, and the page says so
    assert "tz" not in dict(tiny.calls("GET", "/stats")[-1].url.params)
    assert charts(utc)["Comments per day"]["data"][0]["x"] == ["2026-11-20"]
    assert "Days and times in UTC: the browser has not told its time zone." in texts(utc)


def test_a_one_day_range_is_ticked_in_days(real_api: RealApi) -> None:
    real_api.insert_rows([comment(1, "joy", "joy"), comment(2, "fear", "joy")])
    app = open_tab(open_statistics(), "Over time")
    assert_nothing_reads_none(app)
    for title in ("Comments per day", "Accuracy per day", "Predicted emotions per day, by model version"):
        axis = charts(app)[title]["layout"]["xaxis"]
        assert (axis["type"], axis["tickformat"], axis["dtick"]) == ("date", "%Y-%m-%d", 86_400_000), title
