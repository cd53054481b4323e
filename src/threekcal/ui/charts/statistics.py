"""Figures and tables of the Statistics page, built from the API's JSON only.

Everything here takes the ``/stats`` answer (already aggregated by the database) and turns it into
Plotly figures or pandas frames; nothing recomputes statistics from comments. Every rate is drawn with
its n, small samples (fewer than ``small`` comments) are hatched, classes without labelled comments show
"—" and stay out of the macro average.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from threekcal.ui.charts.common import EMOTION_COLORS, LAYOUT, confusion_figure, confusion_frame, day_axis
from threekcal.ui.i18n import translate
from threekcal.ui.logic import emotion_text
from threekcal.ui.stats_logic import (
    METRICS,
    Stats,
    interval_text,
    is_small,
    label_rates,
    macro_average,
    rate_text,
    stats_labels,
    wilson,
)

__all__ = ["confusion_figure", "confusion_frame"]  # the Statistics page's heatmap is the shared one

UNKNOWN_VERSION = "unknown"  # the API's key for predictions without a recorded model version
INSIDE_TEXT_FROM = 0.2  # bars at least this tall hold their text
SMALL_PATTERN = {"shape": "/", "fillmode": "overlay", "size": 6, "solidity": 0.3}
WHISKER_COLOR = "#555555"


# ------------------------------------------------------------------------- shared figure parts
def _axis(lang: str, title: str, **options: Any) -> dict[str, Any]:
    """An axis titled with the text ``title`` in ``lang``; ``options`` as Plotly takes them."""
    return {"title": translate(title, lang), **options}


def _laid_out(figure: go.Figure, title: str, **layout: Any) -> go.Figure:
    """``figure`` with its title, its own layout (axes, height, bar mode) and the page's LAYOUT."""
    figure.update_layout(title=title, **layout, **LAYOUT)
    return figure


def _rate_bar(
    x: Any,
    y: Any,
    *,
    n: Sequence[int],
    below: Sequence[float | None],
    above: Sequence[float | None],
    small: int,
    color: Any,
    customdata: Any,
    hovertemplate: str,
) -> go.Bar:
    """Bars of rates as the page draws every rate: the text "rate (n=...)" inside the bar (above a short
    one), the 95% Wilson interval as the whisker (``below``/``above`` the rate), hatched if n < ``small``."""
    values = list(y)
    hatches = ["/" if is_small(count, small) else "" for count in n]
    return go.Bar(
        x=x,
        y=y,
        error_y={
            "type": "data",
            "symmetric": False,
            "array": above,
            "arrayminus": below,
            "color": WHISKER_COLOR,
        },
        marker={"color": color, "pattern": {**SMALL_PATTERN, "shape": hatches}},
        text=[rate_text(value, count) for value, count in zip(values, n, strict=True)],
        textposition=text_positions(values),
        insidetextanchor="start",
        cliponaxis=False,
        customdata=customdata,
        hovertemplate=hovertemplate,
    )


def _diagonal(name: str) -> go.Scatter:
    """The dashed y = x line: chance on a ROC curve, perfect calibration on a reliability diagram."""
    return go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dash", "color": "gray"}, name=name)


# ----------------------------------------------------------------------------------- accuracy
def text_positions(values: Sequence[float | None]) -> list[str]:
    """A rate's text inside its bar from the base, clear of the whisker; above a bar too short to hold
    it (a 0% bar has no inside at all)."""
    return ["inside" if value is not None and value >= INSIDE_TEXT_FROM else "outside" for value in values]


def per_label_accuracy(stats: Stats) -> dict[str, float | None]:
    """Share of each true label's comments that the model got right (the confusion matrix's rows)."""
    return {label: rate.value for label, rate in label_rates(stats).items()}


def accuracy_by_label_figure(stats: Stats, lang: str, *, small: int) -> go.Figure:
    """One bar per true label with its n and 95% Wilson interval; "—" where no comment has that label,
    hatched where fewer than ``small`` have."""
    rates = label_rates(stats)
    labels = list(rates)
    names = [emotion_text(label, lang) for label in labels]
    values = [rates[label].value for label in labels]
    figure = go.Figure(
        _rate_bar(
            names,
            values,
            n=[rate.n for rate in rates.values()],
            below=[rate.below for rate in rates.values()],
            above=[rate.above for rate in rates.values()],
            small=small,
            color=[EMOTION_COLORS.get(label) for label in labels],
            customdata=[[r.n] for r in rates.values()],
            hovertemplate="%{x}: %{y:.1%} (n=%{customdata[0]})<extra></extra>",
        )
    )
    for name, rate in zip(names, rates.values(), strict=True):
        if not rate.n:  # no bar to carry the text: say it on the axis
            figure.add_annotation(x=name, y=0, text="— (n=0)", showarrow=False, yshift=10)
    scored = sum(rate.n for rate in rates.values())
    if stats.get("accuracy") is not None and scored:
        figure.add_hline(
            y=stats["accuracy"],
            line_dash="dash",
            annotation_text=f"{translate('overall', lang)} {rate_text(stats['accuracy'], scored)}",
            annotation_position="top right",
        )
    return _laid_out(
        figure,
        translate("chart_accuracy_by_label", lang),
        yaxis=_axis(lang, "accuracy", range=[0, 1.15], tickformat=".0%"),
        xaxis=_axis(lang, "true_label"),
    )


