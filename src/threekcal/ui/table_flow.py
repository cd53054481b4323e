"""The Label page's callbacks and session state: sign-in, the editor's saves (with drafts kept after a
failure), the conflict choice, bulk accept and undo, the row that opens a comment and the export.

Rules kept here (issue 10): the bulk selection holds comment numbers, never row positions, and is
emptied after every bulk action (accept, undo); a click on a table row opens that comment in the editor
and never picks it for a bulk action; what was typed in the editor survives a failed save.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import streamlit as st

from threekcal.ui import view
from threekcal.ui.client import ApiClient, ApiError
from threekcal.ui.logic import LabelFilters, accept_plan, emotion_text, number_list, validate_remark
from threekcal.ui.view import t

LOGIN_USER_KEY = "login_username"
LOGIN_PASSWORD_KEY = "login_password"
SELECTED_KEY = "label_selected"  # the bulk selection: comment numbers (the multiselect's state)
PICKS_KEY = "label_picks"  # a copy of it that outlives a run without the multiselect
EDIT_NUM_KEY = "label_edit_num"  # the comment open in the editor
CONFLICT_KEY = "label_conflict"
DRAFTS_KEY = "label_drafts"  # num -> (label, remark) typed but not saved yet
SEEN_KEY = "label_seen"  # num -> the comment as the page last showed it (for the bulk preview)
TABLE_GENERATION_KEY = "label_table_generation"
TABLE_OPENED_KEY = "label_table_opened"  # table key -> the row selection already turned into "open"
EXPORT_FORMATS = ("csv", "jsonl")
EXPORT_MIME = {"csv": "text/csv", "jsonl": "application/x-ndjson"}
SEEN_KEPT = 2000


def label_key(num: int) -> str:
    return f"edit_label_{num}"


def remark_key(num: int) -> str:
    return f"edit_remark_{num}"


# ------------------------------------------------------------------------------------------- sign-in
def login() -> None:
    username = (st.session_state.get(LOGIN_USER_KEY) or "").strip()
    password = st.session_state.get(LOGIN_PASSWORD_KEY) or ""
    if not username or not password:
        view.flash("error", t("login_missing"))
        return
    st.session_state[LOGIN_PASSWORD_KEY] = ""  # never kept beyond this attempt
    if view.sign_in(username, password):
        st.session_state[LOGIN_USER_KEY] = ""


# ---------------------------------------------------------------------------------------- the table
def table_key() -> str:
    """The table's widget key; a new one (a new table, nothing highlighted) after every bulk action and
    whenever the rows change order, so a highlighted row position never points at another comment."""
    return f"label_table_{st.session_state.get(TABLE_GENERATION_KEY, 0)}"


def new_table() -> None:
    st.session_state[TABLE_GENERATION_KEY] = st.session_state.get(TABLE_GENERATION_KEY, 0) + 1
    st.session_state.pop(TABLE_OPENED_KEY, None)


def track_rows(signature: Any, items: Sequence[Mapping[str, Any]]) -> None:
    """Remember what the page shows (for the bulk preview) and start a new table when the rows differ."""
    nums = [item["num"] for item in items]
    if st.session_state.get("label_table_rows") != (signature, nums):
        if "label_table_rows" in st.session_state:
            new_table()
        st.session_state["label_table_rows"] = (signature, nums)
    seen: dict[int, dict[str, Any]] = st.session_state.setdefault(SEEN_KEY, {})
    for item in items:
        seen.pop(item["num"], None)
        seen[item["num"]] = dict(item)
    while len(seen) > SEEN_KEPT:
        seen.pop(next(iter(seen)))


def open_clicked_row(key: str, rows: Sequence[int], nums: Sequence[int]) -> None:
    """A row clicked in the table opens that comment in the editor (once per click); the bulk selection
    is left as it is. Called by the page before the editor is drawn."""
    picked = [nums[row] for row in rows if 0 <= row < len(nums)]
    opened = st.session_state.setdefault(TABLE_OPENED_KEY, {})
    if picked and opened.get(key) != picked:
        st.session_state[EDIT_NUM_KEY] = picked[0]
    opened[key] = picked


def selection() -> list[int]:
    """The picked comment numbers: the multiselect's state, or, in a run where it was not drawn (the list
    could not be read), the copy kept of it; Streamlit drops the state of a widget not drawn in a run."""
    if SELECTED_KEY in st.session_state:
        return list(st.session_state[SELECTED_KEY] or [])
    return list(st.session_state.get(PICKS_KEY) or [])


def before_picker() -> None:
    """Before the multiselect is drawn: bring back the picks kept from a run where it was not drawn."""
    if SELECTED_KEY not in st.session_state:
        st.session_state[SELECTED_KEY] = list(st.session_state.get(PICKS_KEY) or [])


def after_picker(selected: Sequence[int]) -> None:
    st.session_state[PICKS_KEY] = list(selected)


def clear_selection() -> None:
    st.session_state[SELECTED_KEY] = []
    st.session_state[PICKS_KEY] = []


def bulk_preview() -> tuple[list[int], str]:
    """The comments "Accept prediction" will change, and the sentence saying so and what it skips."""
    plan = accept_plan(selection(), st.session_state.get(SEEN_KEY, {}), view.current_lang())
    parts = [
        t("bulk_will_change", nums=number_list(plan.change)) if plan.change else t("bulk_nothing_changes")
    ]
    if plan.skipped:
        items = "; ".join(
            t("bulk_item", num=num, reason=t(key, **params)) for num, (key, params) in plan.skipped
        )
        parts.append(t("bulk_skips", items=items))
    return plan.change, " ".join(parts)


# ------------------------------------------------------------------------------------------ editing
def forget_edits(nums: Sequence[int]) -> None:
    """Drop the editor's widget state and drafts of these comments, so it shows their stored label."""
    drafts = st.session_state.get(DRAFTS_KEY, {})
    for num in nums:
        st.session_state.pop(label_key(num), None)
        st.session_state.pop(remark_key(num), None)
        drafts.pop(num, None)


