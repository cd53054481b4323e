"""Input limits and rules, in one place for the API's schemas, the web app's checks and the CLI.

Names (usernames, the admin name) are one line of visible text: NFC-normalised and trimmed, without
control (Cc), format (Cf: bidi overrides, zero-width characters), unassigned (Cn), surrogate (Cs) or
line/paragraph separator characters. Texts (comments, remarks) are trimmed and may span lines and hold
tabs; other control characters and lone surrogates are refused. Texts are kept as written otherwise.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from threekcal.emotions import LABELS

MAX_COMMENT_CHARS = 2000
MAX_USER_CHARS = 64
MAX_REMARK_CHARS = 500
MAX_IDEMPOTENCY_KEY_CHARS = 255

# Codes of the problems (the web app maps each to a message in its language).
BLANK = "blank"
TOO_LONG = "too_long"
CONTROL = "control_characters"
INVISIBLE = "invisible_characters"
UNASSIGNED = "unassigned_characters"
INVALID_UNICODE = "invalid_unicode"
NOT_TEXT = "not_text"
UNKNOWN_LABEL = "unknown_label"
INVALID_SCORE = "invalid_score"
INVALID_TIME = "invalid_time"
INCOMPLETE_PREDICTION = "incomplete_prediction"

_NAME_REFUSED_CATEGORIES = {"Cc": CONTROL, "Zl": CONTROL, "Zp": CONTROL, "Cf": INVISIBLE, "Cn": UNASSIGNED}
# Texts may span lines and hold tabs; other C0 control characters (NUL first) and DEL are refused.
_TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# Either of the two above: one search over the whole value clears both checks for the usual text (the
# trimmed text is part of the value); a hit takes the checks one by one, for the first problem's message.
_TEXT_SUSPECT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
# Idempotency keys: visible ASCII (RFC 8941 sf-string characters), optionally in double quotes.
_IDEMPOTENCY_KEY = re.compile(r'^"?([\x20\x21\x23-\x5b\x5d-\x7e]+)"?$')

# For the OpenAPI document (JSON Schema cannot say "no Cf/Cn"; the server checks those itself).
NAME_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*\S[^\x00-\x1f\x7f-\x9f]*$"

_MESSAGES = {
    BLANK: "{field} must not be empty or whitespace only",
    TOO_LONG: "{field} is too long: {length} characters, the limit is {limit}",
    CONTROL: "{field} must not contain control characters",
    INVISIBLE: "{field} must not contain invisible formatting characters (bidi controls, zero-width)",
    UNASSIGNED: "{field} must not contain unassigned Unicode characters",
    INVALID_UNICODE: "{field} is not valid Unicode text (lone surrogate or invalid UTF-8)",
    NOT_TEXT: "{field} must be text",
    UNKNOWN_LABEL: "{field} must be one of " + ", ".join(LABELS),
    INVALID_SCORE: "{field} must be a number from 0 to 1",
    INVALID_TIME: "{field} must be a date and time in ISO 8601, like 2026-11-24T12:00:00+00:00 "
    "(without an offset: UTC)",
    INCOMPLETE_PREDICTION: "prediction_result, prediction_score and prediction_time come together: "
    "{field} is missing",
}


@dataclass
class InvalidInput(ValueError):
    """A refused value: ``code`` (one of the constants above), a message naming ``field``, its params."""

    code: str
    field: str
    params: dict[str, Any] = field(default_factory=dict)
    message_template: str = ""

    def __post_init__(self) -> None:
        if not self.message_template:
            self.message_template = _MESSAGES[self.code]

    @property
    def context(self) -> dict[str, Any]:
        return {"field": self.field, **self.params}

    def __str__(self) -> str:
        return self.message_template.format(**self.context)


def _check_unicode(value: str, field: str) -> None:
    if _SURROGATE.search(value):
        raise InvalidInput(INVALID_UNICODE, field)


def clean_name(value: str, field: str = "request_user", limit: int = MAX_USER_CHARS) -> str:
    """The name as stored (NFC, trimmed), or InvalidInput saying what is wrong."""
    _check_unicode(value, field)
    name = unicodedata.normalize("NFC", value).strip()
    if not name:
        raise InvalidInput(BLANK, field)
    if len(name) > limit:
        raise InvalidInput(TOO_LONG, field, {"length": len(name), "limit": limit})
    for char in name:
        problem = _NAME_REFUSED_CATEGORIES.get(unicodedata.category(char))
        if problem is not None:
            raise InvalidInput(problem, field)
    return name


def name_length(value: str) -> int:
    """A name's length as :func:`clean_name` counts it (NFC, trimmed): what a live counter shows."""
    return len(unicodedata.normalize("NFC", value).strip())


