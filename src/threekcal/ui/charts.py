"""Figures and tables of the Statistics and Home pages, built from the API's JSON only.

Everything here takes the ``/stats`` answer (already aggregated by the database) and turns it into
Plotly figures or pandas frames; nothing recomputes statistics from comments.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from threekcal.emotions import EMOJI, LABELS
from threekcal.ui.i18n import translate
from threekcal.ui.logic import emotion_text

Stats = Mapping[str, Any]

# One colour per emotion, the same on every chart (Plotly's qualitative "Safe" palette).
EMOTION_COLORS = dict(
    zip(LABELS, ("#CC6677", "#117733", "#332288", "#DDCC77", "#888888", "#88CCEE", "#AA4499"), strict=True)
)
LAYOUT = {"margin": {"l": 10, "r": 10, "t": 40, "b": 10}, "legend": {"orientation": "h", "y": -0.2}}


def stats_labels(stats: Stats) -> list[str]:
    return list(stats.get("labels") or LABELS)


def emotion_names(labels: Sequence[str], lang: str) -> list[str]:
    return [emotion_text(label, lang) for label in labels]


# ----------------------------------------------------------------------------------------- home
def flow_dot(lang: str) -> str:
    """The data flow as Graphviz DOT (Streamlit draws DOT in the browser; no graphviz binary needed)."""

    def node(name: str, key: str, shape: str = "box", fill: str = "#E8F0FE") -> str:
        label = translate(key, lang).replace('"', "'")
        return f'  {name} [label="{label}", shape={shape}, style="rounded,filled", fillcolor="{fill}"];'

    def edge(source: str, target: str, key: str, style: str = "solid") -> str:
        label = translate(key, lang).replace('"', "'")
        return f'  {source} -> {target} [label="{label}", style={style}, fontsize=10];'

    return "\n".join(
        [
            "digraph threekcal {",
            '  rankdir=LR; bgcolor="transparent";',
            '  node [fontname="sans-serif"]; edge [fontname="sans-serif"];',
            node("user", "flow_user", "ellipse", "#FFF4D6"),
            node("ui", "flow_ui"),
            node("api", "flow_api"),
            node("db", "flow_db", "cylinder", "#E6F4EA"),
            node("predict", "flow_predict"),
            node("log", "flow_log", "note", "#F3E8FD"),
            node("apply", "flow_apply"),
            node("admin", "flow_admin", "ellipse", "#FFF4D6"),
            node("scheduler", "flow_scheduler", "component", "#F1F3F4"),
            edge("user", "ui", "flow_edge_submit"),
            edge("ui", "api", "flow_edge_http"),
            edge("api", "db", "flow_edge_store"),
            edge("db", "predict", "flow_edge_pending"),
            edge("predict", "log", "flow_edge_write"),
            edge("log", "apply", "flow_edge_read"),
            edge("apply", "db", "flow_edge_update"),
            edge("admin", "ui", "flow_edge_label"),
            edge("scheduler", "predict", "flow_edge_runs", "dashed"),
            edge("scheduler", "apply", "flow_edge_runs", "dashed"),
            "}",
        ]
    )


# ----------------------------------------------------------------------------------- accuracy
def per_label_accuracy(stats: Stats) -> dict[str, float | None]:
    """Share of each true label's comments that the model got right (the confusion matrix's rows)."""
    matrix = stats.get("confusion_matrix") or []
    accuracies: dict[str, float | None] = {}
    for index, label in enumerate(stats_labels(stats)):
        row = matrix[index] if index < len(matrix) else []
        total = sum(row)
        accuracies[label] = row[index] / total if total else None
    return accuracies


def accuracy_by_label_figure(stats: Stats, lang: str) -> go.Figure:
    accuracies = per_label_accuracy(stats)
    labels = [label for label, value in accuracies.items() if value is not None]
    figure = go.Figure(
        go.Bar(
            x=emotion_names(labels, lang),
            y=[accuracies[label] for label in labels],
            marker_color=[EMOTION_COLORS.get(label) for label in labels],
            text=[f"{accuracies[label]:.0%}" for label in labels],
            textposition="outside",
            hovertemplate="%{x}: %{y:.1%}<extra></extra>",
        )
    )
    if stats.get("accuracy") is not None:
        figure.add_hline(
            y=stats["accuracy"],
            line_dash="dash",
            annotation_text=translate("overall", lang),
            annotation_position="top left",
        )
    figure.update_layout(
        title=translate("chart_accuracy_by_label", lang),
        yaxis={"range": [0, 1.1], "tickformat": ".0%", "title": translate("accuracy", lang)},
        xaxis={"title": translate("true_label", lang)},
        **LAYOUT,
    )
    return figure


def confusion_frame(stats: Stats, lang: str, *, normalise: bool = False) -> pd.DataFrame:
    """Rows = true label, columns = predicted label; ``normalise`` divides each row by its total."""
    names = emotion_names(stats_labels(stats), lang)
    frame = pd.DataFrame(stats.get("confusion_matrix") or [], index=names, columns=names, dtype="float64")
    if normalise:
        totals = frame.sum(axis=1)
        frame = frame.div(totals.where(totals > 0), axis=0)
    return frame


def confusion_figure(stats: Stats, lang: str, *, normalise: bool = False) -> go.Figure:
    frame = confusion_frame(stats, lang, normalise=normalise)
    figure = go.Figure(
        go.Heatmap(
            z=frame.to_numpy().tolist(),  # plain lists: readable in the browser as numbers
            x=list(frame.columns),
            y=list(frame.index),
            colorscale="Blues",
            zmin=0,
            zmax=1 if normalise else None,
            texttemplate="%{z:.0%}" if normalise else "%{z:d}",
            hovertemplate=translate("confusion_hover", lang) + "<extra></extra>",
        )
    )
    figure.update_layout(
        title=translate("chart_confusion_normalised" if normalise else "chart_confusion_counts", lang),
        xaxis={"title": translate("predicted_label", lang), "side": "bottom"},
        yaxis={"title": translate("true_label", lang), "autorange": "reversed"},
        height=480,
        **LAYOUT,
    )
    return figure


# ----------------------------------------------------------------------------------- per class
def per_class_frame(stats: Stats, lang: str) -> pd.DataFrame:
    rows = [
        {
            "label": emotion_text(item["label"], lang),
            "precision": item["precision"],
            "recall": item["recall"],
            "f1": item["f1"],
            "support": item["support"],
        }
        for item in stats.get("per_class") or []
    ]
    for key, name in (("macro_avg", "macro_avg"), ("weighted_avg", "weighted_avg")):
        average = stats.get(key)
        if average:
            rows.append(
                {
                    "label": translate(name, lang),
                    "precision": average["precision"],
                    "recall": average["recall"],
                    "f1": average["f1"],
                    "support": average["support"],
                }
            )
    return pd.DataFrame(rows, columns=["label", "precision", "recall", "f1", "support"])


def per_class_figure(stats: Stats, lang: str) -> go.Figure:
    frame = per_class_frame(stats, lang)
    figure = go.Figure(
        [
            go.Bar(name=translate(metric, lang), x=frame["label"], y=frame[metric], hovertemplate="%{y:.3f}")
            for metric in ("precision", "recall", "f1")
        ]
    )
    figure.update_layout(
        title=translate("chart_per_class", lang),
        barmode="group",
        yaxis={"range": [0, 1.05], "title": translate("value", lang)},
        **LAYOUT,
    )
    return figure


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
    figure.update_layout(
        title=translate("chart_one_vs_rest", lang, emotion=name),
        xaxis={"title": translate("predicted_label", lang)},
        yaxis={"title": translate("true_label", lang), "autorange": "reversed"},
        height=340,
        **LAYOUT,
    )
    return figure


# ------------------------------------------------------------------------------------- scores
def _bin_centres(edges: Sequence[float]) -> list[float]:
    return [(low + high) / 2 for low, high in pairwise(edges)]


def score_histogram_figure(stats: Stats, lang: str) -> go.Figure:
    histogram = stats.get("score_histogram") or {}
    edges = histogram.get("bins") or []
    centres = _bin_centres(edges)
    widths = [high - low for low, high in pairwise(edges)]
    figure = go.Figure(
        [
            go.Bar(
                name=emotion_text(label, lang),
                x=centres,
                y=counts,
                width=widths,
                marker_color=EMOTION_COLORS.get(label),
            )
            for label, counts in (histogram.get("counts") or {}).items()
            if any(counts)
        ]
    )
    figure.update_layout(
        title=translate("chart_score_histogram", lang),
        barmode="stack",
        xaxis={"title": translate("score", lang), "range": [0, 1]},
        yaxis={"title": translate("comments_count", lang)},
        **LAYOUT,
    )
    return figure


def score_density_figure(stats: Stats, lang: str) -> go.Figure:
    """Each predicted label's histogram scaled to unit area, so shapes compare across class sizes."""
    histogram = stats.get("score_histogram") or {}
    edges = histogram.get("bins") or []
    centres = _bin_centres(edges)
    widths = [high - low for low, high in pairwise(edges)]
    traces = []
    for label, counts in (histogram.get("counts") or {}).items():
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
    figure = go.Figure(traces)
    figure.update_layout(
        title=translate("chart_score_density", lang),
        xaxis={"title": translate("score", lang), "range": [0, 1]},
        yaxis={"title": translate("density", lang)},
        **LAYOUT,
    )
    return figure


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
    figure.add_trace(
        go.Scatter(
            x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dash", "color": "gray"},
            name=translate("perfect_calibration", lang),
        ),
        row=1, col=1,
    )  # fmt: skip
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
    figure.update_layout(title=title, height=480, **LAYOUT)
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
    figure = go.Figure(
        go.Scatter(
            x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dash", "color": "gray"},
            name=translate("chance", lang),
        )
    )  # fmt: skip
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
    figure.update_layout(
        title=translate("chart_roc", lang),
        xaxis={"title": translate("false_positive_rate", lang), "range": [0, 1]},
        yaxis={"title": translate("true_positive_rate", lang), "range": [0, 1.02]},
        height=480,
        **LAYOUT,
    )
    return figure


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
    figure.update_layout(
        title=translate("chart_pr", lang),
        xaxis={"title": translate("recall", lang), "range": [0, 1]},
        yaxis={"title": translate("precision", lang), "range": [0, 1.02]},
        height=480,
        **LAYOUT,
    )
    return figure


