"""Label: a signed-in annotator or admin filters comments, sets true labels and remarks and undoes their
changes; admins also accept predictions in bulk. Saving sends If-Match: a change made meanwhile by
someone else is shown with the choice to re-apply one's own label or keep theirs."""

from typing import Any

import streamlit as st

from threekcal.ui import table_flow, view
from threekcal.ui.charts.comment import probabilities_figure
from threekcal.ui.logic import (
    LABELS,
    MAX_REMARK_CHARS,
    SORTS,
    CursorPager,
    LabelFilters,
    comments_frame,
    emotion_text,
    escape_markdown,
    format_percent,
    format_time,
    history_frame,
    probability_column,
    quote_markdown,
)
from threekcal.ui.table_flow import (
    CONFLICT_KEY,
    EDIT_NUM_KEY,
    EXPORT_FORMATS,
    EXPORT_MIME,
    LOGIN_PASSWORD_KEY,
    LOGIN_USER_KEY,
    SELECTED_KEY,
    label_key,
    remark_key,
)
from threekcal.ui.view import t

PAGE_SIZES = (25, 50, 100, 200)
USERS_LISTED = 200
USERS_TTL = 60  # seconds: the user list is one GROUP BY over every comment
PAGER_KEY = "label_pager"


# ------------------------------------------------------------------------------------- layout
def login_form() -> None:
    st.info(t("login_needed"))
    with st.form("login_form"):
        st.text_input(t("username"), key=LOGIN_USER_KEY, autocomplete="username")
        st.text_input(t("password"), type="password", key=LOGIN_PASSWORD_KEY, help=t("password_help"))
        st.form_submit_button(t("login"), type="primary", on_click=table_flow.login, icon=":material/login:")


def filters_panel() -> tuple[LabelFilters, int]:
    lang = view.current_lang()
    # the list of users who write is an admin's statistic (api/policy.py)
    users = (
        view.fetch_cached(
            lambda api: api.users(limit=USERS_LISTED), key="users", seconds=USERS_TTL, admin=True
        )
        if view.is_admin()
        else None
    ) or []
    user_options = ["", *(user["request_user"] for user in users)]
    chosen = st.session_state.get("lf_user")
    if chosen and chosen not in user_options:
        user_options.append(chosen)  # a name typed in earlier stays selectable
    label_options = ["", *LABELS]
    with st.container(border=True):
        first = st.columns([2, 3, 2, 2])  # the status control needs room for three labels
        user = first[0].selectbox(
            t("filter_user"),
            user_options,
            format_func=lambda name: name or t("all_users"),
            key="lf_user",
            accept_new_options=True,
        )
        status = first[1].segmented_control(
            t("filter_status"),
            ["all", "unlabeled", "labeled"],
            format_func=lambda value: t(f"status_{value}"),
            default="all",
            required=True,
            key="lf_status",
        )
        predicted = first[2].selectbox(
            t("filter_predicted"),
            label_options,
            format_func=lambda label: emotion_text(label, lang) or t("any"),
            key="lf_predicted",
        )
        true_label = first[3].selectbox(
            t("filter_true"),
            label_options,
            format_func=lambda label: emotion_text(label, lang) or t("any"),
            key="lf_true",
        )
        second = st.columns([3, 3, 2, 1])
        score_range = second[0].slider(t("filter_score"), 0.0, 1.0, (0.0, 1.0), step=0.01, key="lf_score")
        query = second[1].text_input(t("filter_text"), key="lf_q", placeholder=t("filter_text_placeholder"))
        sort = second[2].selectbox(
            t("sort"), SORTS, format_func=lambda value: t(f"sort_{value}"), key="lf_sort"
        )
        page_size = second[3].selectbox(t("page_size"), PAGE_SIZES, index=1, key="lf_page_size")
    filters = LabelFilters.from_widgets(
        request_user=user,
        status=status or "all",
        prediction_result=predicted,
        label=true_label,
        score_range=score_range,
        q=query,
        sort=sort,
    )
    return filters, page_size


