"""The web app's only way to the API: one small httpx client with timeouts and two typed errors.

Tests (and anything else that wants to stand in for the network) call :func:`set_transport_factory`
with a function returning an ``httpx`` transport, e.g. ``httpx.MockTransport``; every client built
afterwards sends its requests through it.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from typing import Any

import httpx

from threekcal.ui.config import ui_settings

TransportFactory = Callable[[], httpx.BaseTransport]

_transport_factory: TransportFactory | None = None


@cache
def _ssl_context() -> ssl.SSLContext:
    """httpx's default verification context, built once: building it loads the whole CA bundle, which
    took 80 ms per client on a loaded 2-core machine (every page's API call builds a client)."""
    return httpx.create_ssl_context()


def set_transport_factory(factory: TransportFactory | None) -> None:
    """Route every client built from now on through ``factory()``; ``None`` goes back to the network."""
    global _transport_factory
    _transport_factory = factory


class ApiUnavailable(Exception):
    """The API could not be reached, timed out, or said it cannot serve now (503)."""

    def __init__(self, base_url: str, reason: str) -> None:
        super().__init__(f"{base_url}: {reason}")
        self.base_url = base_url
        self.reason = reason


class ApiError(Exception):
    """The API answered with an error status; ``detail`` is its message, made readable; ``body`` the
    whole JSON answer (a 412 carries the comment's current label there)."""

    def __init__(self, status: int, detail: str, body: Any = None) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail
        self.body = body


def format_detail(detail: Any) -> str:
    """FastAPI's ``detail``: a string, or a list of validation errors ``{loc, msg}``."""
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, Mapping):
                location = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
                message = str(item.get("msg", item))
                parts.append(f"{location}: {message}" if location else message)
            else:
                parts.append(str(item))
        return "; ".join(parts)
    return str(detail)