def restore_draft(num: int) -> None:
    """Before the editor is drawn: put back what was typed and not saved (after a failed save, the
    editor may have been gone for a run, and Streamlit drops the state of widgets not drawn)."""
    draft = st.session_state.get(DRAFTS_KEY, {}).get(num)
    if draft is None:
        return
    label, remark = draft
    if label_key(num) not in st.session_state:
        st.session_state[label_key(num)] = label
    if remark_key(num) not in st.session_state:
        st.session_state[remark_key(num)] = remark


def save_label(num: int, etag: str | None = None) -> None:
    """Save the editor's label and remark with If-Match ``etag`` (the state the person saw)."""
    typed_label = st.session_state.get(label_key(num)) or ""
    typed_remark = st.session_state.get(remark_key(num)) or ""
    st.session_state.setdefault(DRAFTS_KEY, {})[num] = (typed_label, typed_remark)
    remark = typed_remark.strip() or None
    problems = validate_remark(remark or "")
    if problems:
        for key, params in problems:
            view.flash("error", t(key, **params))
        return
    if write_label(num, typed_label or None, remark, etag):
        st.session_state.get(DRAFTS_KEY, {}).pop(num, None)


def write_label(num: int, label: str | None, remark: str | None, etag: str | None) -> bool:
    def put(api: ApiClient) -> dict[str, Any] | None:
        try:
            return api.set_label(num, label, remark, etag=etag)
        except ApiError as exc:
            if exc.status != 412 or not isinstance(exc.body, dict):
                raise
            # someone changed it since the page was read: keep both versions and let the person choose
            st.session_state[CONFLICT_KEY] = {
                "num": num, "label": label, "remark": remark, "current": exc.body.get("current") or {}
            }  # fmt: skip
            return None

    st.session_state.pop(CONFLICT_KEY, None)
    saved = view.run_action(put, admin=True)
    if saved is None:
        return False
    name = emotion_text(saved.get("label"), view.current_lang()) or t("no_label")
    view.flash("success", t("label_saved", num=num, label=name))
    return True


def reapply_mine() -> None:
    conflict = st.session_state.get(CONFLICT_KEY)
    if conflict:
        write_label(conflict["num"], conflict["label"], conflict["remark"], conflict["current"].get("etag"))
        forget_edits([conflict["num"]])


def keep_theirs() -> None:
    conflict = st.session_state.pop(CONFLICT_KEY, None)
    if conflict:
        forget_edits([conflict["num"]])


# ------------------------------------------------------------------------------------- bulk actions
def accept_selected() -> None:
    nums = selection()
    result = view.run_action(lambda api: api.accept(nums), admin=True)
    if result is None:  # not done (the error is shown): the picks stay for a retry
        return
    clear_selection()  # done: nothing stays picked by itself, at any row position
    new_table()
    forget_edits(nums)
    skipped = result.get("skipped") or []
    said = (
        t("bulk_skips", items="; ".join(t("bulk_item", num=entry["num"], reason=entry["reason"])
                                       for entry in skipped))
        if skipped
        else t("label_accepted_none_skipped")
    )  # fmt: skip
    view.flash("success", t("label_accepted_detail", accepted=result.get("accepted", 0), skipped=said))


def undo_last() -> None:
    restored = view.undo_my_last_change()
    clear_selection()
    new_table()
    if restored is not None:
        forget_edits([restored["num"]])
        name = emotion_text(restored.get("label"), view.current_lang()) or t("no_label")
        view.flash("success", t("label_undone", num=restored["num"], label=name))


# ------------------------------------------------------------------------------------------- export
def export_file(token: str | None, filters: Mapping[str, Any], fmt: str) -> bytes:
    """The export of GET /comments/export for these filters."""
    with ApiClient(token=token) as api:
        return api.export_comments(filters, fmt=fmt)


def export_action(token: str | None, filters: LabelFilters, fmt: str) -> Callable[[], bytes]:
    """What the download button runs when clicked, outside the page's run (so it is handed the token
    and the filters now, not the session): every comment of the current filters, all pages."""
    return partial(export_file, token, filters.params(), fmt)


def export_name(fmt: str) -> str:
    return f"threekcal-comments.{fmt}"
