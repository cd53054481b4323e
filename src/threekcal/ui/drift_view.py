"""The drift notice shown on Home and on the Statistics page's "Over time" view: the days on which the
active model's predicted-emotion mix (or its top scores) drifted from the reference window."""

from __future__ import annotations

import streamlit as st

from threekcal.ui import view
from threekcal.ui.client import ApiError, ApiUnavailable


def flagged_days() -> list[str]:
    """The flagged days from ``GET /drift``; none when the API cannot say (the page shows its own errors)."""
    try:
        with view.client() as api:
            report = api.drift()
    except (ApiError, ApiUnavailable):
        return []
    return list(report.get("flagged_days") or [])


def drift_notice() -> None:
    days = flagged_days()
    if days:
        st.warning(view.t("models_drift_flagged", days=", ".join(days)), icon=":material/trending_up:")