def curves_frame(stats: Stats, lang: str) -> pd.DataFrame:
    curves = stats.get("curves") or {}
    return pd.DataFrame(
        [
            {
                "label": emotion_text(label, lang),
                "auc": ((curves.get(label) or {}).get("roc") or {}).get("auc"),
                "average_precision": ((curves.get(label) or {}).get("pr") or {}).get("average_precision"),
            }
            for label in stats_labels(stats)
        ],
        columns=["label", "auc", "average_precision"],
    )


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
    frame = timeline_frame(stats)
    figure = go.Figure(
        go.Bar(
            x=frame["day"], y=frame["total"], name=translate("comments_count", lang), marker_color="#332288"
        )
    )
    figure.update_layout(
        title=translate("chart_volume", lang),
        xaxis={"title": translate("day", lang), "type": "date"},
        yaxis={"title": translate("comments_count", lang)},
        **LAYOUT,
    )
    return figure


def mix_figure(stats: Stats, lang: str) -> go.Figure:
    """Share of each predicted label per day (days without predictions are left out)."""
    frame = timeline_frame(stats)
    labels = stats_labels(stats)
    predicted = frame[labels].sum(axis=1) if not frame.empty else pd.Series(dtype="float64")
    frame = frame[predicted > 0]
    shares = frame[labels].div(predicted[predicted > 0], axis=0) if not frame.empty else frame
    figure = go.Figure(
        [
            go.Scatter(
                x=frame["day"],
                y=shares[label],
                name=emotion_text(label, lang),
                stackgroup="mix",
                mode="lines",
                line={"color": EMOTION_COLORS.get(label)},
                hovertemplate="%{y:.1%}",
            )
            for label in labels
        ]
    )
    figure.update_layout(
        title=translate("chart_mix", lang),
        xaxis={"title": translate("day", lang), "type": "date"},
        yaxis={"title": translate("share", lang), "tickformat": ".0%", "range": [0, 1]},
        **LAYOUT,
    )
    return figure


def per_user_frame(stats: Stats) -> pd.DataFrame:
    return pd.DataFrame(
        stats.get("per_user") or [], columns=["request_user", "total", "labeled", "correct", "accuracy"]
    )


def probabilities_figure(scores: Mapping[str, float], lang: str) -> go.Figure:
    """Horizontal bars of one comment's class probabilities, highest on top."""
    ordered = sorted(scores.items(), key=lambda item: item[1])
    figure = go.Figure(
        go.Bar(
            x=[value for _, value in ordered],
            y=[f"{EMOJI.get(label, '')} {translate(f'emotion_{label}', lang)}" for label, _ in ordered],
            orientation="h",
            marker_color=[EMOTION_COLORS.get(label) for label, _ in ordered],
            text=[f"{value:.1%}" for _, value in ordered],
            textposition="auto",
            hovertemplate="%{y}: %{x:.2%}<extra></extra>",
        )
    )
    figure.update_layout(
        xaxis={"range": [0, 1], "tickformat": ".0%"},
        height=260,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        showlegend=False,
    )
    return figure
