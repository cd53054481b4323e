"""Rules for account input (usernames, passwords, token labels), shared by the API, the web app and the
CLI so that each says the same thing about the same input."""

from __future__ import annotations

import re

MAX_USERNAME_CHARS = 64
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 256  # Argon2 takes any length; this keeps a request's hashing cost bounded
MAX_TOKEN_LABEL_CHARS = 100

# ASCII letters, digits and . _ - only: no look-alike letters, no bidi or invisible characters, so a
# name shown in the audit is the name that signed in.
_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class InputError(ValueError):
    """Input that is refused; the message says what is wrong."""


def check_username(value: str) -> str:
    name = value.strip()
    if not name:
        raise InputError("username must not be empty")
    if len(name) > MAX_USERNAME_CHARS:
        raise InputError(f"username is too long: {len(name)} characters, the limit is {MAX_USERNAME_CHARS}")
    if not _USERNAME.fullmatch(name):
        raise InputError(
            "username may hold only ASCII letters, digits, '.', '_' and '-', "
            "and starts with a letter or digit"
        )
    return name


def check_password(value: str) -> str:
    if len(value) < MIN_PASSWORD_CHARS:
        raise InputError(f"password is too short: at least {MIN_PASSWORD_CHARS} characters")
    if len(value) > MAX_PASSWORD_CHARS:
        raise InputError(f"password is too long: at most {MAX_PASSWORD_CHARS} characters")
    return value


def check_token_label(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    label = value.strip()
    if len(label) > MAX_TOKEN_LABEL_CHARS:
        raise InputError(f"token label is too long: at most {MAX_TOKEN_LABEL_CHARS} characters")
    if any(ord(char) < 32 or 127 <= ord(char) < 160 for char in label):
        raise InputError("token label must not contain control characters")
    return label