def text_length(value: str) -> int:
    """A text's length as :func:`clean_text` counts it (trimmed)."""
    return len(value.strip())


LINE_BREAKS = frozenset("\n\r\x0b\x0c\u2028\u2029")
"""Characters that break a line; a name holding one is refused (as a control or separator character)."""


def clean_text(value: str, field: str, limit: int, *, allow_blank: bool = False) -> str | None:
    """The text as stored (trimmed; None for a blank one when allowed), or InvalidInput."""
    suspect = _TEXT_SUSPECT.search(value) is not None
    if suspect:
        _check_unicode(value, field)
    text = value.strip()
    if not text:
        if allow_blank:
            return None
        raise InvalidInput(BLANK, field)
    if len(text) > limit:
        raise InvalidInput(
            TOO_LONG,
            field,
            {"length": len(text), "limit": limit},
            "{field} is too long: {length} characters after trimming spaces, the limit is {limit}",
        )
    if suspect and _TEXT_CONTROL.search(text):
        raise InvalidInput(
            CONTROL,
            field,
            message_template="{field} must not contain control characters other than tab and line breaks",
        )
    return text


def clean_comment(value: str) -> str:
    text = clean_text(value, "comments", MAX_COMMENT_CHARS)
    assert text is not None
    return text


def clean_remark(value: str | None) -> str | None:
    return None if value is None else clean_text(value, "remark", MAX_REMARK_CHARS, allow_blank=True)


def clean_idempotency_key(value: str, field: str = "Idempotency-Key") -> str:
    """1-255 visible ASCII characters; the draft's quoted form ("...") is accepted and unquoted."""
    match = _IDEMPOTENCY_KEY.match(value.strip())
    if match is None or len(match.group(1)) > MAX_IDEMPOTENCY_KEY_CHARS:
        raise InvalidInput(
            CONTROL,
            field,
            message_template="{field} must be 1 to 255 visible ASCII characters (a UUID is a good choice)",
        )
    return match.group(1)


# ------------------------------------------------------------------------- whole comments (bulk import)
# A comment as the original system's table holds it; `threekcal import` checks every row with these rules.
COMMENT_RECORD_FIELDS = (
    "comments",
    "request_user",
    "request_time",
    "prediction_result",
    "prediction_score",
    "prediction_time",
    "label",
    "remark",
)
REQUIRED_RECORD_FIELDS = ("comments", "request_user", "request_time")
PREDICTION_FIELDS = ("prediction_result", "prediction_score", "prediction_time")
MIN_YEAR = 1000


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput(NOT_TEXT, field)
    return value


def clean_label(value: object, field: str = "label") -> str | None:
    """One of the seven labels (surrounding spaces ignored), or None for a blank value."""
    if _blank(value):
        return None
    label = _text(value, field).strip()
    if label not in LABELS:
        raise InvalidInput(UNKNOWN_LABEL, field)
    return label


def clean_probability(value: object, field: str = "prediction_score") -> float | None:
    """A finite number in [0, 1] (a number or its text), or None for a blank value."""
    if _blank(value):
        return None
    if isinstance(value, bool):
        raise InvalidInput(INVALID_SCORE, field)
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidInput(INVALID_SCORE, field) from None
    if not math.isfinite(number) or not 0.0 <= number <= 1.0:
        raise InvalidInput(INVALID_SCORE, field)
    return number


def clean_time(value: object, field: str = "request_time") -> datetime | None:
    """An aware UTC time from ISO 8601 text (or a datetime); naive times are UTC, as in the API."""
    if _blank(value):
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(_text(value, field).strip())
        except ValueError:
            raise InvalidInput(INVALID_TIME, field) from None
    try:
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:
        raise InvalidInput(INVALID_TIME, field) from None
    if moment.year < MIN_YEAR:  # MariaDB's DATETIME starts at the year 1000
        raise InvalidInput(INVALID_TIME, field)
    return moment