def _clean_params(params: Mapping[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for name, value in params.items():
        if value is None or value == "":
            continue
        cleaned[name] = str(value).lower() if isinstance(value, bool) else value
    return cleaned


class ApiClient:
    def __init__(
        self,
        base_url: str | None = None,
        *,
        token: str | None = None,
        timeout: float | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        settings = ui_settings()
        self.base_url = (base_url or settings.api_url).rstrip("/")
        seconds = timeout if timeout is not None else settings.api_timeout
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if transport is None and _transport_factory is not None:
            transport = _transport_factory()
        self._http = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(seconds, connect=min(seconds, 3.0)),
            transport=transport,
            verify=_ssl_context(),
        )

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request; a network failure is ApiUnavailable, an error status ApiError (503: unavailable)."""
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise ApiUnavailable(self.base_url, f"no answer in time ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise ApiUnavailable(self.base_url, str(exc) or type(exc).__name__) from exc
        if not response.is_success:
            self._raise_for(response)
        return response

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._send(method, path, **kwargs)
        try:
            return response.json()
        except ValueError as exc:
            raise ApiError(response.status_code, "the API answered with something that is not JSON") from exc

    def _raise_for(self, response: httpx.Response) -> None:
        body: Any = None
        try:
            body = response.json()
            detail = format_detail(body.get("detail", response.text))
        except (ValueError, AttributeError):
            detail = response.text.strip() or response.reason_phrase
        if response.status_code == httpx.codes.SERVICE_UNAVAILABLE:
            raise ApiUnavailable(self.base_url, detail)
        raise ApiError(response.status_code, detail, body)

    # Public endpoints.
    def health(self) -> dict[str, Any]:
        return self._request("GET", "/health")

    def pipeline(self) -> dict[str, Any]:
        return self._request("GET", "/pipeline")

    def stats(
        self,
        request_user: str | None = None,
        label_sources: Iterable[str] | None = None,
        tz: str | None = None,
    ) -> dict[str, Any]:
        """``tz``: the IANA zone whose days the per-day figures use (the API's default, UTC, when None)."""
        params: list[tuple[str, str]] = list(_clean_params({"request_user": request_user, "tz": tz}).items())
        params += [("label_source", source) for source in label_sources or ()]
        return self._request("GET", "/stats", params=params)

    def login(self, username: str, password: str) -> str:
        """The bearer token for this username and password (OAuth2 password form)."""
        answer = self._request("POST", "/auth/login", data={"username": username, "password": password})
        return str(answer["access_token"])

    def me(self) -> dict[str, Any]:
        return self._request("GET", "/auth/me")

    def submit(self, request_user: str, comments: str, idempotency_key: str | None = None) -> dict[str, Any]:
        """POST /comments; send the same ``idempotency_key`` again on a retry and it is stored only once."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        body = {"request_user": request_user, "comments": comments}
        return self._request("POST", "/comments", json=body, headers=headers)

    def by_receipt(self, receipt: str) -> dict[str, Any]:
        return self._request("GET", f"/comments/by-receipt/{receipt}")

    # Admin endpoints (the client must carry the token).
    def list_comments(
        self,
        filters: Mapping[str, Any] | None = None,
        *,
        cursor: str | None = None,
        limit: int = 50,
        with_total: bool = False,
    ) -> dict[str, Any]:
        params = _clean_params({**(filters or {}), "cursor": cursor, "limit": limit})
        if with_total:
            params["with_total"] = "true"
        return self._request("GET", "/comments", params=params)

    def export_comments(self, filters: Mapping[str, Any] | None = None, *, fmt: str = "csv") -> bytes:
        """GET /comments/export: every comment matching ``filters`` (those of GET /comments, without
        paging) as CSV or JSON lines."""
        params = _clean_params({**(filters or {}), "format": fmt})
        return self._send("GET", "/comments/export", params=params).content

    def comment(self, num: int) -> dict[str, Any]:
        return self._request("GET", f"/comments/{int(num)}")

    def set_label(
        self, num: int, label: str | None, remark: str | None, *, etag: str | None = None
    ) -> dict[str, Any]:
        """Set the label; with ``etag`` (what the person saw) a change made meanwhile answers 412."""
        headers = {"If-Match": etag} if etag else {}
        return self._request(
            "PUT", f"/comments/{int(num)}/label", json={"label": label, "remark": remark}, headers=headers
        )

    def label_comment(
        self,
        num: int,
        label: str,
        *,
        etag: str | None,
        remark: str | None = None,
        source: str = "chosen",
        audit: bool = False,
    ) -> dict[str, Any]:
        """One keyboard decision (the annotate page): ``source`` "accepted" for the shown prediction,
        ``audit`` when the audit queue served the comment; no ``remark`` keeps the current one."""
        body: dict[str, Any] = {"label": label, "source": source, "audit": audit}
        if remark is not None:
            body["remark"] = remark
        headers = {"If-Match": etag} if etag else {}
        return self._request("PUT", f"/comments/{int(num)}/label", json=body, headers=headers)

    def accept(self, nums: Iterable[int]) -> dict[str, Any]:
        return self._request("POST", "/labels/accept", json={"nums": [int(num) for num in nums]})

    def undo(self, num: int | None = None) -> dict[str, Any]:
        return self._request("POST", "/labels/undo", json={"num": num})

    def disagreements(self) -> list[dict[str, Any]]:
        return self._request("GET", "/disagreements")

    def resolve(self, num: int, label: str, remark: str | None = None) -> dict[str, Any]:
        body = {"label": label, "remark": remark}
        return self._request("POST", f"/disagreements/{int(num)}/resolve", json=body)

    def agreement(self) -> dict[str, Any]:
        return self._request("GET", "/stats/agreement")

    def history(self, num: int) -> list[dict[str, Any]]:
        return self._request("GET", f"/comments/{int(num)}/history")

    def users(self, q: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        return self._request("GET", "/users", params=_clean_params({"q": q, "limit": limit}))

    # The model registry (issue 11): versions and jobs need a sign-in, actions an admin; drift is public.
    def models(self) -> dict[str, Any]:
        return self._request("GET", "/models")

    def model_job(self, job_id: int) -> dict[str, Any]:
        return self._request("GET", f"/models/jobs/{int(job_id)}")

    def drift(self) -> dict[str, Any]:
        return self._request("GET", "/drift")

    def promote(self, version_id: int) -> dict[str, Any]:
        return self._request("POST", f"/models/{int(version_id)}/promote")

    def rollback(self) -> dict[str, Any]:
        return self._request("POST", "/models/rollback")

    def train(self, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return self._request("POST", "/models/train", json=dict(params or {}))

    def rescore(self) -> dict[str, Any]:
        return self._request("POST", "/models/rescore")