# ----------------------------------------------------------------------------------- per class
def per_class_frame(stats: Stats, lang: str, *, small: int) -> pd.DataFrame:
    """Precision, recall, F1 and support per class; empty (shown "—") for a class without labelled
    comments; the macro average over the classes with support only; a note per row on its sample."""

    def note(support: int) -> str:
        if not support:
            return translate("stats_no_support", lang)
        return translate("stats_small_flag", lang, small=small) if is_small(support, small) else ""

    rows = [
        {
            "label": emotion_text(item["label"], lang),
            **{metric: item[metric] if item["support"] else None for metric in METRICS},
            "support": item["support"],
            "sample": note(item["support"]),
        }
        for item in stats.get("per_class") or []
    ]
    if stats.get("per_class"):
        macro = macro_average(stats)
        supported = sum(1 for item in stats["per_class"] if item["support"])
        total = sum(item["support"] for item in stats["per_class"])
        rows.append(
            {
                "label": translate("macro_avg", lang),
                **macro,
                "support": total,
                "sample": translate(
                    "stats_macro_classes", lang, count=supported, total=len(stats["per_class"])
                ),
            }
        )
        weighted = stats.get("weighted_avg") or {}
        rows.append(
            {
                "label": translate("weighted_avg", lang),
                **{metric: weighted.get(metric) if total else None for metric in METRICS},
                "support": total,
                "sample": note(total),
            }
        )
    frame = pd.DataFrame(rows, columns=["label", *METRICS, "support", "sample"])
    frame[list(METRICS)] = frame[list(METRICS)].astype("float64")  # None -> NaN, drawn as "—"
    return frame


def per_class_figure(stats: Stats, lang: str, *, small: int) -> go.Figure:
    """Grouped precision/recall/F1 bars of the classes with labelled comments, each named with its n."""
    frame = per_class_frame(stats, lang, small=small)
    frame = frame.head(len(stats.get("per_class") or []))  # the classes, not the averages
    frame = frame[frame["support"] > 0]
    names = [
        f"{label} (n={support:,})" for label, support in zip(frame["label"], frame["support"], strict=True)
    ]
    shapes = ["/" if is_small(int(support), small) else "" for support in frame["support"]]
    figure = go.Figure(
        [
            go.Bar(
                name=translate(metric, lang),
                x=names,
                y=frame[metric],
                marker={"pattern": {**SMALL_PATTERN, "shape": shapes}},
                hovertemplate="%{x}: %{y:.3f}",
            )
            for metric in METRICS
        ]
    )
    return _laid_out(
        figure,
        translate("chart_per_class", lang),
        barmode="group",
        yaxis=_axis(lang, "value", range=[0, 1.05]),
    )


# --------------------------------------------------------------------------------- one-vs-rest
def one_vs_rest_frame(stats: Stats, lang: str) -> pd.DataFrame:
    """For each emotion, the 2x2 confusion of "this emotion" against all others."""
    matrix = stats.get("confusion_matrix") or []
    labels = stats_labels(stats)
    total = sum(sum(row) for row in matrix)
    rows = []
    for index, label in enumerate(labels):
        true_positive = matrix[index][index] if matrix else 0
        false_negative = sum(matrix[index]) - true_positive if matrix else 0
        false_positive = sum(row[index] for row in matrix) - true_positive
        true_negative = total - true_positive - false_negative - false_positive
        rows.append(
            {
                "label": emotion_text(label, lang),
                "tp": true_positive,
                "fp": false_positive,
                "fn": false_negative,
                "tn": true_negative,
            }
        )
    return pd.DataFrame(rows, columns=["label", "tp", "fp", "fn", "tn"])


