"""What the pages compute, kept free of Streamlit so it can be tested on its own: input checks with the
API's limits, display formatting, table frames, filters and the keyset pager of the Label page."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

from threekcal import validation
from threekcal.emotions import EMOJI, LABELS
from threekcal.ui.i18n import translate

__all__ = [
    "LABELS",
    "MAX_COMMENT_CHARS",
    "MAX_REMARK_CHARS",
    "MAX_USER_CHARS",
    "SORTS",
    "CursorPager",
    "LabelFilters",
    "Problem",
    "comments_frame",
    "emotion_text",
    "format_percent",
    "format_time",
    "history_frame",
    "set_display_timezone",
    "validate_remark",
    "validate_submission",
]

MAX_COMMENT_CHARS = validation.MAX_COMMENT_CHARS
MAX_REMARK_CHARS = validation.MAX_REMARK_CHARS
MAX_USER_CHARS = validation.MAX_USER_CHARS
SORTS = ("least_confident", "newest", "oldest")

Problem = tuple[str, dict[str, Any]]
"""An i18n key and its parameters."""


# The same rules as the API (threekcal.validation): each refusal maps to a message of the web app.
_USER_MESSAGES = {
    validation.BLANK: "err_user_missing",
    validation.TOO_LONG: "err_user_too_long",
    validation.CONTROL: "err_user_control",
}
_COMMENT_MESSAGES = {
    validation.BLANK: "err_comment_missing",
    validation.TOO_LONG: "err_comment_too_long",
}
_REMARK_MESSAGES = {validation.TOO_LONG: "err_remark_too_long"}


def _problem(error: validation.InvalidInput, messages: dict[str, str], fallback: str) -> Problem:
    return messages.get(error.code, fallback), dict(error.params)


def validate_submission(request_user: str, comments: str) -> list[Problem]:
    """The API's rules for POST /comments, checked before sending so the form can say what to fix."""
    problems: list[Problem] = []
    try:
        validation.clean_name(request_user)
    except validation.InvalidInput as error:
        if error.code == validation.CONTROL and validation.LINE_BREAKS & set(request_user.strip()):
            problems.append(("err_user_newline", {}))  # the same refusal, said more precisely
        else:
            problems.append(_problem(error, _USER_MESSAGES, "err_user_invisible"))
    try:
        validation.clean_comment(comments)
    except validation.InvalidInput as error:
        problems.append(_problem(error, _COMMENT_MESSAGES, "err_comment_control"))
    return problems


def input_count(length: int, limit: int) -> Problem:
    """The counter under an input box: ``length / limit characters``, saying by how much it is over."""
    if length > limit:
        return "upload_count_over", {"length": length, "limit": limit, "over": length - limit}
    return "upload_count", {"length": length, "limit": limit}


def validate_remark(remark: str) -> list[Problem]:
    try:
        validation.clean_remark(remark)
    except validation.InvalidInput as error:
        return [_problem(error, _REMARK_MESSAGES, "err_remark_control")]
    return []


_MARKDOWN_SPECIAL = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation character


def escape_markdown(text: str) -> str:
    """User text shown inside Markdown stays text: no links, images, formatting, LaTeX or HTML."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def quote_markdown(text: str) -> str:
    """User text as a Markdown block quote, line breaks kept."""
    return "  \n".join(f"> {escape_markdown(line)}" for line in text.splitlines() or [""])


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


# Times are stored and sent in UTC and shown in the viewer's time zone. Each Streamlit script run has its
# own thread, and a thread starts with a fresh context, so one viewer's zone never leaks to another.
_display_zone: ContextVar[tzinfo] = ContextVar("display_zone", default=UTC)


def set_display_timezone(name: str | None) -> None:
    """Show times in ``name`` (an IANA zone such as the browser's 'Asia/Seoul'); UTC when unknown."""
    try:
        zone: tzinfo = ZoneInfo(name) if name else UTC
    except (ZoneInfoNotFoundError, ValueError):
        zone = UTC
    _display_zone.set(zone)


def display_timezone_name() -> str | None:
    """The IANA name of the zone times are shown in; None when the browser has not said it (UTC then)."""
    zone = _display_zone.get()
    return zone.key if isinstance(zone, ZoneInfo) else None


def format_time(value: str | None) -> str:
    moment = parse_time(value)
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(display_zone()).strftime("%Y-%m-%d %H:%M:%S %Z")


_zone_source: Callable[[], str | None] | None = None


def use_timezone_source(source: Callable[[], str | None] | None) -> None:
    """Read the viewer's zone from ``source`` at every :func:`format_time` (the web app passes the
    browser's zone of the current session), so a fragment's rerun, which does not run the entry script,
    shows times in the same zone as the full run; None goes back to :func:`set_display_timezone`."""
    global _zone_source
    _zone_source = source


@lru_cache(maxsize=64)
def _zone(name: str) -> tzinfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def display_zone() -> tzinfo:
    if _zone_source is not None:
        try:
            name = _zone_source()
        except Exception:  # no session (a plain call outside the web app): the explicit zone
            name = None
        zone = _zone(name) if name else None
        if zone is not None:
            return zone
    return _display_zone.get()


def format_percent(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}%}"