def comments_table(items: list[dict[str, Any]]) -> None:
    """The rows; a click on one opens it in the editor (single-row selection, never the bulk pick)."""
    frame = comments_frame(items, view.current_lang())
    picked = set(table_flow.selection())
    frame.insert(1, "picked", ["✔" if num in picked else "" for num in frame["num"]])
    key = table_flow.table_key()
    percent = {"format": "percent", "min_value": 0.0, "max_value": 1.0}
    event = st.dataframe(
        frame,
        key=key,
        on_select="rerun",
        selection_mode="single-row",
        hide_index=True,
        width="stretch",
        column_config={
            "num": st.column_config.NumberColumn("#", format="%d", width="small"),
            "picked": st.column_config.TextColumn(t("col_picked"), width="small"),
            "request_user": t("col_user"),
            "comments": st.column_config.TextColumn(t("col_comment"), width="large"),
            "prediction": t("col_prediction"),
            "score": st.column_config.ProgressColumn(t("col_score"), **percent),
            "label": t("col_label"),
            "remark": t("col_remark"),
            "request_time": t("col_time"),
            **{
                probability_column(label): st.column_config.NumberColumn(
                    emotion_text(label, view.current_lang()), format="percent"
                )
                for label in LABELS
            },
        },
    )
    table_flow.open_clicked_row(key, event.selection.rows, [item["num"] for item in items])
    st.caption(t("label_table_help"))


def pager_controls(pager: CursorPager, page: dict[str, Any], shown: int) -> None:
    previous, position, following = st.columns([1, 4, 1])
    previous.button(
        t("page_previous"),
        on_click=pager.back,
        disabled=not pager.has_previous,
        icon=":material/chevron_left:",
        width="stretch",
    )
    total = page.get("total")
    position.caption(
        t("page_position", page=pager.index + 1, shown=shown, total=total if total is not None else "?")
        if shown
        else t("page_empty")
    )
    following.button(
        t("page_next"),
        on_click=pager.forward,
        disabled=not pager.has_next,
        icon=":material/chevron_right:",
        width="stretch",
    )


def actions(nums: list[int], filters: LabelFilters) -> None:
    picked = table_flow.selection()
    options = [*nums, *sorted(num for num in picked if num not in nums)]  # picks on other pages stay
    if view.is_admin():  # bulk accept is an admin action; annotators never see it
        chosen, clear = st.columns([6, 1], vertical_alignment="bottom")
        table_flow.before_picker()
        selected = chosen.multiselect(
            t("label_selected"),
            options,
            key=SELECTED_KEY,
            format_func=lambda num: f"#{num}",
            placeholder=t("label_select_hint"),
        )
        table_flow.after_picker(selected)
        clear.button(
            t("label_clear_selection"),
            on_click=table_flow.clear_selection,
            disabled=not selected,
            icon=":material/clear_all:",
            width="stretch",
        )
        if selected:
            _, preview = table_flow.bulk_preview()
            st.info(preview, icon=":material/checklist:")
    accept, undo, *exports = st.columns(4, vertical_alignment="bottom")
    if view.is_admin():
        accept.button(
            t("label_accept", count=len(picked)),
            on_click=table_flow.accept_selected,
            disabled=not picked,
            icon=":material/done_all:",
            width="stretch",
        )
    undo.button(t("label_undo"), on_click=table_flow.undo_last, icon=":material/undo:", width="stretch")
    if not view.is_admin():  # the export is an admin's (api/policy.py: EXPORT)
        return
    for column, fmt in zip(exports, EXPORT_FORMATS, strict=True):
        column.download_button(
            t(f"export_{fmt}"),
            data=table_flow.export_action(view.admin_token(), filters, fmt),
            file_name=table_flow.export_name(fmt),
            mime=EXPORT_MIME[fmt],
            on_click="ignore",
            help=t("export_help"),
            icon=":material/download:",
            key=f"label_export_{fmt}",
            width="stretch",
        )


def conflict_panel(num: int) -> None:
    """After a 412: who changed the comment meanwhile, to what, and the two ways on."""
    conflict = st.session_state.get(CONFLICT_KEY)
    if not conflict or conflict["num"] != num:
        return
    lang = view.current_lang()
    current = conflict["current"]
    st.warning(
        t(
            "label_conflict",
            num=num,
            user=escape_markdown(current.get("labeled_by") or t("someone")),
            theirs=emotion_text(current.get("label"), lang) or t("no_label"),
            their_remark=escape_markdown(current.get("remark") or "—"),
            mine=emotion_text(conflict["label"], lang) or t("no_label"),
        ),
        icon=":material/sync_problem:",
    )
    mine, theirs = st.columns(2)
    mine.button(
        t("label_reapply"),
        on_click=table_flow.reapply_mine,
        icon=":material/replay:",
        key="conflict_reapply",
        width="stretch",
    )
    theirs.button(
        t("label_keep_theirs"),
        on_click=table_flow.keep_theirs,
        icon=":material/check:",
        key="conflict_keep",
        width="stretch",
    )


