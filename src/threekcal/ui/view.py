"""Streamlit helpers every page shares: the current language, the API client, errors shown on the page.

An API call made from a page goes through :func:`fetch`; one made from a button's callback goes through
:func:`run_action`. Neither lets an exception reach Streamlit: the page shows what went wrong, in the
user's language, with a retry button.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar

import streamlit as st

from threekcal.ui.client import ApiClient, ApiError, ApiUnavailable
from threekcal.ui.config import ui_settings
from threekcal.ui.i18n import LANGUAGES, translate
from threekcal.ui.logic import escape_markdown

T = TypeVar("T")

LANG_KEY = "lang"
LANG_CHOICE_KEY = "lang_choice"
TOKEN_KEY = "admin_token"  # the signed-in person's bearer token (server-side session state only)
ACCOUNT_KEY = "account"  # {"username", "role"} of the signed-in person
FLASH_KEY = "flash"
AUTH_STATUSES = (401, 403)
UNAVAILABLE = "unavailable"  # flash kind of an API that cannot be reached: shown as the banner
BANNER_RETRY_SECONDS = 3

# The banner's place at the top of the page frame (app.py) and whether this run has filled it. Set at the
# start of every full run of the entry script; a fragment's own rerun never writes there.
_banner: ContextVar[dict[str, Any] | None] = ContextVar("api_banner", default=None)


def current_lang() -> str:
    lang = st.session_state.get(LANG_KEY)
    return lang if lang in LANGUAGES else ui_settings().lang


def t(key: str, **params: Any) -> str:
    return translate(key, current_lang(), **params)


def _remember_language() -> None:
    st.session_state[LANG_KEY] = st.session_state[LANG_CHOICE_KEY]


def language_switch() -> None:
    """The sidebar's language choice, kept in a plain session key so it holds on every page."""
    st.sidebar.radio(
        translate("language", current_lang()),
        options=list(LANGUAGES),
        index=list(LANGUAGES).index(current_lang()),
        format_func=lambda code: LANGUAGES[code],
        key=LANG_CHOICE_KEY,
        on_change=_remember_language,
        horizontal=True,
    )


def admin_token() -> str | None:
    """The signed-in person's bearer token (any role), or None."""
    return st.session_state.get(TOKEN_KEY)


def account() -> dict[str, str] | None:
    """The signed-in account; asked of the API once when the session holds only a token."""
    known = st.session_state.get(ACCOUNT_KEY)
    if known is None and admin_token():
        try:  # quietly: the page's own calls report an API that is down
            with client(admin=True) as api:
                me = api.me()
        except ApiError as exc:
            if exc.status == 401:
                logout(message=describe_error(exc))
            return None
        except ApiUnavailable:
            return None
        known = st.session_state[ACCOUNT_KEY] = {"username": me["username"], "role": me["role"]}
    return known


def is_admin() -> bool:
    """Whether to show admin actions; the API checks every request itself (api/policy.py)."""
    signed_in = account()
    return bool(signed_in) and signed_in.get("role") == "admin"


def sign_in(username: str, password: str) -> bool:
    """Exchange username and password for a token and keep it, with the account, in this session.
    Kept in Streamlit's server-side session state only: a reload of the page signs the person out."""
    try:
        with ApiClient() as api:
            token = api.login(username, password)
        with ApiClient(token=token) as api:
            me = api.me()
    except (ApiError, ApiUnavailable) as exc:
        flash(
            "error",
            describe_error(exc) if not isinstance(exc, ApiError) or exc.status != 401 else t("login_failed"),
        )
        return False
    st.session_state[TOKEN_KEY] = token
    st.session_state[ACCOUNT_KEY] = {"username": me["username"], "role": me["role"]}
    return True


def account_box() -> None:
    """The sidebar: who is signed in, their role, and the log-out button."""
    signed_in = account()
    if not signed_in or not admin_token():
        return
    st.sidebar.markdown(
        t("signed_in_as", user=escape_markdown(signed_in["username"]), role=t(f"role_{signed_in['role']}"))
    )
    st.sidebar.button(t("logout"), on_click=logout, icon=":material/logout:", key="sidebar_logout")


def client(*, admin: bool = False) -> ApiClient:
    return ApiClient(token=admin_token() if admin else None)


def describe_error(exc: ApiUnavailable | ApiError) -> str:
    if isinstance(exc, ApiUnavailable):
        return t("api_down", url=exc.base_url, reason=escape_markdown(exc.reason))
    detail = escape_markdown(exc.detail)  # may echo what a user typed
    if exc.status == 401:
        return t("login_rejected", detail=detail)
    if exc.status == 403:
        return t("not_allowed", detail=detail)
    if exc.status >= 500:
        return t("api_failed", status=exc.status, detail=detail)
    return t("api_refused", status=exc.status, detail=detail)


