"""The upload page's callbacks and session state: this browser session's submissions, the submit
callback (with the API's rules and one Idempotency-Key per submission) and the polling by receipt."""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass
from typing import Any

import streamlit as st

from threekcal.ui import view
from threekcal.ui.client import ApiError, ApiUnavailable
from threekcal.ui.logic import pending_receipts, validate_submission

SUBMISSIONS_KEY = "upload_submissions"  # this browser session's submissions, newest first
PROBLEMS_KEY = "upload_problems"
USER_KEY = "upload_user"
TEXT_KEY = "upload_text"
USER_COUNT_KEY = "upload_user_count"  # the containers of the counts
TEXT_COUNT_KEY = "upload_text_count"
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


# ------------------------------------------------------------------------------------ live counts
# Streamlit 1.67 sends a text area's value only when the box is left (or on Ctrl+Enter), so the count the
# server writes under a box (the caption, kept as the fallback without JavaScript) lags behind typing. A
# small script counts in the browser on every keystroke and shows its count in place of that caption. It
# only displays: Submit still runs the API's rules on the server, whose message and refusal decide.
COUNT_SLOTS = ("length", "limit", "over")


@dataclass(frozen=True)
class CountedBox:
    """A box with a live count: its label (the text area's aria-label), the container holding its server
    caption (a ``st.container`` key), its limit and how it is measured (``validation.name_length`` as
    "name", ``validation.text_length`` as "text")."""

    label: str
    container_key: str
    limit: int
    mode: str


class _Slot:
    """Formats as ``{name}`` whatever the format spec, so a translated count template (``{length:,}``)
    can be handed to the browser, which fills in the numbers with the same thousands separator."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __format__(self, spec: str) -> str:
        return "{" + self.name + "}"


def count_template(key: str) -> str:
    return view.t(key, **{slot: _Slot(slot) for slot in COUNT_SLOTS})


# Python's str.strip() (validation.text_length/name_length) trims exactly these characters (str.isspace);
# JavaScript's trim() differs (it trims U+FEFF, keeps U+001C-U+001F and U+0085), so the set is sent.
LIVE_COUNT_RED = "rgb(255, 43, 43)"  # Streamlit's :red[] text colour (light theme), as the server's caption
PYTHON_SPACES = "".join(chr(code) for code in range(0x110000) if chr(code).isspace())

_LIVE_COUNT_SCRIPT = """
<script>
(() => {
  // Counts as threekcal.validation does: "text" is text_length (trimmed of Python's str.isspace
  // characters, then code points: a line break is one character, as the box sends "\\n"; an emoji
  // outside the BMP is one, like Python's len, not two UTF-16 units); "name" is name_length (NFC first,
  // then the same). The numbers use "," between thousands, like Python's "{:,}".
  const host = window;
  host.__threekcalLiveCountConfig = __CONFIG__;
  const render = () => {
    const config = host.__threekcalLiveCountConfig;
    const spaces = new Set(Array.from(config.spaces));
    const trim = (chars) => {
      let start = 0;
      let end = chars.length;
      while (start < end && spaces.has(chars[start])) start += 1;
      while (end > start && spaces.has(chars[end - 1])) end -= 1;
      return end - start;
    };
    const number = (value) => value.toLocaleString("en-US");
    for (const box of config.boxes) {
      const area = host.document.querySelector(`textarea[aria-label="${CSS.escape(box.label)}"]`);
      const holder = host.document.querySelector(`.st-key-${box.container_key}`);
      if (!area || !holder) continue;
      const server = holder.querySelector('[data-testid="stCaptionContainer"]:not([data-live-count])');
      let live = holder.querySelector("[data-live-count]");
      if (!live) {
        if (!server) continue;
        live = server.cloneNode(true);  // the caption's look (font, colour), whatever the theme
        live.setAttribute("data-live-count", box.container_key);
        live.removeAttribute("data-testid");
        live.setAttribute("data-testid", "liveCount");
        live.setAttribute("aria-live", "polite");
        server.parentElement.after(live);
      }
      const raw = box.mode === "name" ? area.value.normalize("NFC") : area.value;
      const length = trim(Array.from(raw));
      const over = length > box.limit;
      const text = (over ? config.over : config.within)
        .replaceAll("{length}", number(length))
        .replaceAll("{limit}", number(box.limit))
        .replaceAll("{over}", number(length - box.limit));
      if (live.textContent !== text) live.textContent = text;
      const colour = over ? config.red : "";
      if (live.style.color !== colour) live.style.color = colour;
      live.toggleAttribute("data-over", over);
    }
  };
  if (host.__threekcalLiveCount) {
    render();
    return;
  }
  host.__threekcalLiveCount = true;
  // Once per browser page; Streamlit's reruns re-render the boxes, so nothing holds an element: every
  // keystroke (input events, delegated on the document) and every change of the page looks them up.
  const style = host.document.createElement("style");  // the live count stands in for the server's
  style.textContent = host.__threekcalLiveCountConfig.boxes.map((box) => `.st-key-${box.container_key}`
    + ':has([data-live-count]) [data-testid="stCaptionContainer"]:not([data-live-count]) { display: none; }'
  ).join(" ");
  host.document.head.appendChild(style);
  host.document.addEventListener("input", (event) => {
    if (event.target && event.target.tagName === "TEXTAREA") render();
  }, true);
  let queued = false;
  new MutationObserver(() => {
    if (queued) return;
    queued = true;
    host.requestAnimationFrame(() => {
      queued = false;
      render();
    });
  }).observe(host.document.body, { childList: true, subtree: true });
  render();
})();
</script>
"""


def live_count_script(boxes: list[CountedBox]) -> str:
    """The script for ``boxes``, with the limits, the counting modes and the texts in the page's language."""
    config = {
        "boxes": [asdict(box) for box in boxes],
        "within": count_template("upload_count"),
        "over": count_template("upload_count_over"),
        "spaces": PYTHON_SPACES,
        "red": LIVE_COUNT_RED,
    }
    return _LIVE_COUNT_SCRIPT.replace("__CONFIG__", json.dumps(config)).strip()
