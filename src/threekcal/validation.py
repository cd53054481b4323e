"""Input limits and rules, in one place for the API's schemas, the web app's checks and the CLI.

Names (usernames, the admin name) are one line of visible text: NFC-normalised and trimmed, without
control (Cc), format (Cf: bidi overrides, zero-width characters), unassigned (Cn), surrogate (Cs) or
line/paragraph separator characters. Texts (comments, remarks) are trimmed and may span lines and hold
tabs; other control characters and lone surrogates are refused. Texts are kept as written otherwise.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

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

_NAME_REFUSED_CATEGORIES = {"Cc": CONTROL, "Zl": CONTROL, "Zp": CONTROL, "Cf": INVISIBLE, "Cn": UNASSIGNED}
# Texts may span lines and hold tabs; other C0 control characters (NUL first) and DEL are refused.
_TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
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
    if _TEXT_CONTROL.search(text):
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
