"""Property-based run over the OpenAPI document: no 5xx, no status or body the document does not list.

Every operation, valid (positive) and invalid (negative) data, 30 examples each, on both backends.
(schemathesis' own pytest loader, ``from_fixture``, fails under pytest 9, so each operation's strategy
is run with Hypothesis directly.)
"""

from __future__ import annotations

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from threekcal.api import create_app
from threekcal.settings import Settings

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
MAX_EXAMPLES = 30


def _cases() -> list[tuple[str, GenerationMode]]:
    """Operations and modes, read from the document alone (no database is touched). Negative data needs
    something to break: operations without parameters or body get positive runs only."""
    document = create_app(Settings(env="test", admin_token="x" * 32, _env_file=None)).openapi()
    cases = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            label = f"{method.upper()} {path}"
            cases.append((label, GenerationMode.POSITIVE))
            if operation.get("parameters") or operation.get("requestBody"):
                cases.append((label, GenerationMode.NEGATIVE))
    return cases


@pytest.mark.parametrize(("label", "mode"), _cases(), ids=lambda v: getattr(v, "value", v))
def test_api_conforms_to_its_openapi_document(
    app: FastAPI, client: TestClient, admin: dict[str, str], label: str, mode: GenerationMode
) -> None:
    for i in range(3):  # rows for look-ups by number and receipt to find
        client.post("/comments", json={"request_user": f"user{i}", "comments": f"comment {i} 😀"})
    operation = schemathesis.openapi.from_asgi("/openapi.json", app).find_operation_by_label(label)
    assert operation is not None

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case) -> None:
        case.call_and_validate(headers={**admin, **(case.headers or {})}, checks=CHECKS)

    run()
