"""Upload: submit a comment, then watch its prediction arrive (polled by receipt, no admin token)."""

from typing import Any

import streamlit as st

from threekcal import validation
from threekcal.emotions import EMOJI
from threekcal.ui import view
from threekcal.ui.charts.comment import probabilities_figure
from threekcal.ui.logic import (
    MAX_COMMENT_CHARS,
    MAX_USER_CHARS,
    emotion_text,
    escape_markdown,
    format_time,
    input_count,
    pending_receipts,
    quote_markdown,
)
from threekcal.ui.upload_flow import (
    PROBLEMS_KEY,
    TEXT_COUNT_KEY,
    TEXT_KEY,
    USER_COUNT_KEY,
    USER_KEY,
    CountedBox,
    live_count_script,
    refresh_pending,
    submissions,
    submit,
)
from threekcal.ui.view import t

POLL_SECONDS = 2
RECENT_SHOWN = 10


def prediction_card(item: dict[str, Any]) -> None:
    lang = view.current_lang()
    with st.container(border=True):
        st.markdown(f"**{t('upload_received', num=item['num'])}** · {format_time(item.get('request_time'))}")
        st.markdown(quote_markdown(item["comments"]))
        label = item.get("prediction_result")
        if item.get("missing"):
            st.warning(t("upload_missing"))
        elif label is None:
            st.info(t("upload_waiting"), icon=":material/hourglass_top:")
        else:
            score = float(item.get("prediction_score") or 0.0)
            st.markdown(f"## {EMOJI.get(label, '')} {t(f'emotion_{label}')}")
            st.progress(min(max(score, 0.0), 1.0), text=t("upload_score", score=f"{score:.1%}"))
            if item.get("prediction_scores"):
                st.plotly_chart(probabilities_figure(item["prediction_scores"], lang), key="latest_probs")


def recent_table(user: str) -> None:
    lang = view.current_lang()
    if not submissions():
        return
    mine = [item for item in submissions() if item.get("request_user") == user.strip()][:RECENT_SHOWN]
    st.subheader(t("upload_recent", user=escape_markdown(user.strip()) or "—"))
    if not mine:
        st.caption(t("upload_recent_empty"))
        return
    st.dataframe(
        [
            {
                "num": item["num"],
                "time": format_time(item.get("request_time")),
                "comment": item["comments"],
                "prediction": emotion_text(item.get("prediction_result"), lang) or t("upload_pending"),
                "score": item.get("prediction_score"),
            }
            for item in mine
        ],
        hide_index=True,
        width="stretch",
        column_config={
            "num": st.column_config.NumberColumn("#", format="%d"),
            "time": t("col_time"),
            "comment": t("col_comment"),
            "prediction": t("col_prediction"),
            "score": st.column_config.ProgressColumn(
                t("col_score"), min_value=0.0, max_value=1.0, format="percent"
            ),
        },
    )


def results() -> None:
    waiting = bool(pending_receipts(submissions()))

    @st.fragment(run_every=POLL_SECONDS if waiting else None)
    def poll() -> None:
        if waiting:
            refresh_pending()
            if not pending_receipts(submissions()):
                st.rerun(scope="app")  # everything predicted: redraw once, with polling off
        if submissions():
            prediction_card(submissions()[0])
        recent_table(st.session_state.get(USER_KEY, ""))

    poll()


def counter(length: int, limit: int) -> None:
    """The count under a box, measured as the API measures it; red past the limit. The server writes it
    when it gets the box's value; the live count script shows the same text on every keystroke."""
    key, params = input_count(length, limit)
    text = t(key, **params)
    st.caption(f":red[{text}]" if length > limit else text)


st.title(t("upload_title"))
st.markdown(t("upload_intro"))
view.show_flashes()
# No form and no max_chars: nothing typed or pasted is ever cut or dropped; the limits are checked on
# Submit with the API's rules. Each box's count is the server's caption (updated when the box is left or on
# Ctrl+Enter), replaced in the browser by a live one that counts the same way on every keystroke.
# The username box is a text area because a one-line browser input turns a pasted line break into a
# space, which would then be accepted: here a line break is kept and refused with a message.
with st.container(border=True):
    user = st.text_area(t("username"), key=USER_KEY, placeholder=t("username_placeholder"), height=68)
    with st.container(key=USER_COUNT_KEY):
        counter(validation.name_length(user or ""), MAX_USER_CHARS)
    text = st.text_area(t("comment"), key=TEXT_KEY, placeholder=t("comment_placeholder"), height=150)
    with st.container(key=TEXT_COUNT_KEY):
        counter(validation.text_length(text or ""), MAX_COMMENT_CHARS)
    st.caption(t("upload_limits", user_limit=MAX_USER_CHARS, comment_limit=MAX_COMMENT_CHARS))
    st.button(t("submit"), type="primary", on_click=submit, icon=":material/send:", key="upload_submit")
st.html(
    live_count_script(
        [
            CountedBox(t("username"), USER_COUNT_KEY, MAX_USER_CHARS, "name"),  # validation.name_length
            CountedBox(t("comment"), TEXT_COUNT_KEY, MAX_COMMENT_CHARS, "text"),  # validation.text_length
        ]
    ),
    unsafe_allow_javascript=True,
)
for key, params in st.session_state.pop(PROBLEMS_KEY, []):
    st.error(t(key, **params))
results()