@dataclass(frozen=True, slots=True)
class CommentRecord:
    """One checked comment with its optional prediction and label, as it is stored."""

    comments: str
    request_user: str
    request_time: datetime
    prediction_result: str | None = None
    prediction_score: float | None = None
    prediction_time: datetime | None = None
    label: str | None = None
    remark: str | None = None


# A bulk import repeats the same few names, labels and score texts many times: check each text once
# (the same functions; only texts are looked up: 1 == 1.0 == True would share a cache entry).
_clean_user = lru_cache(maxsize=65_536)(clean_name)
_clean_label_text = lru_cache(maxsize=1024)(clean_label)
_clean_score_text = lru_cache(maxsize=65_536)(clean_probability)


def _clean_label_cached(value: object, field: str) -> str | None:
    return _clean_label_text(value, field) if type(value) is str else clean_label(value, field)


def _clean_score_cached(value: object) -> float | None:
    return _clean_score_text(value) if type(value) is str else clean_probability(value)


def clean_comment_record(values: Mapping[str, object]) -> CommentRecord:
    """The record of ``values`` (missing keys are blank) under the API's rules, or the first problem:
    the text, the name and the remark as POST /comments and the label endpoint check them; a known label;
    a prediction either complete (result, score in [0, 1], time) or absent."""
    get = values.get
    comments = clean_comment(_text(get("comments") or "", "comments"))
    request_user = _clean_user(_text(get("request_user") or "", "request_user"))
    request_time = clean_time(get("request_time"), "request_time")
    if request_time is None:
        raise InvalidInput(BLANK, "request_time")
    prediction_result = _clean_label_cached(get("prediction_result"), "prediction_result")
    prediction_score = _clean_score_cached(get("prediction_score"))
    prediction_time = clean_time(get("prediction_time"), "prediction_time")
    if prediction_result is not None or prediction_score is not None or prediction_time is not None:
        given = (prediction_result, prediction_score, prediction_time)
        for name, value in zip(PREDICTION_FIELDS, given, strict=True):
            if value is None:
                raise InvalidInput(INCOMPLETE_PREDICTION, name)
    remark = get("remark")
    return CommentRecord(
        comments=comments,
        request_user=request_user,
        request_time=request_time,
        prediction_result=prediction_result,
        prediction_score=prediction_score,
        prediction_time=prediction_time,
        label=_clean_label_cached(get("label"), "label"),
        remark=None if remark is None else clean_remark(_text(remark, "remark")),
    )


# ------------------------------------------------------------------------------------------- accounts
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 256  # Argon2 takes any length; this bounds the hashing cost of one request
MAX_TOKEN_LABEL_CHARS = 100
# Account names: ASCII letters, digits and . _ - only: no look-alike letters, no bidi or invisible
# characters, so a name shown in the audit is the name that signed in.
_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
InputError = InvalidInput  # what the account rules raise


def check_username(value: str) -> str:
    name = value.strip()
    if not name:
        raise InvalidInput(BLANK, "username")
    if len(name) > MAX_USER_CHARS:
        raise InvalidInput(TOO_LONG, "username", {"length": len(name), "limit": MAX_USER_CHARS})
    if not _USERNAME.fullmatch(name):
        raise InvalidInput(
            INVISIBLE,
            "username",
            message_template="{field} may hold only ASCII letters, digits, '.', '_' and '-', "
            "and starts with a letter or digit",
        )
    return name


def check_password(value: str) -> str:
    if len(value) < MIN_PASSWORD_CHARS:
        raise InvalidInput(
            TOO_LONG,
            "password",
            message_template=f"{{field}} is too short: at least {MIN_PASSWORD_CHARS} characters",
        )
    if len(value) > MAX_PASSWORD_CHARS:
        raise InvalidInput(TOO_LONG, "password", {"length": len(value), "limit": MAX_PASSWORD_CHARS})
    return value


def check_token_label(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    return clean_name(value, "token label", MAX_TOKEN_LABEL_CHARS)