def emotion_text(label: str | None, lang: str) -> str:
    """``😀 joy`` / ``😀 기쁨``; empty for no label."""
    if not label:
        return ""
    return f"{EMOJI.get(label, '')} {translate(f'emotion_{label}', lang)}".strip()


def probability_column(label: str) -> str:
    return f"p_{label}"


def comments_frame(items: Sequence[Mapping[str, Any]], lang: str) -> pd.DataFrame:
    """One row per comment, in the API's order, with every class probability as its own column."""
    rows = []
    for item in items:
        scores = item.get("prediction_scores") or {}
        row = {
            "num": item["num"],
            "request_user": item.get("request_user", ""),
            "comments": item.get("comments", ""),
            "prediction": emotion_text(item.get("prediction_result"), lang),
            "score": item.get("prediction_score"),
            "label": emotion_text(item.get("label"), lang),
            "remark": item.get("remark") or "",
            "request_time": format_time(item.get("request_time")),
        }
        for label in LABELS:
            row[probability_column(label)] = scores.get(label)
        rows.append(row)
    columns = [
        "num", "request_user", "comments", "prediction", "score", "label", "remark", "request_time",
        *(probability_column(label) for label in LABELS),
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=columns)
    numeric = ["score", *(probability_column(label) for label in LABELS)]
    frame[numeric] = frame[numeric].astype("float64")
    return frame


def history_frame(events: Sequence[Mapping[str, Any]], lang: str) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "changed_at": format_time(event.get("changed_at")),
                "action": translate(f"action_{event.get('action')}", lang, default=str(event.get("action"))),
                "changed_by": event.get("changed_by", ""),
                "old_label": emotion_text(event.get("old_label"), lang),
                "new_label": emotion_text(event.get("new_label"), lang),
                "old_remark": event.get("old_remark") or "",
                "new_remark": event.get("new_remark") or "",
            }
            for event in events
        ],
        columns=["changed_at", "action", "changed_by", "old_label", "new_label", "old_remark", "new_remark"],
    )


@dataclass(frozen=True)
class LabelFilters:
    """The Label page's filters, named as GET /comments names its query parameters."""

    request_user: str | None = None
    labeled: bool | None = None
    prediction_result: str | None = None
    label: str | None = None
    min_score: float | None = None
    max_score: float | None = None
    q: str | None = None
    sort: str = "least_confident"

    def params(self) -> dict[str, Any]:
        return {name: value for name, value in asdict(self).items() if value is not None and value != ""}

    @classmethod
    def from_widgets(
        cls,
        *,
        request_user: str | None,
        status: str,
        prediction_result: str | None,
        label: str | None,
        score_range: tuple[float, float],
        q: str,
        sort: str,
    ) -> LabelFilters:
        low, high = score_range
        return cls(
            request_user=request_user or None,
            labeled={"labeled": True, "unlabeled": False}.get(status),
            prediction_result=prediction_result or None,
            label=label or None,
            # The full range means "no score filter", so comments without a prediction stay listed.
            min_score=low if low > 0 else None,
            max_score=high if high < 1 else None,
            q=q.strip() or None,
            sort=sort if sort in SORTS else "least_confident",
        )