def editor(items: list[dict[str, Any]]) -> None:
    lang = view.current_lang()
    by_num = {item["num"]: item for item in items}
    if st.session_state.get(EDIT_NUM_KEY) not in by_num:
        st.session_state[EDIT_NUM_KEY] = items[0]["num"]
    st.subheader(t("label_editor"))
    num = st.selectbox(
        t("label_comment"),
        list(by_num),
        key=EDIT_NUM_KEY,
        format_func=lambda value: f"#{value} · {' '.join(by_num[value]['comments'].split())[:60]}",
    )
    item = by_num[num]
    table_flow.restore_draft(num)
    text_column, probs_column = st.columns([3, 2])
    with text_column:
        st.markdown(f"**{escape_markdown(item['request_user'])}** · {format_time(item.get('request_time'))}")
        st.markdown(quote_markdown(item["comments"]))
        if item.get("prediction_result"):
            st.markdown(
                t(
                    "label_prediction_is",
                    label=emotion_text(item["prediction_result"], lang),
                    score=format_percent(item.get("prediction_score")),
                    model=escape_markdown(item.get("model_version") or "?"),
                )
            )
        else:
            st.caption(t("label_no_prediction"))
        with st.form(f"edit_form_{num}"):
            current = item.get("label") or ""
            if label_key(num) not in st.session_state:
                st.session_state[label_key(num)] = current if current in LABELS else ""
            if remark_key(num) not in st.session_state:
                st.session_state[remark_key(num)] = item.get("remark") or ""
            st.selectbox(
                t("label_true"),
                ["", *LABELS],
                format_func=lambda label: emotion_text(label, lang) or t("no_label"),
                key=label_key(num),
            )
            st.text_input(t("label_remark"), max_chars=MAX_REMARK_CHARS, key=remark_key(num))
            st.form_submit_button(
                t("save"),
                type="primary",
                on_click=table_flow.save_label,
                args=(num, item.get("etag")),
                icon=":material/save:",
            )
        conflict_panel(num)
        if item.get("labeled_by"):
            st.caption(
                t(
                    "label_labeled_by",
                    user=escape_markdown(item["labeled_by"]),
                    time=format_time(item.get("labeled_at")),
                )
            )
    with probs_column:
        if item.get("prediction_scores"):
            st.plotly_chart(probabilities_figure(item["prediction_scores"], lang), key=f"probs_{num}")
    with st.expander(t("label_history", num=num)):
        events = view.fetch(lambda api: api.history(num), key="history", admin=True)
        if events is not None:
            if events:
                st.dataframe(
                    history_frame(events, lang),
                    hide_index=True,
                    width="stretch",
                    column_config={
                        name: t(f"col_{name}")
                        for name in (
                            "changed_at",
                            "action",
                            "changed_by",
                            "old_label",
                            "new_label",
                            "old_remark",
                            "new_remark",
                        )
                    },
                )
            else:
                st.caption(t("label_history_empty"))


def labelling() -> None:
    filters, page_size = filters_panel()
    pager: CursorPager = st.session_state.setdefault(PAGER_KEY, CursorPager())
    pager.reset_if_changed((filters, page_size))
    page = view.fetch(
        lambda api: api.list_comments(
            filters.params(), cursor=pager.cursor, limit=page_size, with_total=True
        ),
        key="comments",
        admin=True,
    )
    if page is None:
        return
    items = page.get("items") or []
    pager.next_cursor = page.get("next_cursor")
    nums = [item["num"] for item in items]
    table_flow.track_rows((filters, page_size, pager.index), items)
    comments_table(items)
    pager_controls(pager, page, len(items))
    if not items:
        st.info(t("label_no_match"))
        return
    actions(nums, filters)
    editor(items)


st.title(t("label_title"))
view.show_flashes()
if view.admin_token():
    labelling()
else:
    login_form()
