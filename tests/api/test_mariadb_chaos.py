"""A real MariaDB server, of the test's own, killed (SIGKILL, then restarted on the same datadir) and
frozen (SIGSTOP/SIGCONT) while clients submit comments with Idempotency-Keys and retry on timeouts and
503s: every acknowledged comment is stored exactly once (0 lost, 0 duplicated), the API recovers by
itself, and while the server is frozen every request answers within THREEKCAL_DB_TIMEOUT (plus headroom)
with 503 and Retry-After."""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn
from mariadb_server import MariaDbServer
from sqlalchemy import create_engine, text

from threekcal.api import create_app
from threekcal.db import migrate
from threekcal.db.session import engine_for
from threekcal.settings import Settings

pytestmark = [pytest.mark.mariadb, pytest.mark.slow]

DB_TIMEOUT = 2.0
HEADROOM = 6.0  # a behaviour bound with room for a busy 2-core machine, not a benchmark
CLIENTS = 4
PER_CLIENT = 40
GIVE_UP_SECONDS = 90


@pytest.fixture(scope="module")
def chaos_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDbServer]:
    server = MariaDbServer(tmp_path_factory.mktemp("mariadb"))
    server.install()  # a few seconds: once per module
    server.start()
    yield server
    server.stop()


@pytest.fixture
def chaos_app_url(chaos_server: MariaDbServer, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A fresh database on the chaos server and a real uvicorn server for the API in front of it."""
    url = chaos_server.create_database(f"chaos_{secrets.token_hex(4)}")
    migrate.upgrade(url)
    settings = Settings(
        env="test",
        database_url=url,
        admin_token="chaos-admin-token-0123456789",
        db_timeout=DB_TIMEOUT,
        submit_rate_limit="100000/minute",
        submit_ip_rate_limit="100000/minute",
        log_dir=tmp_path / "logs",
        cache_dir=tmp_path / "cache",
        _env_file=None,
    )
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}", url
    server.should_exit = True
    thread.join(10)
    engine_for(url, DB_TIMEOUT).dispose()
    engine_for(url).dispose()


@dataclass
class Attempt:
    started: float
    seconds: float
    outcome: str  # the status code, or the client-side error


@dataclass
class Load:
    """Clients that submit comments, each with its own key, retrying until acknowledged."""

    base_url: str
    client_timeout: float
    tag: str = field(default_factory=lambda: secrets.token_hex(3))
    acknowledged: dict[str, int] = field(default_factory=dict)  # text -> num
    attempts: list[Attempt] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run_client(self, index: int, timeout: float) -> None:
        with httpx.Client(base_url=self.base_url, timeout=timeout) as client:
            for i in range(PER_CLIENT):
                body = {"request_user": f"client{index}", "comments": f"chaos {self.tag} {index}-{i}"}
                key = str(uuid.uuid4())
                give_up = time.monotonic() + GIVE_UP_SECONDS
                while True:
                    started = time.monotonic()
                    try:
                        answer = client.post("/comments", json=body, headers={"Idempotency-Key": key})
                        outcome = str(answer.status_code)
                    except httpx.HTTPError as error:
                        answer, outcome = None, type(error).__name__
                    with self.lock:
                        self.attempts.append(Attempt(started, time.monotonic() - started, outcome))
                    if answer is not None and answer.status_code == 201:
                        with self.lock:
                            self.acknowledged[body["comments"]] = answer.json()["num"]
                        break
                    if answer is not None and answer.status_code == 503:
                        assert answer.headers.get("Retry-After")
                    elif answer is not None:
                        self.failures.append(f"{answer.status_code}: {answer.text[:200]}")
                        return
                    if time.monotonic() > give_up:
                        self.failures.append(f"gave up on {body['comments']}")
                        return
                    time.sleep(0.2)

    def start(self) -> list[threading.Thread]:
        # half the clients give up waiting sooner than the server's bound, as impatient clients do
        timeouts = [self.client_timeout if i % 2 else 1.0 for i in range(CLIENTS)]
        threads = [threading.Thread(target=self.run_client, args=(i, t)) for i, t in enumerate(timeouts)]
        for thread in threads:
            thread.start()
        return threads

    def wait_for_acknowledged(self, count: int) -> None:
        deadline = time.monotonic() + 60
        while len(self.acknowledged) < count:
            assert time.monotonic() < deadline, "the load did not get going"
            time.sleep(0.05)

    def check_stored(self, url: str) -> None:
        engine = create_engine(url)
        with engine.connect() as connection:
            stored = connection.execute(
                text("SELECT comments, num FROM comments WHERE comments LIKE :prefix"),
                {"prefix": f"chaos {self.tag} %"},
            ).all()
        engine.dispose()
        counts = Counter(comment for comment, _ in stored)
        assert self.failures == []
        assert len(self.acknowledged) == CLIENTS * PER_CLIENT
        duplicated = {comment: n for comment, n in counts.items() if n > 1}
        lost = set(self.acknowledged) - set(counts)
        assert duplicated == {}, f"{len(duplicated)} stored more than once"
        assert lost == set(), f"{len(lost)} acknowledged but not stored"
        assert dict(stored) == self.acknowledged  # the same numbers as acknowledged
        assert len(stored) == len(self.acknowledged)  # nothing stored that was never acknowledged


def test_killed_mariadb_loses_and_duplicates_nothing(chaos_server: MariaDbServer, chaos_app_url) -> None:
    base_url, url = chaos_app_url
    load = Load(base_url, client_timeout=DB_TIMEOUT + HEADROOM)
    threads = load.start()
    for round_ in range(2):
        load.wait_for_acknowledged(30 + 50 * round_)
        chaos_server.kill()
        time.sleep(1.0)
        chaos_server.start()
    for thread in threads:
        thread.join(GIVE_UP_SECONDS * 2)
    load.check_stored(url)
    assert any(a.outcome != "201" for a in load.attempts), "the kills were not noticed"
    assert httpx.get(f"{base_url}/health", timeout=10).status_code == 200


def test_frozen_mariadb_answers_503_within_the_bound(chaos_server: MariaDbServer, chaos_app_url) -> None:
    base_url, url = chaos_app_url
    load = Load(base_url, client_timeout=DB_TIMEOUT + HEADROOM)
    threads = load.start()
    load.wait_for_acknowledged(30)
    frozen_at = time.monotonic()
    chaos_server.freeze()
    try:
        time.sleep(3 * DB_TIMEOUT + 2)
        with httpx.Client(base_url=base_url, timeout=DB_TIMEOUT + HEADROOM) as client:
            for path in ("/health", "/stats", "/comments/by-receipt/abc"):
                started = time.monotonic()
                answer = client.get(path)
                assert answer.status_code == 503, path
                assert answer.json() == {"detail": "Database unavailable: retry later"}
                assert answer.headers["Retry-After"]
                assert time.monotonic() - started < DB_TIMEOUT + HEADROOM
    finally:
        thawed_at = time.monotonic()
        chaos_server.thaw()
    for thread in threads:
        thread.join(GIVE_UP_SECONDS * 2)
    load.check_stored(url)
    during = [a for a in load.attempts if frozen_at + 0.5 < a.started < thawed_at - DB_TIMEOUT - HEADROOM]
    patient = [a for a in during if a.outcome != "ReadTimeout"]  # answers the 1-s clients waited for
    assert patient and {a.outcome for a in patient} == {"503"}
    assert max(a.seconds for a in patient) < DB_TIMEOUT + HEADROOM
    assert httpx.get(f"{base_url}/health", timeout=10).status_code == 200
