"""Statistics: how well the model does on the labelled comments, from GET /stats on every run.

Every rate carries its n, small samples are flagged, classes nobody labelled show "—", the accuracy over
all labels sits beside the unbiased audit-sample accuracy, and days are the viewer's days.
"""

from typing import Any

import pandas as pd
import streamlit as st

from threekcal.ui import view
from threekcal.ui.charts import statistics as charts
from threekcal.ui.drift_view import drift_notice
from threekcal.ui.logic import LABELS, display_timezone_name, emotion_text, format_time, set_display_timezone
from threekcal.ui.stats_logic import (
    accuracy_n,
    audit_rate,
    interval_text,
    is_small,
    rate_text,
    readable,
    small_sample,
    unsupported_classes,
)
from threekcal.ui.view import t

AUTO_REFRESH_SECONDS = 10
TAB_KEY = "stats_tab"
LEAVE_OUT_BULK_KEY = "stats_leave_out_bulk"
HUMAN_SOURCES = ("chosen", "accepted", "resolved")  # labels a person decided on


def table(frame: pd.DataFrame, number_format: dict[str, str], column_config: dict[str, Any]) -> None:
    """A table whose numbers that can be missing are sent as text, "—" when missing (never "None")."""
    st.dataframe(
        readable(frame, number_format), hide_index=True, width="stretch", column_config=column_config
    )


def counts_row(stats: dict[str, Any]) -> None:
    counts = stats.get("counts") or {}
    names = ("total", "pending", "predicted", "labeled", "labeled_and_predicted")
    for column, name in zip(st.columns(len(names)), names, strict=True):
        column.metric(t(f"count_{name}"), f"{counts.get(name, 0):,}", border=True)


def small_sample_note(n: int, small: int) -> None:
    if is_small(n, small):
        st.caption(t("stats_small_sample", small=small))


def accuracy_row(stats: dict[str, Any], small: int) -> None:
    """The accuracy over all labels (biased by the labelling order) beside the audit-sample accuracy."""
    everything, audit = st.columns(2)
    with everything:
        n = accuracy_n(stats)
        st.metric(t("stats_accuracy_all"), rate_text(stats.get("accuracy"), n, digits=1), border=True)
        st.caption(t("stats_accuracy_all_note"))
        small_sample_note(n, small)
    with audit:
        sample = audit_rate(stats)
        if not sample.n:
            st.info(t("stats_audit_none"))
        else:
            st.metric(t("stats_accuracy_audit"), rate_text(sample.value, sample.n, digits=1), border=True)
            st.caption(
                t("stats_audit_interval", interval=interval_text(sample.low, sample.high), n=f"{sample.n:,}")
            )
            small_sample_note(sample.n, small)


def quality_tab(stats: dict[str, Any], lang: str, small: int) -> None:
    st.plotly_chart(charts.accuracy_by_label_figure(stats, lang, small=small), key="accuracy_by_label")
    st.caption(t("stats_small_hatched", small=small))
    normalise = st.toggle(t("confusion_normalise"), key="confusion_normalise")
    st.plotly_chart(
        charts.confusion_figure(stats, lang, normalise=normalise, row_counts=True), key="confusion"
    )
    with st.expander(t("confusion_numbers")):
        frame = charts.confusion_frame(stats, lang, normalise=normalise)
        if normalise:  # a row without comments has no shares: "—"
            st.dataframe(readable(frame, dict.fromkeys(frame.columns, "{:.1%}")), width="stretch")
        else:
            st.dataframe(frame.astype("int64"), width="stretch")


def per_class_tab(stats: dict[str, Any], lang: str, small: int) -> None:
    missing = unsupported_classes(stats)
    if missing:
        st.info(
            t(
                "stats_macro_note",
                classes=", ".join(emotion_text(label, lang) for label in missing),
                count=len(LABELS) - len(missing),
            )
        )
    table(
        charts.per_class_frame(stats, lang, small=small),
        {"precision": "{:.3f}", "recall": "{:.3f}", "f1": "{:.3f}"},
        {
            "label": t("col_label"),
            "precision": t("precision"),
            "recall": t("recall"),
            "f1": t("f1"),
            "support": t("support"),
            "sample": t("stats_sample_column"),
        },
    )
    st.plotly_chart(charts.per_class_figure(stats, lang, small=small), key="per_class")
    st.caption(t("stats_small_hatched_only", small=small))


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


def calibration_tab(stats: dict[str, Any], lang: str, small: int) -> None:
    calibration = stats.get("calibration") or {}
    ece, n = calibration.get("ece"), sum(calibration.get("count") or [])
    st.metric(t("ece"), "—" if ece is None else f"{ece:.3f} (n={n:,})", help=t("ece_help"))
    small_sample_note(n, small)
    st.plotly_chart(charts.reliability_figure(stats, lang), key="reliability")