def one_vs_rest_figure(stats: Stats, lang: str, label: str) -> go.Figure:
    frame = one_vs_rest_frame(stats, lang).set_index("label")
    row = frame.loc[emotion_text(label, lang)]
    name = emotion_text(label, lang)
    rest = translate("rest", lang)
    figure = go.Figure(
        go.Heatmap(
            z=[[row["tp"], row["fn"]], [row["fp"], row["tn"]]],
            x=[name, rest],
            y=[name, rest],
            colorscale="Greens",
            texttemplate="%{z:d}",
            showscale=False,
            hovertemplate=translate("confusion_hover", lang) + "<extra></extra>",
        )
    )
    return _laid_out(
        figure,
        translate("chart_one_vs_rest", lang, emotion=name),
        xaxis=_axis(lang, "predicted_label"),
        yaxis=_axis(lang, "true_label", autorange="reversed"),
        height=340,
    )


# ------------------------------------------------------------------------------------- scores
def _bin_centres(edges: Sequence[float]) -> list[float]:
    return [(low + high) / 2 for low, high in pairwise(edges)]


def _score_bins(stats: Stats) -> tuple[list[float], list[float], dict[str, list[int]]]:
    """The score histogram's bin centres, bin widths and counts per predicted label."""
    histogram = stats.get("score_histogram") or {}
    edges = histogram.get("bins") or []
    return _bin_centres(edges), [high - low for low, high in pairwise(edges)], histogram.get("counts") or {}


def score_histogram_figure(stats: Stats, lang: str) -> go.Figure:
    centres, widths, per_label = _score_bins(stats)
    figure = go.Figure(
        [
            go.Bar(
                name=emotion_text(label, lang),
                x=centres,
                y=counts,
                width=widths,
                marker_color=EMOTION_COLORS.get(label),
            )
            for label, counts in per_label.items()
            if any(counts)
        ]
    )
    return _laid_out(
        figure,
        translate("chart_score_histogram", lang),
        barmode="stack",
        xaxis=_axis(lang, "score", range=[0, 1]),
        yaxis=_axis(lang, "comments_count"),
    )


def score_density_figure(stats: Stats, lang: str) -> go.Figure:
    """Each predicted label's histogram scaled to unit area, so shapes compare across class sizes."""
    centres, widths, per_label = _score_bins(stats)
    traces = []
    for label, counts in per_label.items():
        total = sum(counts)
        if not total:
            continue
        density = [
            count / (total * width) if width else 0.0 for count, width in zip(counts, widths, strict=False)
        ]
        traces.append(
            go.Scatter(
                name=emotion_text(label, lang),
                x=centres,
                y=density,
                mode="lines",
                line={"shape": "spline", "color": EMOTION_COLORS.get(label)},
            )
        )
    return _laid_out(
        go.Figure(traces),
        translate("chart_score_density", lang),
        xaxis=_axis(lang, "score", range=[0, 1]),
        yaxis=_axis(lang, "density"),
    )


# -------------------------------------------------------------------------------- calibration
def reliability_figure(stats: Stats, lang: str) -> go.Figure:
    calibration = stats.get("calibration") or {}
    edges = calibration.get("bins") or []
    counts = calibration.get("count") or []
    confidence = calibration.get("mean_confidence") or []
    accuracy = calibration.get("accuracy") or []
    points = [
        (conf, acc, count)
        for conf, acc, count in zip(confidence, accuracy, counts, strict=False)
        if count and conf is not None and acc is not None
    ]
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.75, 0.25], vertical_spacing=0.05)
    figure.add_trace(_diagonal(translate("perfect_calibration", lang)), row=1, col=1)
    figure.add_trace(
        go.Scatter(
            x=[point[0] for point in points],
            y=[point[1] for point in points],
            mode="lines+markers",
            name=translate("model", lang),
            customdata=[point[2] for point in points],
            hovertemplate=translate("reliability_hover", lang) + "<extra></extra>",
        ),
        row=1,
        col=1,
    )
    figure.add_trace(
        go.Bar(
            x=_bin_centres(edges),
            y=counts,
            name=translate("comments_count", lang),
            marker_color="#88CCEE",
            showlegend=False,
        ),
        row=2,
        col=1,
    )
    ece = calibration.get("ece")
    title = translate("chart_reliability", lang)
    if ece is not None:
        title += f" — ECE {ece:.3f}"
    _laid_out(figure, title, height=480)
    figure.update_xaxes(range=[0, 1], row=1, col=1)
    figure.update_xaxes(range=[0, 1], title=translate("confidence", lang), row=2, col=1)
    figure.update_yaxes(range=[0, 1], title=translate("accuracy", lang), row=1, col=1)
    figure.update_yaxes(title=translate("comments_count", lang), row=2, col=1)
    return figure


