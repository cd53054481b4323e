"""The plumbing of the focused labelling page (ui/screens/annotate.py): the person's queue with the next
comments prefetched in session state, and the callbacks of the keys (label, accept, skip, undo).

A decision writes the label through the API (If-Match with the ETag that was shown, so a change made
meanwhile by someone else is never overwritten), then the next comment is already in session state: the
page's fragment reruns and shows it without another read. The queue is refilled when it runs low.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import streamlit as st

from threekcal.ui import view
from threekcal.ui.client import ApiClient, ApiError
from threekcal.ui.logic import LABELS, emotion_text, validate_remark
from threekcal.ui.view import t

Mode = Literal["least_confident", "audit"]
MODES: tuple[Mode, ...] = ("least_confident", "audit")
SHORTCUTS: dict[str, str] = {label: str(position) for position, label in enumerate(LABELS, start=1)}
ACCEPT_KEY, SKIP_KEY, UNDO_KEY = "Enter", "S", "U"
REMARK_WIDGET_CLASS = "st-key-annotate_remark"  # the remark's container; the R key focuses its input

QUEUE_KEY = "annotate_queue"
MODE_KEY = "annotate_mode"
USER_FILTER_KEY = "annotate_user"
PREDICTED_FILTER_KEY = "annotate_predicted"
TEXT_FILTER_KEY = "annotate_q"
REMARK_KEY = "annotate_remark"
LOGIN_USER_KEY = "annotate_login_user"
LOGIN_PASSWORD_KEY = "annotate_login_password"

PREFETCH = 10  # comments held in session state ahead of the one shown
REFILL_BELOW = 3  # fetch more when fewer than this many are left


@dataclass
class Queue:
    """What the page works through: ``items[0]`` is shown; the rest are prefetched."""

    signature: tuple[Any, ...] = ()
    items: list[dict[str, Any]] = field(default_factory=list)
    cursor: str | None = None
    exhausted: bool = False
    started: bool = False
    seen: set[int] = field(default_factory=set)  # served in this walk: never served twice
    skipped: list[int] = field(default_factory=list)
    labelled: int = 0

    @property
    def current(self) -> dict[str, Any] | None:
        return self.items[0] if self.items else None


def queue_params(mode: Mode, filters: Mapping[str, Any]) -> dict[str, Any]:
    """GET /comments parameters of the queue. Least confident first: what I have not labelled yet
    (``queue``). Audit: predicted comments not in the audit sample yet, in the API's pseudo-random
    order; labelled ones stay in it, so the sample is uniform over all predicted comments."""
    base = {name: value for name, value in filters.items() if value not in (None, "")}
    if mode == "audit":
        return {**base, "sort": "audit", "audit": False, "predicted": True}
    return {**base, "sort": "least_confident", "queue": True}


def current_filters() -> dict[str, Any]:
    return {
        "request_user": (st.session_state.get(USER_FILTER_KEY) or "").strip() or None,
        "prediction_result": st.session_state.get(PREDICTED_FILTER_KEY) or None,
        "q": (st.session_state.get(TEXT_FILTER_KEY) or "").strip() or None,
    }


def current_mode() -> Mode:
    mode = st.session_state.get(MODE_KEY)
    return mode if mode in MODES else "least_confident"


def queue() -> Queue:
    """This session's queue for the current mode and filters (a new, empty one when they changed)."""
    signature = (current_mode(), tuple(sorted(current_filters().items())))
    held = st.session_state.get(QUEUE_KEY)
    if not isinstance(held, Queue) or held.signature != signature:
        held = st.session_state[QUEUE_KEY] = Queue(signature=signature)
    return held


def _fill(api: ApiClient, held: Queue) -> None:
    params = queue_params(current_mode(), current_filters())
    while len(held.items) < PREFETCH and not held.exhausted:
        page = api.list_comments(params, cursor=held.cursor, limit=PREFETCH)
        for item in page.get("items") or []:
            if item["num"] not in held.seen:
                held.seen.add(item["num"])
                held.items.append(item)
        held.cursor = page.get("next_cursor")
        held.exhausted = held.cursor is None
    held.started = True


def refill(held: Queue, *, reader: bool = False) -> None:
    """Fetch more of the queue when it runs low. From the page (``reader``) a failure is shown with a
    retry button; from a callback it is a flash message."""
    if held.started and (len(held.items) >= REFILL_BELOW or held.exhausted):
        return
    if reader:
        view.fetch(lambda api: _fill(api, held), key="annotate_queue", admin=True)
    else:
        view.run_action(lambda api: _fill(api, held), admin=True)


