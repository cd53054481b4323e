"""The upload page sends an Idempotency-Key per submission and reuses it when the user retries after a
lost answer, so the real API (in-process, on each backend) stores the comment once."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from threekcal.api import create_app
from threekcal.db.models import Comment
from threekcal.db.session import session_scope
from threekcal.settings import Settings
from threekcal.ui import client as ui_client


def test_a_retry_after_a_lost_answer_stores_the_comment_once(
    settings: Settings, open_page: Callable[..., AppTest]
) -> None:
    def stored() -> int:
        with session_scope(settings.database_url) as session:
            return session.scalar(select(func.count()).select_from(Comment)) or 0

    sent: list[httpx.Request] = []
    lose_next_answer = [True]
    with TestClient(create_app(settings)) as api:

        def forward(request: httpx.Request) -> httpx.Response:
            answer = api.request(
                request.method, request.url.path, params=request.url.query, content=request.content,
                headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
            )  # fmt: skip
            if request.method == "POST":
                sent.append(request)
                if lose_next_answer[0]:  # stored, but the answer never arrives
                    lose_next_answer[0] = False
                    raise httpx.ReadTimeout("timed out", request=request)
            return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)

        ui_client.set_transport_factory(lambda: httpx.MockTransport(forward))
        app = open_page("upload")
        app.text_area(key="upload_user").input("minji")
        app.text_area(key="upload_text").input("I love rainy days")
        app.button[0].click().run()
        assert stored() == 1 and app.text_area(key="upload_text").value == "I love rainy days"
        app.button[0].click().run()  # the user tries again
        assert "Comment #" in " ".join(m.value for m in app.markdown)
        app.text_area(key="upload_text").input("and sunny ones")
        app.button[0].click().run()
    keys = [request.headers.get("Idempotency-Key") for request in sent]
    assert len(keys) == 3 and all(keys)
    assert keys[0] == keys[1] != keys[2]
    assert stored() == 2