@dataclass
class CursorPager:
    """Pages of a keyset-paged list: the cursor of every page seen so far, for going back."""

    signature: Any = None
    cursors: list[str | None] = field(default_factory=lambda: [None])
    index: int = 0
    next_cursor: str | None = None

    def reset_if_changed(self, signature: Any) -> None:
        if signature != self.signature:
            self.signature = signature
            self.cursors = [None]
            self.index = 0
            self.next_cursor = None

    @property
    def cursor(self) -> str | None:
        return self.cursors[self.index]

    @property
    def has_previous(self) -> bool:
        return self.index > 0

    @property
    def has_next(self) -> bool:
        return self.next_cursor is not None

    def forward(self) -> None:
        if self.next_cursor is None:
            return
        del self.cursors[self.index + 1 :]
        self.cursors.append(self.next_cursor)
        self.index += 1
        self.next_cursor = None

    def back(self) -> None:
        if self.index > 0:
            self.index -= 1
            self.next_cursor = None


def selected_nums(table_rows: Iterable[int], nums: Sequence[int]) -> list[int]:
    """Row positions picked in the table -> comment numbers (positions beyond the page are ignored)."""
    return [nums[row] for row in table_rows if 0 <= row < len(nums)]


HUMAN_SOURCES = frozenset({"chosen", "accepted", "resolved"})
"""Label sources a person decided on: bulk accept never replaces them (threekcal.db.labels.accept)."""


@dataclass(frozen=True)
class AcceptPlan:
    """What "Accept prediction" will do to the picked comments, by number, as the API decides it."""

    change: list[int]
    skipped: list[tuple[int, Problem]]


def accept_plan(nums: Sequence[int], known: Mapping[int, Mapping[str, Any]], lang: str) -> AcceptPlan:
    """The API's rule (POST /labels/accept) applied to what the page last saw of each picked comment:
    a comment gets its prediction as label unless it has none, already has it, or a person labelled it."""
    change: list[int] = []
    skipped: list[tuple[int, Problem]] = []
    for num in dict.fromkeys(nums):
        item = known.get(num)
        if item is None:
            skipped.append((num, ("skip_unknown", {})))
        elif item.get("prediction_result") not in LABELS:
            skipped.append((num, ("skip_no_prediction", {})))
        elif item.get("label") == item.get("prediction_result"):
            skipped.append((num, ("skip_same_label", {})))
        elif item.get("label") and item.get("label_source") in HUMAN_SOURCES:
            reason = {"user": item.get("labeled_by") or "?", "label": emotion_text(item.get("label"), lang)}
            skipped.append((num, ("skip_person", reason)))
        else:
            change.append(num)
    return AcceptPlan(change=change, skipped=skipped)


def number_list(nums: Iterable[int]) -> str:
    return ", ".join(f"#{num}" for num in nums)


RUN_FIELDS = (
    "run_id", "kind", "created_at", "records", "predict_seconds", "model_version",
    "applied_at", "applied_rows", "unknown_nums", "quarantined", "apply_seconds", "engine",
)  # fmt: skip


def run_rows(run: Mapping[str, Any], lang: str) -> list[tuple[str, str]]:
    """A pipeline run from GET /pipeline as (field name, value) rows: known fields first, in order."""
    rows = []
    for name in (*RUN_FIELDS, *sorted(set(run) - set(RUN_FIELDS))):
        value = run.get(name)
        if value is None or isinstance(value, dict | list):
            continue
        if name.endswith("_at"):
            value = format_time(value) or value
        elif isinstance(value, float):
            value = f"{value:.2f}"
        rows.append((translate(f"run_{name}", lang, default=name), str(value)))
    return rows


MAX_POLLED = 20
"""Receipts polled per round: the newest ones; older ones keep whatever was last seen."""


def pending_receipts(items: Sequence[Mapping[str, Any]]) -> list[int]:
    """Positions of the newest submissions that still wait for a prediction (and still exist)."""
    return [
        index
        for index, item in enumerate(items[:MAX_POLLED])
        if item.get("prediction_result") is None and not item.get("missing") and item.get("receipt")
    ]
