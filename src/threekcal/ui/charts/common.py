"""What every page's figures share: one colour per emotion, the layout, emotion names, the confusion
heatmap (Statistics and Models pages) and a date axis whose ticks fall on whole days."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from threekcal.emotions import LABELS
from threekcal.ui.i18n import translate
from threekcal.ui.logic import emotion_text

# One colour per emotion, the same on every chart (Plotly's qualitative "Safe" palette).
EMOTION_COLORS = dict(
    zip(LABELS, ("#CC6677", "#117733", "#332288", "#DDCC77", "#888888", "#88CCEE", "#AA4499"), strict=True)
)
LAYOUT = {"margin": {"l": 10, "r": 10, "t": 40, "b": 10}, "legend": {"orientation": "h", "y": -0.2}}
DAY_MS = 86_400_000
MAX_DAY_TICKS = 10


def emotion_names(labels: Sequence[str], lang: str) -> list[str]:
    return [emotion_text(label, lang) for label in labels]


def confusion_frame(source: Mapping[str, Any], lang: str, *, normalise: bool = False) -> pd.DataFrame:
    """Rows = true label, columns = predicted label; ``normalise`` divides each row by its total.

    ``source`` holds ``confusion_matrix`` and ``labels`` (a ``/stats`` answer or a model evaluation)."""
    names = emotion_names(list(source.get("labels") or LABELS), lang)
    frame = pd.DataFrame(source.get("confusion_matrix") or [], index=names, columns=names, dtype="float64")
    if normalise:
        totals = frame.sum(axis=1)
        frame = frame.div(totals.where(totals > 0), axis=0)
    return frame


def confusion_figure(
    source: Mapping[str, Any], lang: str, *, normalise: bool = False, row_counts: bool = False
) -> go.Figure:
    """The confusion matrix as a heatmap; ``row_counts`` adds each true label's n to its row name."""
    frame = confusion_frame(source, lang, normalise=normalise)
    rows = list(frame.index)
    if row_counts:
        totals = confusion_frame(source, lang).sum(axis=1)
        rows = [f"{name} (n={int(totals[name]):,})" for name in frame.index]
    figure = go.Figure(
        go.Heatmap(
            z=frame.to_numpy().tolist(),  # plain lists: readable in the browser as numbers
            x=list(frame.columns),
            y=rows,
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


def day_axis(days: Sequence[str], title: str) -> dict[str, Any]:
    """A date axis for per-day values ('YYYY-MM-DD'): ticks on whole days only, at most MAX_DAY_TICKS of
    them, labelled as dates (a one-day range would otherwise be ticked in hours, '23:59:59.9996')."""
    axis: dict[str, Any] = {"title": title, "type": "date", "tickformat": "%Y-%m-%d"}
    if not days:
        return axis
    first, last = min(days), max(days)
    span = (pd.Timestamp(last) - pd.Timestamp(first)).days + 1
    step = max(1, math.ceil(span / MAX_DAY_TICKS))
    axis.update(
        tick0=first,
        dtick=step * DAY_MS,
        # half a day either side, so a single day's bar is whole and its tick centred
        range=[
            (pd.Timestamp(first) - pd.Timedelta(hours=12)).isoformat(),
            (pd.Timestamp(last) + pd.Timedelta(hours=12)).isoformat(),
        ],
    )
    return axis
