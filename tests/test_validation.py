"""The shared rules of threekcal.validation, and the CLI using them."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from threekcal import validation
from threekcal.cli import app


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("   ", validation.BLANK),
        ("x" * 65, validation.TOO_LONG),
        ("a\tb", validation.CONTROL),
        ("a\u0085b", validation.CONTROL),
        ("a\u2029b", validation.CONTROL),
        ("a\u202eb", validation.INVISIBLE),
        ("a\u200db", validation.INVISIBLE),
        ("a\u0378b", validation.UNASSIGNED),
        ("a\udc80b", validation.INVALID_UNICODE),
    ],
)
def test_names_refused_with_a_code_and_the_field_named(value: str, code: str) -> None:
    with pytest.raises(validation.InvalidInput) as refused:
        validation.clean_name(value, "request_user")
    assert refused.value.code == code
    assert str(refused.value).startswith("request_user ")


def test_names_are_trimmed_and_nfc_normalised() -> None:
    assert validation.clean_name("  Zoe\u0308 ") == "Zoë"
    assert validation.clean_name("김민지") == "김민지"
    assert validation.clean_name("x" * 64) == "x" * 64


def test_texts_keep_tabs_and_line_breaks_but_not_surrogates() -> None:
    assert validation.clean_comment(" a\tb\nc ") == "a\tb\nc"
    assert validation.clean_remark("  ") is None
    with pytest.raises(validation.InvalidInput, match="not valid Unicode"):
        validation.clean_comment("x \ud800")
    with pytest.raises(validation.InvalidInput, match="control characters other than tab"):
        validation.clean_remark("a\x00b")


@pytest.mark.parametrize(("raw", "key"), [("abc-123", "abc-123"), ('"quoted key"', "quoted key")])
def test_idempotency_keys(raw: str, key: str) -> None:
    assert validation.clean_idempotency_key(raw) == key


@pytest.mark.parametrize("raw", ["", '""', "x" * 256, "é", "a\x00"])
def test_bad_idempotency_keys(raw: str) -> None:
    with pytest.raises(validation.InvalidInput, match="Idempotency-Key"):
        validation.clean_idempotency_key(raw)


def test_the_cli_checks_names_with_the_same_rules() -> None:
    result = CliRunner().invoke(app, ["backfill", "--model", "unused", "--user", "evil\u202ename"])
    assert result.exit_code == 2
    assert "--user must not contain invisible formatting characters" in " ".join(result.output.split())
