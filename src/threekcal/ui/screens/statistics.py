"""Statistics: how well the model does on the labelled comments, from GET /stats on every run."""

from typing import Any

import streamlit as st

from threekcal.ui import charts, view
from threekcal.ui.drift_view import drift_notice
from threekcal.ui.logic import LABELS, emotion_text, format_percent, format_time
from threekcal.ui.view import t

AUTO_REFRESH_SECONDS = 10
TAB_KEY = "stats_tab"
LEAVE_OUT_BULK_KEY = "stats_leave_out_bulk"
HUMAN_SOURCES = ("chosen", "accepted", "resolved")  # labels a person decided on


def counts_row(stats: dict[str, Any]) -> None:
    counts = stats.get("counts") or {}
    columns = st.columns(6)
    for column, name in zip(
        columns, ("total", "pending", "predicted", "labeled", "labeled_and_predicted"), strict=False
    ):
        column.metric(t(f"count_{name}"), f"{counts.get(name, 0):,}", border=True)
    columns[5].metric(t("accuracy"), format_percent(stats.get("accuracy")), border=True)


def quality_tab(stats: dict[str, Any], lang: str) -> None:
    st.plotly_chart(charts.accuracy_by_label_figure(stats, lang), key="accuracy_by_label")
    normalise = st.toggle(t("confusion_normalise"), key="confusion_normalise")
    st.plotly_chart(charts.confusion_figure(stats, lang, normalise=normalise), key="confusion")
    with st.expander(t("confusion_numbers")):
        frame = charts.confusion_frame(stats, lang, normalise=normalise)
        st.dataframe(frame.style.format("{:.1%}" if normalise else "{:.0f}", na_rep="—"), width="stretch")


def per_class_tab(stats: dict[str, Any], lang: str) -> None:
    st.dataframe(
        charts.per_class_frame(stats, lang),
        hide_index=True,
        width="stretch",
        column_config={
            "label": t("col_label"),
            "precision": st.column_config.NumberColumn(t("precision"), format="%.3f"),
            "recall": st.column_config.NumberColumn(t("recall"), format="%.3f"),
            "f1": st.column_config.NumberColumn(t("f1"), format="%.3f"),
            "support": st.column_config.NumberColumn(t("support"), format="%d"),
        },
    )
    st.plotly_chart(charts.per_class_figure(stats, lang), key="per_class")


def one_vs_rest_tab(stats: dict[str, Any], lang: str) -> None:
    st.dataframe(
        charts.one_vs_rest_frame(stats, lang),
        hide_index=True,
        width="stretch",
        column_config={"label": t("col_label"), "tp": t("tp"), "fp": t("fp"), "fn": t("fn"), "tn": t("tn")},
    )
    emotion = st.selectbox(
        t("ovr_pick"), LABELS, format_func=lambda label: emotion_text(label, lang), key="ovr_label"
    )
    st.plotly_chart(charts.one_vs_rest_figure(stats, lang, emotion), key="one_vs_rest")


def calibration_tab(stats: dict[str, Any], lang: str) -> None:
    ece = (stats.get("calibration") or {}).get("ece")
    st.metric(t("ece"), "—" if ece is None else f"{ece:.3f}", help=t("ece_help"))
    st.plotly_chart(charts.reliability_figure(stats, lang), key="reliability")


def curves_tab(stats: dict[str, Any], lang: str) -> None:
    if not charts.curve_labels(stats):
        st.info(t("stats_one_class"))
        return
    roc, pr = st.columns(2)
    roc.plotly_chart(charts.roc_figure(stats, lang), key="roc")
    pr.plotly_chart(charts.pr_figure(stats, lang), key="pr")
    st.dataframe(
        charts.curves_frame(stats, lang),
        hide_index=True,
        width="stretch",
        column_config={
            "label": t("col_label"),
            "auc": st.column_config.NumberColumn("ROC AUC", format="%.3f"),
            "average_precision": st.column_config.NumberColumn(t("average_precision"), format="%.3f"),
        },
    )
    st.caption(t("curves_note"))


