"""The Models page's figures: a candidate version against the active model on the held-out comments."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import plotly.graph_objects as go

from threekcal.ui.charts.common import LAYOUT, confusion_figure, emotion_names
from threekcal.ui.i18n import translate


def per_class_f1_figure(evaluation: Mapping[str, Any], version_id: int, lang: str) -> go.Figure:
    labels = evaluation["candidate"]["labels"]
    names = emotion_names(labels, lang)
    figure = go.Figure()
    for side, title in (
        ("candidate", translate("models_candidate", lang, id=version_id)),
        ("active", translate("models_active", lang, id=evaluation.get("active_version_id"))),
    ):
        scores = evaluation[side]["per_class_f1"]
        figure.add_bar(name=title, x=names, y=[scores[label] for label in labels])
    figure.update_layout(
        title=translate("models_per_class_f1", lang), yaxis={"range": [0, 1]}, barmode="group", **LAYOUT
    )
    return figure


def side_confusion_figure(evaluation: Mapping[str, Any], side: str, title: str, lang: str) -> go.Figure:
    """One side's (candidate or active) confusion matrix on the held-out comments, titled ``title``."""
    figure = confusion_figure(evaluation[side], lang)
    figure.update_layout(title=title)
    return figure
