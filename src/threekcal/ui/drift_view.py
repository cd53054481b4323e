"""The drift notice shown on Home and on the Statistics page's "Over time" view: the days on which the
active model's predicted-emotion mix (or its top scores) drifted from the reference window."""

from __future__ import annotations

import time

import streamlit as st

from threekcal.ui import view
from threekcal.ui.client import ApiError, ApiUnavailable

CACHE_KEY = "_drift_flagged_days"
CACHE_SECONDS = 60.0  # drift is a daily figure; the API reads every prediction since the reference


def flagged_days() -> list[str]:
    """The flagged days from ``GET /drift``; none when the API cannot say (the page shows its own errors)."""
    cached = st.session_state.get(CACHE_KEY)
    if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
        return list(cached[1])
    try:
        with view.client() as api:
            report = api.drift()
    except (ApiError, ApiUnavailable):
        return []
    days = list(report.get("flagged_days") or [])
    st.session_state[CACHE_KEY] = (time.monotonic(), days)
    return days


def drift_notice() -> None:
    days = flagged_days()
    if days:
        st.warning(view.t("models_drift_flagged", days=", ".join(days)), icon=":material/trending_up:")
