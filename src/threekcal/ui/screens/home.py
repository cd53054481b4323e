"""Home: what ThreeKcal does, its data flow, and the pipeline's live status."""

from typing import Any

import streamlit as st

from threekcal.ui import view
from threekcal.ui.charts.home import flow_dot
from threekcal.ui.drift_view import drift_notice
from threekcal.ui.logic import run_rows
from threekcal.ui.view import t

PIPELINE_REFRESH_SECONDS = 10


def run_table(run: dict[str, Any]) -> None:
    rows = [{t("field"): name, t("value"): value} for name, value in run_rows(run, view.current_lang())]
    st.dataframe(rows, hide_index=True, width="stretch")


@st.fragment(run_every=PIPELINE_REFRESH_SECONDS)
def pipeline_status() -> None:
    status = view.fetch(lambda api: api.pipeline(), key="pipeline")
    if status is None:
        return
    pending, logs, quarantined = st.columns(3)
    pending.metric(t("pipeline_pending"), status.get("pending", 0), border=True)
    logs.metric(t("pipeline_unapplied"), status.get("unapplied_logs", 0), border=True)
    quarantined.metric(t("pipeline_quarantined"), status.get("quarantined_lines", 0), border=True)
    last_predict, last_apply = st.columns(2)
    with last_predict:
        st.markdown(f"**{t('pipeline_last_predict')}**")
        if status.get("last_predict"):
            run_table(status["last_predict"])
        else:
            st.info(t("pipeline_never"))
    with last_apply:
        st.markdown(f"**{t('pipeline_last_apply')}**")
        if status.get("last_apply"):
            run_table(status["last_apply"])
        else:
            st.info(t("pipeline_never"))
    st.caption(t("pipeline_refresh", seconds=PIPELINE_REFRESH_SECONDS))


st.title(t("home_title"))
drift_notice()
st.markdown(t("home_intro"))
st.markdown(t("home_pages"))
st.subheader(t("home_flow"))
st.graphviz_chart(flow_dot(view.current_lang()), width="stretch")
st.subheader(t("pipeline_title"))
pipeline_status()