# ------------------------------------------------------------------------------------- curves
def curve_labels(stats: Stats) -> list[str]:
    """Emotions whose ROC curve exists: at least one labelled comment of it and one of another."""
    curves = stats.get("curves") or {}
    return [
        label
        for label in stats_labels(stats)
        if (curves.get(label) or {}).get("roc", {}).get("auc") is not None
    ]


def roc_figure(stats: Stats, lang: str) -> go.Figure:
    curves = stats.get("curves") or {}
    figure = go.Figure(_diagonal(translate("chance", lang)))
    for label in curve_labels(stats):
        roc = curves[label]["roc"]
        figure.add_trace(
            go.Scatter(
                x=roc["fpr"],
                y=roc["tpr"],
                mode="lines",
                name=f"{emotion_text(label, lang)} (AUC {roc['auc']:.3f})",
                line={"color": EMOTION_COLORS.get(label)},
            )
        )
    return _laid_out(
        figure,
        translate("chart_roc", lang),
        xaxis=_axis(lang, "false_positive_rate", range=[0, 1]),
        yaxis=_axis(lang, "true_positive_rate", range=[0, 1.02]),
        height=480,
    )


def pr_figure(stats: Stats, lang: str) -> go.Figure:
    curves = stats.get("curves") or {}
    figure = go.Figure()
    for label in stats_labels(stats):
        pr = (curves.get(label) or {}).get("pr") or {}
        if pr.get("average_precision") is None:
            continue
        figure.add_trace(
            go.Scatter(
                x=pr["recall"],
                y=pr["precision"],
                mode="lines",
                name=f"{emotion_text(label, lang)} (AP {pr['average_precision']:.3f})",
                line={"color": EMOTION_COLORS.get(label), "shape": "hv"},
            )
        )
    return _laid_out(
        figure,
        translate("chart_pr", lang),
        xaxis=_axis(lang, "recall", range=[0, 1]),
        yaxis=_axis(lang, "precision", range=[0, 1.02]),
        height=480,
    )


def curves_frame(stats: Stats, lang: str) -> pd.DataFrame:
    """ROC AUC and average precision per emotion with its support (its positives); empty where the
    emotion has no curve (no labelled comment of it, or nothing else)."""
    curves = stats.get("curves") or {}
    support = {item["label"]: item["support"] for item in stats.get("per_class") or []}
    frame = pd.DataFrame(
        [
            {
                "label": emotion_text(label, lang),
                "auc": ((curves.get(label) or {}).get("roc") or {}).get("auc"),
                "average_precision": ((curves.get(label) or {}).get("pr") or {}).get("average_precision"),
                "support": support.get(label, 0),
            }
            for label in stats_labels(stats)
        ],
        columns=["label", "auc", "average_precision", "support"],
    )
    frame[["auc", "average_precision"]] = frame[["auc", "average_precision"]].astype("float64")
    return frame


# ----------------------------------------------------------------------------------- timeline
def timeline_frame(stats: Stats) -> pd.DataFrame:
    rows = []
    for day in stats.get("timeline") or []:
        row = {"day": day["day"], "total": day["total"]}
        for label in stats_labels(stats):
            row[label] = (day.get("by_prediction") or {}).get(label, 0)
        rows.append(row)
    return pd.DataFrame(rows, columns=["day", "total", *stats_labels(stats)])


def volume_figure(stats: Stats, lang: str) -> go.Figure:
    """Comments per day (the viewer's days), each bar with its count."""
    frame = timeline_frame(stats)
    figure = go.Figure(
        go.Bar(
            x=frame["day"],
            y=frame["total"],
            name=translate("comments_count", lang),
            marker_color="#332288",
            text=[f"{int(total):,}" for total in frame["total"]],
            textposition="outside",
            cliponaxis=False,
        )
    )
    return _laid_out(
        figure,
        translate("chart_volume", lang),
        xaxis=day_axis(list(frame["day"]), translate("day", lang)),
        yaxis=_axis(lang, "comments_count"),
    )


def accuracy_days_frame(stats: Stats) -> pd.DataFrame:
    """Per day with at least one labelled and predicted comment: n, correct, accuracy, 95% Wilson bounds."""
    rows = []
    for day in stats.get("timeline") or []:
        rate = wilson(int(day.get("correct") or 0), int(day.get("scored") or 0))
        if rate.n:
            rows.append(
                {"day": day["day"], "n": rate.n, "correct": rate.correct, "accuracy": rate.value,
                 "low": rate.low, "high": rate.high}
            )  # fmt: skip
    return pd.DataFrame(rows, columns=["day", "n", "correct", "accuracy", "low", "high"])


