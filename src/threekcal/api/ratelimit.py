"""Throttling on the `limits` library: moving windows kept in memory (one process) or in Redis (shared
between API processes), chosen by THREEKCAL_RATE_LIMIT_STORAGE.

Routes call ``hit(request, "30/minute", "submit-user", name)``; over the limit it raises a 429 with
``Retry-After`` and the ``RateLimit-Limit``/``RateLimit-Remaining``/``RateLimit-Reset`` headers. The
limiter lives on ``request.app.state.rate_limiter`` (made on first use when the app did not set one).
"""

from __future__ import annotations

import ipaddress
import logging
import math
import threading
import time
from functools import lru_cache

from fastapi import HTTPException, Request
from limits import RateLimitItem, parse_many
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from threekcal.settings import Settings

log = logging.getLogger(__name__)

TOO_MANY_REQUESTS = "Too many requests: slow down and retry later"
# A slow or absent Redis must not hold requests up: its calls give up quickly and the request goes on.
STORAGE_TIMEOUT_SECONDS = 1.0
UNKNOWN_CLIENT = "unknown"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=64)
def _parsed(limit: str) -> tuple[RateLimitItem, ...]:
    return tuple(parse_many(limit))


class RateLimiter:
    """One storage and strategy per app, plus the proxies whose X-Forwarded-For is believed."""

    def __init__(self, settings: Settings) -> None:
        self.storage_url = settings.rate_limit_storage
        self.prefix = settings.rate_limit_prefix
        self.trusted_proxies: list[Network] = settings.trusted_proxy_networks()
        options: dict[str, float | str | bool] = {}
        if not self.storage_url.startswith("memory://"):
            options = {
                "key_prefix": self.prefix,
                "socket_timeout": STORAGE_TIMEOUT_SECONDS,
                "socket_connect_timeout": STORAGE_TIMEOUT_SECONDS,
            }
        self.storage: Storage = storage_from_string(self.storage_url, **options)
        self.strategy = MovingWindowRateLimiter(self.storage)
        self._warned_at = 0.0
        self._lock = threading.Lock()

    def hit(self, limit: str, *keys: str) -> tuple[RateLimitItem, float] | None:
        """Counts one hit against every window of ``limit`` for ``keys``; the full window and the seconds
        to wait when one is full, else None. A storage that fails lets the request through (logged)."""
        identifiers = (self.prefix, *keys)
        try:
            for item in _parsed(limit):
                if not self.strategy.hit(item, *identifiers):
                    stats = self.strategy.get_window_stats(item, *identifiers)
                    return item, max(stats.reset_time - time.time(), 1.0)
        except Exception as error:  # a rate limiter that is down must not take the API down with it
            self._warn(error)
        return None

    def exhausted(self, limit: str, *keys: str) -> tuple[RateLimitItem, float] | None:
        """The full window of ``limit`` for ``keys`` and the seconds to wait, if one is; counts nothing."""
        identifiers = (self.prefix, *keys)
        try:
            for item in _parsed(limit):
                if not self.strategy.test(item, *identifiers):
                    stats = self.strategy.get_window_stats(item, *identifiers)
                    return item, max(stats.reset_time - time.time(), 1.0)
        except Exception as error:
            self._warn(error)
        return None

    @staticmethod
    def headers(item: RateLimitItem, retry_after: float) -> dict[str, str]:
        wait = str(max(math.ceil(retry_after), 1))
        return {
            "Retry-After": wait,
            "RateLimit-Limit": str(item.amount),
            "RateLimit-Remaining": "0",
            "RateLimit-Reset": wait,
        }

    def reset(self) -> None:
        """Forgets every count (the memory storage; Redis keys expire by themselves)."""
        self.storage.reset()

    def client_address(self, request: Request) -> str:
        """The peer address; behind a trusted proxy, the nearest untrusted address in X-Forwarded-For."""
        peer = request.client.host if request.client else UNKNOWN_CLIENT
        if not self.trusted_proxies or not self._trusted(peer):
            return peer
        forwarded = ",".join(request.headers.getlist("x-forwarded-for"))
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        for hop in reversed(hops):  # the right end was added by our own proxies; a client can forge the left
            if not self._trusted(hop):
                return hop if _is_address(hop) else peer
        return hops[0] if hops and _is_address(hops[0]) else peer

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted_proxies)

    def _warn(self, error: Exception) -> None:
        with self._lock:  # one line a minute at most while the storage is down
            now = time.monotonic()
            if now - self._warned_at < 60:
                return
            self._warned_at = now
        log.warning("rate limit storage unavailable, not throttling: %s", type(error).__name__)


def _is_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def limiter(request: Request) -> RateLimiter:
    state = request.app.state
    existing: RateLimiter | None = getattr(state, "rate_limiter", None)
    if existing is None:
        existing = state.rate_limiter = RateLimiter(state.settings)
    return existing


def client_address(request: Request) -> str:
    return limiter(request).client_address(request)


def too_many_requests(item: RateLimitItem, retry_after: float) -> HTTPException:
    return HTTPException(
        status_code=429, detail=TOO_MANY_REQUESTS, headers=RateLimiter.headers(item, retry_after)
    )


def hit(request: Request, limit: str, *keys: str) -> None:
    """Counts this request against ``limit`` (e.g. "30/minute") for ``keys``; 429 when over it."""
    full = limiter(request).hit(limit, *keys)
    if full is not None:
        raise too_many_requests(*full)


def refuse_if_exhausted(request: Request, limit: str, *keys: str) -> None:
    """429 when ``limit`` is already used up for ``keys`` (e.g. failed logins), without counting this one."""
    full = limiter(request).exhausted(limit, *keys)
    if full is not None:
        raise too_many_requests(*full)