def _remark() -> tuple[str | None, bool]:
    """The typed remark (None: none typed, the current one stays) and whether it may be sent."""
    remark = (st.session_state.get(REMARK_KEY) or "").strip() or None
    problems = validate_remark(remark or "")
    for key, params in problems:
        view.flash("error", t(key, **params))
    return remark, not problems


def _advance(held: Queue) -> None:
    held.items.pop(0)
    st.session_state[REMARK_KEY] = ""
    refill(held)


def decide(label: str | None = None) -> None:
    """Label the shown comment ``label``; without one, accept its prediction (source "accepted")."""
    held = queue()
    comment = held.current
    if comment is None:
        return
    accepted = label is None
    label = comment.get("prediction_result") if accepted else label
    if label not in LABELS:
        return
    remark, valid = _remark()
    if not valid:
        return
    num = comment["num"]

    def put(api: ApiClient) -> dict[str, Any] | None:
        try:
            return api.label_comment(
                num,
                label,
                etag=comment.get("etag"),
                remark=remark,
                source="accepted" if accepted else "chosen",
                audit=current_mode() == "audit",
            )
        except ApiError as exc:
            if exc.status != 412 or not isinstance(exc.body, dict):
                raise
            current = exc.body.get("current") or {}
            view.flash("warning", t("annotate_stale", num=num, user=current.get("labeled_by") or "—"))
            return {}

    saved = view.run_action(put, admin=True)
    if saved is None:  # not saved: the comment stays, with the error shown
        return
    if saved:
        held.labelled += 1
        st.session_state["annotate_last"] = t(
            "annotate_saved", num=num, label=emotion_text(label, view.current_lang())
        )
    else:
        held.skipped.append(num)
    _advance(held)


def skip() -> None:
    held = queue()
    if held.current is not None:
        held.skipped.append(held.current["num"])
        _advance(held)


def undo() -> None:
    """Undo my newest change (wherever it was made); the comment comes back first in the queue."""
    restored = view.undo_my_last_change()
    if restored is None:
        return
    held = queue()
    num = restored["num"]
    held.items = [restored, *(item for item in held.items if item["num"] != num)]
    held.seen.add(num)
    if num in held.skipped:
        held.skipped.remove(num)
    held.labelled = max(0, held.labelled - 1)
    st.session_state[REMARK_KEY] = ""
    label = emotion_text(restored.get("label"), view.current_lang())
    st.session_state["annotate_last"] = (
        t("annotate_undone", num=num, label=label) if label else t("annotate_undone_none", num=num)
    )


def again() -> None:
    """Walk the queue from its start again, the skipped comments included."""
    st.session_state.pop(QUEUE_KEY, None)


def login() -> None:
    username = (st.session_state.get(LOGIN_USER_KEY) or "").strip()
    password = st.session_state.get(LOGIN_PASSWORD_KEY) or ""
    if not username or not password:
        view.flash("error", t("login_missing"))
        return
    st.session_state[LOGIN_PASSWORD_KEY] = ""  # never kept beyond this attempt
    if view.sign_in(username, password):
        st.session_state[LOGIN_USER_KEY] = ""


# The R key: focus the remark. Not a Streamlit shortcut (Streamlit reserves R for "rerun"), so a small
# script in the page catches it first (capture phase on the window). It is attached once per browser
# page (the flag on the window): Streamlit reruns render it again, but never add a second listener or
# leave one bound to a stale element; the remark input is looked up at each key press. In the remark,
# Enter and Esc leave it (the value is committed), so the label keys work again. They blur it at once
# and Streamlit never sees them: letting Streamlit commit on Enter and blurring after it lost the remark
# when the next key followed quickly (reproduced in Chromium: the label was saved without it).
REMARK_KEY_SCRIPT = f"""
<script>
(() => {{
  const host = window;
  if (host.__threekcalRemarkKey) return;
  host.__threekcalRemarkKey = true;
  host.addEventListener("keydown", (event) => {{
    const remark = host.document.querySelector(".{REMARK_WIDGET_CLASS} input");
    if (!remark) return;
    const target = event.target;
    if (target === remark) {{
      if (event.key !== "Escape" && event.key !== "Enter") return;
      event.preventDefault();
      event.stopImmediatePropagation();
      remark.blur();  // Streamlit commits the value on blur: one commit, in order before the next key
      return;
    }}
    const typing = target
      && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
    if (typing || event.ctrlKey || event.metaKey || event.altKey || event.key.toLowerCase() !== "r") return;
    event.preventDefault();
    event.stopImmediatePropagation();
    remark.focus();
  }}, true);
}})();
</script>
"""

PAGE_STYLE = """
<style>
.st-key-annotate_text p { font-size: 1.6rem; line-height: 1.45; }
</style>
"""
