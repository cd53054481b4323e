"""One comment's figures: its class probabilities (Upload, Label and Annotate pages)."""

from __future__ import annotations

from collections.abc import Mapping

import plotly.graph_objects as go

from threekcal.emotions import EMOJI
from threekcal.ui.charts.common import EMOTION_COLORS
from threekcal.ui.i18n import translate


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
