"""The upload page's callbacks and session state: this browser session's submissions, the submit
callback (with the API's rules and one Idempotency-Key per submission) and the polling by receipt."""

from __future__ import annotations

import uuid
from typing import Any

import streamlit as st

from threekcal.ui import view
from threekcal.ui.client import ApiError, ApiUnavailable
from threekcal.ui.logic import pending_receipts, validate_submission

SUBMISSIONS_KEY = "upload_submissions"  # this browser session's submissions, newest first
PROBLEMS_KEY = "upload_problems"
USER_KEY = "upload_user"
TEXT_KEY = "upload_text"
IDEMPOTENCY_KEY = "upload_idempotency"  # the key of the submission not yet acknowledged, and its body


def submissions() -> list[dict[str, Any]]:
    return st.session_state.setdefault(SUBMISSIONS_KEY, [])


def submit() -> None:
    """Button callback: runs before the page, so it may clear the comment box after a success; a refused
    text stays in its box as it was typed."""
    user = st.session_state.get(USER_KEY, "")
    text = st.session_state.get(TEXT_KEY, "")
    problems = validate_submission(user, text)
    st.session_state[PROBLEMS_KEY] = problems
    if problems:
        return
    key = submission_key(user.strip(), text)
    created = view.run_action(lambda api: api.submit(user.strip(), text, idempotency_key=key))
    if created is not None:
        submissions().insert(0, created)
        st.session_state.pop(IDEMPOTENCY_KEY, None)
        st.session_state[TEXT_KEY] = ""


def submission_key(user: str, text: str) -> str:
    """One Idempotency-Key per submission: a retry of the same text after a timeout or an error reuses
    it, so the API stores the comment once; a new text gets a new key."""
    pending = st.session_state.get(IDEMPOTENCY_KEY)
    if pending is None or pending["body"] != [user, text]:
        pending = {"body": [user, text], "key": str(uuid.uuid4())}
        st.session_state[IDEMPOTENCY_KEY] = pending
    return str(pending["key"])


def refresh_pending() -> None:
    """Ask the API for every submission still waiting for its prediction."""
    items = submissions()
    try:
        with view.client() as api:
            for index in pending_receipts(items):
                try:
                    items[index] = {**items[index], **api.by_receipt(items[index]["receipt"])}
                except ApiError as exc:
                    if exc.status != 404:
                        raise
                    items[index] = {**items[index], "missing": True}
    except (ApiUnavailable, ApiError) as exc:
        view.show_error(exc, retry_key="poll")
