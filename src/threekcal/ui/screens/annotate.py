"""Annotate: one comment at a time from the signed-in person's queue, labelled with the keyboard alone
(1-7, Enter, S, U, R). The queue, its prefetch and the callbacks live in ui/annotate_flow.py; the part
that changes with each decision is a fragment, so a key press reruns only it."""

from typing import Any

import streamlit as st

from threekcal.emotions import EMOJI
from threekcal.ui import annotate_flow as flow
from threekcal.ui import view
from threekcal.ui.logic import LABELS, MAX_REMARK_CHARS, emotion_text, escape_markdown, format_percent
from threekcal.ui.view import t


def login_form() -> None:
    st.info(t("annotate_login_needed"))
    with st.form("annotate_login_form"):
        st.text_input(t("username"), key=flow.LOGIN_USER_KEY, autocomplete="username")
        st.text_input(t("password"), type="password", key=flow.LOGIN_PASSWORD_KEY)
        st.form_submit_button(t("login"), type="primary", on_click=flow.login, icon=":material/login:")


def controls() -> None:
    lang = view.current_lang()
    mode, user, predicted, text = st.columns([3, 2, 2, 2], vertical_alignment="bottom")
    mode.segmented_control(
        t("annotate_mode"),
        flow.MODES,
        format_func=lambda value: t(f"annotate_mode_{value}"),
        default="least_confident",
        required=True,
        key=flow.MODE_KEY,
    )
    user.text_input(t("filter_user"), key=flow.USER_FILTER_KEY, placeholder=t("all_users"))
    predicted.selectbox(
        t("filter_predicted"),
        ["", *LABELS],
        format_func=lambda label: emotion_text(label, lang) or t("any"),
        key=flow.PREDICTED_FILTER_KEY,
    )
    text.text_input(t("filter_text"), key=flow.TEXT_FILTER_KEY, placeholder=t("filter_text_placeholder"))
    st.caption(t("annotate_audit_note") if flow.current_mode() == "audit" else t("annotate_queue_note"))


def probabilities(comment: dict[str, Any]) -> str:
    scores = comment.get("prediction_scores") or {}
    predicted = comment.get("prediction_result")
    cells = []
    for label in LABELS:
        cell = f"{emotion_text(label, view.current_lang())} {format_percent(scores.get(label))}"
        cells.append(f"**{cell}**" if label == predicted else cell)
    return " · ".join(cells)


def shown(comment: dict[str, Any]) -> None:
    lang = view.current_lang()
    st.subheader(
        t("annotate_comment_head", num=comment["num"], user=escape_markdown(comment["request_user"]))
    )
    with st.container(border=True, key="annotate_text"):
        st.markdown("  \n".join(escape_markdown(line) for line in comment["comments"].splitlines() or [""]))
    predicted = comment.get("prediction_result")
    if predicted:
        score = format_percent(comment.get("prediction_score"))
        st.markdown(t("annotate_prediction", label=emotion_text(predicted, lang), score=score))
        st.caption(probabilities(comment))
    else:
        st.markdown(t("annotate_no_prediction"))
    if comment.get("label"):
        label = emotion_text(comment["label"], lang)
        st.caption(
            t("annotate_current_label", label=label, user=escape_markdown(comment.get("labeled_by") or "—"))
        )


def keys(comment: dict[str, Any] | None) -> None:
    lang = view.current_lang()
    idle = comment is None
    for column, label in zip(st.columns(len(LABELS)), LABELS, strict=True):
        column.button(
            f"{EMOJI[label]} {t(f'emotion_{label}')}",
            key=f"annotate_label_{label}",
            on_click=flow.decide,
            args=(label,),
            shortcut=flow.SHORTCUTS[label],
            disabled=idle,
            width="stretch",
            type="primary" if comment and comment.get("prediction_result") == label else "secondary",
        )
    predicted = comment.get("prediction_result") if comment else None
    accept, skip, undo = st.columns([3, 1, 1])
    accept.button(
        t("annotate_accept", label=emotion_text(predicted, lang)) if predicted else t("annotate_accept_none"),
        key="annotate_accept",
        on_click=flow.decide,
        shortcut=flow.ACCEPT_KEY,
        disabled=idle or not predicted,
        width="stretch",
    )
    skip.button(
        t("annotate_skip"),
        key="annotate_skip",
        on_click=flow.skip,
        shortcut=flow.SKIP_KEY,
        disabled=idle,
        width="stretch",
    )
    undo.button(
        t("annotate_undo"), key="annotate_undo", on_click=flow.undo, shortcut=flow.UNDO_KEY, width="stretch"
    )
    st.text_input(
        t("annotate_remark"),
        key=flow.REMARK_KEY,
        max_chars=MAX_REMARK_CHARS,
        placeholder=t("annotate_remark_placeholder"),
        disabled=idle,
    )


@st.fragment
def labelling() -> None:
    view.show_flashes()
    held = flow.queue()
    flow.refill(held, reader=True)
    last = st.session_state.pop("annotate_last", None)
    if last:
        st.caption(last)
    comment = held.current
    if comment is None:
        st.success(t("annotate_done"))
        if held.skipped:
            st.button(t("annotate_again", count=len(held.skipped)), on_click=flow.again, key="annotate_again")
    else:
        shown(comment)
    keys(comment)
    st.caption(t("annotate_progress", labelled=held.labelled, skipped=len(held.skipped)))


st.title(t("annotate_title"))
if not view.admin_token():
    view.show_flashes()
    login_form()
else:
    st.html(flow.PAGE_STYLE)
    st.html(flow.REMARK_KEY_SCRIPT, unsafe_allow_javascript=True)
    st.markdown(t("annotate_keys"))
    controls()
    labelling()