def banner_slot() -> None:
    """The page frame's place for the API banner, above the page (called by app.py on every run)."""
    _banner.set({"slot": st.container(), "shown": False})


def _in_fragment_rerun() -> bool:
    from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

    ctx = get_script_run_ctx()
    return bool(ctx is not None and ctx.fragment_ids_this_run)


def api_banner(exc: ApiUnavailable) -> None:
    """Say once per run, at the top of the page, that the API is restarting or unreachable; the banner
    checks /health every few seconds and reruns the page when the API answers again."""
    text = t("api_banner", url=exc.base_url, reason=escape_markdown(exc.reason))
    state = _banner.get()
    if state is None or _in_fragment_rerun():
        st.error(text, icon=":material/cloud_off:")  # a fragment's rerun: in place
        return
    if state["shown"]:
        return
    state["shown"] = True
    with state["slot"]:
        _banner_fragment(text)


@st.fragment(run_every=BANNER_RETRY_SECONDS)
def _banner_fragment(text: str) -> None:
    if _in_fragment_rerun():  # the timer's run: is the API back?
        try:
            with client() as api:
                api.health()
        except (ApiUnavailable, ApiError):
            pass
        else:
            st.rerun(scope="app")
    st.error(text, icon=":material/cloud_off:")


def show_error(exc: ApiUnavailable | ApiError, *, retry_key: str) -> None:
    if isinstance(exc, ApiUnavailable):
        api_banner(exc)
    else:
        st.error(describe_error(exc))
    # A click reruns the page (or the fragment it sits in), which repeats the failed call.
    st.button(t("retry"), key=f"retry_{retry_key}", icon=":material/refresh:")


def fetch(action: Callable[[ApiClient], T], *, key: str, admin: bool = False) -> T | None:
    """Run one API read for the page; on failure show the error and a retry button and return None.

    A call that the API refuses as signed out (token expired, revoked, account disabled) logs the
    session out.
    """
    try:
        with client(admin=admin) as api:
            return action(api)
    except ApiError as exc:
        if admin and exc.status == 401:
            logout(message=describe_error(exc))
            st.rerun()
        show_error(exc, retry_key=key)
    except ApiUnavailable as exc:
        show_error(exc, retry_key=key)
    return None


def fetch_cached(
    action: Callable[[ApiClient], T], *, key: str, seconds: float, admin: bool = False
) -> T | None:
    """:func:`fetch`, reusing this session's last answer for ``seconds`` (for lists that change slowly)."""
    cache_key = f"_cache_{key}"
    cached = st.session_state.get(cache_key)
    if cached is not None and time.monotonic() - cached[0] < seconds:
        return cached[1]
    value = fetch(action, key=key, admin=admin)
    if value is not None:
        st.session_state[cache_key] = (time.monotonic(), value)
    return value


def run_action(action: Callable[[ApiClient], T], *, admin: bool = False) -> T | None:
    """Run an API write from a widget callback; a failure is kept as a flash message for the page."""
    try:
        with client(admin=admin) as api:
            return action(api)
    except ApiError as exc:
        if admin and exc.status == 401:
            logout(message=describe_error(exc))
        else:
            flash("error", describe_error(exc))
    except ApiUnavailable as exc:
        flash(UNAVAILABLE, (exc.base_url, exc.reason))
    return None


def undo_my_last_change() -> dict[str, Any] | None:
    """``POST /labels/undo`` from a widget callback: the restored comment, or None (nothing to undo is said
    as information, any other failure as ``run_action`` says it)."""

    def undo(api: ApiClient) -> dict[str, Any] | None:
        try:
            return api.undo()
        except ApiError as exc:
            if exc.status != 404:
                raise
            flash("info", t("label_nothing_to_undo"))
            return None

    return run_action(undo, admin=True)


def flash(kind: str, message: Any) -> None:
    """A message shown once, on the next run of the page (the same message twice is shown once)."""
    pending = st.session_state.setdefault(FLASH_KEY, [])
    if (kind, message) not in pending:
        pending.append((kind, message))


def show_flashes() -> None:
    for kind, message in st.session_state.pop(FLASH_KEY, []):
        if kind == UNAVAILABLE:
            api_banner(ApiUnavailable(*message))
            continue
        {"error": st.error, "success": st.success, "info": st.info, "warning": st.warning}[kind](message)


def logout(*, message: str | None = None) -> None:
    st.session_state.pop(TOKEN_KEY, None)
    st.session_state.pop(ACCOUNT_KEY, None)
    if message:
        flash("error", message)