def scores_tab(stats: dict[str, Any], lang: str) -> None:
    if not (stats.get("counts") or {}).get("predicted"):
        st.info(t("stats_no_predictions"))
        return
    histogram, density = st.columns(2)
    histogram.plotly_chart(charts.score_histogram_figure(stats, lang), key="score_histogram")
    density.plotly_chart(charts.score_density_figure(stats, lang), key="score_density")


def time_tab(stats: dict[str, Any], lang: str) -> None:
    drift_notice()  # days on which the active model's predicted mix drifted from its reference
    volume, mix = st.columns(2)
    volume.plotly_chart(charts.volume_figure(stats, lang), key="volume")
    mix.plotly_chart(charts.mix_figure(stats, lang), key="mix")


def users_tab(stats: dict[str, Any]) -> None:
    if not view.is_admin():  # the API leaves usernames out of the public statistics
        st.info(t("stats_users_admin_only"))
        return
    st.dataframe(
        charts.per_user_frame(stats),
        hide_index=True,
        width="stretch",
        column_config={
            "request_user": t("col_user"),
            "total": st.column_config.NumberColumn(t("count_total"), format="%d"),
            "labeled": st.column_config.NumberColumn(t("count_labeled"), format="%d"),
            "correct": st.column_config.NumberColumn(t("correct"), format="%d"),
            "accuracy": st.column_config.NumberColumn(t("accuracy"), format="percent"),
        },
    )


def statistics(request_user: str | None) -> None:
    sources = HUMAN_SOURCES if st.session_state.get(LEAVE_OUT_BULK_KEY) else None
    # signed in, the token goes along: admins get the per-user table (the public answer has no names)
    stats = view.fetch(
        lambda api: api.stats(request_user, sources), key="stats", admin=view.admin_token() is not None
    )
    if stats is None:
        return
    bulk = ((stats.get("counts") or {}).get("by_label_source") or {}).get("bulk_accepted", 0)
    st.toggle(
        t("stats_leave_out_bulk", count=f"{bulk:,}"),
        key=LEAVE_OUT_BULK_KEY,
        help=t("stats_leave_out_bulk_help"),
    )
    lang = view.current_lang()
    counts_row(stats)
    counts = stats.get("counts") or {}
    if not counts.get("total"):
        st.info(t("stats_empty"))
        return
    labelled = bool(counts.get("labeled_and_predicted"))
    if not labelled:
        st.info(t("stats_no_labels"))
    elif sum(1 for item in stats.get("per_class") or [] if item.get("support")) < 2:
        st.warning(t("stats_one_class"))
    tab_names = ["tab_quality", "tab_per_class", "tab_one_vs_rest", "tab_calibration", "tab_curves"]
    if not labelled:
        tab_names = []
    tab_names += ["tab_scores", "tab_time", "tab_users"]
    # Lazy tabs: only the open tab's figures are built and drawn, which keeps the page fast.
    tabs = st.tabs([t(name) for name in tab_names], key=f"{TAB_KEY}_{lang}", on_change="rerun")
    builders = {
        "tab_quality": lambda: quality_tab(stats, lang),
        "tab_per_class": lambda: per_class_tab(stats, lang),
        "tab_one_vs_rest": lambda: one_vs_rest_tab(stats, lang),
        "tab_calibration": lambda: calibration_tab(stats, lang),
        "tab_curves": lambda: curves_tab(stats, lang),
        "tab_scores": lambda: scores_tab(stats, lang),
        "tab_time": lambda: time_tab(stats, lang),
        "tab_users": lambda: users_tab(stats),
    }
    for name, tab in zip(tab_names, tabs, strict=True):
        if tab.open:
            with tab:
                builders[name]()
    st.caption(t("stats_generated", time=format_time(stats.get("generated_at"))))


st.title(t("stats_title"))
user_column, auto_column, refresh_column = st.columns([3, 2, 1], vertical_alignment="bottom")
request_user = user_column.text_input(t("stats_user"), key="stats_user", placeholder=t("all_users"))
auto = auto_column.toggle(t("auto_refresh", seconds=AUTO_REFRESH_SECONDS), key="stats_auto")
refresh_column.button(t("refresh"), icon=":material/refresh:")
st.fragment(statistics, run_every=AUTO_REFRESH_SECONDS if auto else None)(request_user.strip() or None)