def curves_tab(stats: dict[str, Any], lang: str) -> None:
    if not charts.curve_labels(stats):
        st.info(t("stats_one_class"))
        return
    roc, pr = st.columns(2)
    roc.plotly_chart(charts.roc_figure(stats, lang), key="roc")
    pr.plotly_chart(charts.pr_figure(stats, lang), key="pr")
    table(
        charts.curves_frame(stats, lang),
        {"auc": "{:.3f}", "average_precision": "{:.3f}"},
        {"label": t("col_label"), "auc": "ROC AUC", "average_precision": t("average_precision"),
         "support": t("support")},
    )  # fmt: skip
    st.caption(t("curves_note"))


def scores_tab(stats: dict[str, Any], lang: str) -> None:
    if not (stats.get("counts") or {}).get("predicted"):
        st.info(t("stats_no_predictions"))
        return
    histogram, density = st.columns(2)
    histogram.plotly_chart(charts.score_histogram_figure(stats, lang), key="score_histogram")
    density.plotly_chart(charts.score_density_figure(stats, lang), key="score_density")


def time_tab(stats: dict[str, Any], lang: str, small: int) -> None:
    drift_notice()  # days on which the active model's predicted mix drifted from its reference
    st.plotly_chart(charts.volume_figure(stats, lang), key="volume")
    if charts.accuracy_days_frame(stats).empty:
        st.info(t("stats_no_accuracy_days"))
    else:
        st.plotly_chart(charts.accuracy_per_day_figure(stats, lang, small=small), key="accuracy_per_day")
        st.caption(t("stats_small_hatched", small=small))
    st.plotly_chart(charts.mix_figure(stats, lang), key="mix")


def users_tab(stats: dict[str, Any]) -> None:
    if not view.is_admin():  # the API leaves usernames out of the public statistics
        st.info(t("stats_users_admin_only"))
        return
    table(
        charts.per_user_frame(stats),
        {"accuracy": "{:.1%}"},
        {
            "request_user": t("col_user"),
            "total": t("count_total"),
            "labeled": t("count_labeled"),
            "correct": t("correct"),
            "scored": t("scored_n"),
            "accuracy": t("accuracy"),
        },
    )


def footer(stats: dict[str, Any]) -> None:
    """When the figures were computed and which zone their days and times are in (the same on every tab)."""
    zone = display_timezone_name()
    where = t("stats_timezone", zone=zone) if zone else t("stats_timezone_unknown")
    st.caption(f"{t('stats_generated', time=format_time(stats.get('generated_at')))} {where}")


def statistics(request_user: str | None) -> None:
    # A fragment reruns without the app's entry file: take the browser's zone here too, so days and
    # "Computed at" are in the same zone on every run and every tab.
    set_display_timezone(st.context.timezone)
    zone = display_timezone_name()
    sources = HUMAN_SOURCES if st.session_state.get(LEAVE_OUT_BULK_KEY) else None
    # signed in, the token goes along: admins get the per-user table (the public answer has no names)
    stats = view.fetch(
        lambda api: api.stats(request_user, sources, tz=zone),
        key="stats",
        admin=view.admin_token() is not None,
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
    small = small_sample(stats)
    counts_row(stats)
    counts = stats.get("counts") or {}
    accuracy_row(stats, small)
    if not counts.get("total"):
        st.info(t("stats_empty"))
        footer(stats)
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
        "tab_quality": lambda: quality_tab(stats, lang, small),
        "tab_per_class": lambda: per_class_tab(stats, lang, small),
        "tab_one_vs_rest": lambda: one_vs_rest_tab(stats, lang),
        "tab_calibration": lambda: calibration_tab(stats, lang, small),
        "tab_curves": lambda: curves_tab(stats, lang),
        "tab_scores": lambda: scores_tab(stats, lang),
        "tab_time": lambda: time_tab(stats, lang, small),
        "tab_users": lambda: users_tab(stats),
    }
    for name, tab in zip(tab_names, tabs, strict=True):
        if tab.open:
            with tab:
                builders[name]()
    footer(stats)


st.title(t("stats_title"))
user_column, auto_column, refresh_column = st.columns([3, 2, 1], vertical_alignment="bottom")
request_user = user_column.text_input(t("stats_user"), key="stats_user", placeholder=t("all_users"))
auto = auto_column.toggle(t("auto_refresh", seconds=AUTO_REFRESH_SECONDS), key="stats_auto")
refresh_column.button(t("refresh"), icon=":material/refresh:")
st.fragment(statistics, run_every=AUTO_REFRESH_SECONDS if auto else None)(request_user.strip() or None)