def accuracy_per_day_figure(stats: Stats, lang: str, *, small: int) -> go.Figure:
    """Accuracy per day with its n on each bar and its 95% Wilson interval; hatched when n < ``small``."""
    frame = accuracy_days_frame(stats)
    figure = go.Figure(
        _rate_bar(
            frame["day"],
            frame["accuracy"],
            n=list(frame["n"]),
            below=(frame["accuracy"] - frame["low"]).tolist(),
            above=(frame["high"] - frame["accuracy"]).tolist(),
            small=small,
            color="#117733",
            customdata=[
                [n, interval_text(low, high)]
                for n, low, high in zip(frame["n"], frame["low"], frame["high"], strict=True)
            ],
            hovertemplate=translate("stats_day_hover", lang) + "<extra></extra>",
        )
    )
    return _laid_out(
        figure,
        translate("chart_accuracy_per_day", lang),
        xaxis=day_axis(list(frame["day"]), translate("day", lang)),
        yaxis=_axis(lang, "accuracy", tickformat=".0%", range=[0, 1.15]),
    )


def mix_frame(stats: Stats) -> pd.DataFrame:
    """Predicted comments per day, model version and predicted label (long form, no zero rows)."""
    rows = []
    for day in stats.get("timeline") or []:
        for version, counts in (day.get("by_model") or {}).items():
            for label, count in (counts or {}).items():
                if count:
                    rows.append(
                        {"day": day["day"], "model_version": version, "label": label, "count": int(count)}
                    )
    return pd.DataFrame(rows, columns=["day", "model_version", "label", "count"])


def mix_figure(stats: Stats, lang: str) -> go.Figure:
    """Share of each predicted label per day, one panel per model version, n on top of every day's bar
    (days without predictions by that version are left out)."""
    frame = mix_frame(stats)
    versions = sorted(frame["model_version"].unique(), key=lambda v: (v == UNKNOWN_VERSION, v))
    titles = [
        translate("stats_model_unknown", lang) if v == UNKNOWN_VERSION
        else translate("stats_model_version", lang, version=v)
        for v in versions
    ]  # fmt: skip
    figure = make_subplots(
        rows=max(len(versions), 1), cols=1, shared_xaxes=True, subplot_titles=titles, vertical_spacing=0.12
    )
    labels = stats_labels(stats)
    for row, version in enumerate(versions, start=1):
        part = frame[frame["model_version"] == version]
        table = part.pivot_table(index="day", columns="label", values="count", aggfunc="sum", fill_value=0)
        table = table.reindex(columns=labels, fill_value=0).sort_index()
        totals = table.sum(axis=1)
        shares = table.div(totals, axis=0)
        days = list(table.index)
        for label in labels:
            figure.add_trace(
                go.Bar(
                    x=days,
                    y=shares[label].tolist(),
                    name=emotion_text(label, lang),
                    legendgroup=label,
                    showlegend=row == 1,
                    marker_color=EMOTION_COLORS.get(label),
                    customdata=[
                        [int(count), int(total)] for count, total in zip(table[label], totals, strict=True)
                    ],
                    hovertemplate=translate("stats_mix_hover", lang) + "<extra></extra>",
                ),
                row=row,
                col=1,
            )
        figure.add_trace(
            go.Scatter(
                x=days,
                y=[1.0] * len(days),
                mode="text",
                text=[f"n={int(total):,}" for total in totals],
                textposition="top center",
                showlegend=False,
                hoverinfo="skip",
                cliponaxis=False,
            ),
            row=row,
            col=1,
        )
        figure.update_yaxes(tickformat=".0%", range=[0, 1.15], title=translate("share", lang), row=row, col=1)
    all_days = sorted(frame["day"].unique())
    figure.update_xaxes(**day_axis(all_days, ""))
    figure.update_xaxes(title=translate("day", lang), row=max(len(versions), 1), col=1)
    return _laid_out(
        figure, translate("chart_mix_by_version", lang), barmode="stack", height=max(320, 260 * len(versions))
    )


def per_user_frame(stats: Stats) -> pd.DataFrame:
    frame = pd.DataFrame(
        stats.get("per_user") or [],
        columns=["request_user", "total", "labeled", "correct", "scored", "accuracy"],
    )
    frame["accuracy"] = frame["accuracy"].astype("float64")  # None -> NaN, drawn as "—"
    return frame
