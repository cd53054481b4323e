"""What issue 9 measured, measured again: a flood of submissions against the rate limits, /stats under
a write flood (against the old behaviour, recompute on every write, in the same run), unknown
``request_user`` values, and how long requests take while a MariaDB server is frozen for 20 s.

    .venv/bin/python bench/api_hardening.py [--posts 2000] [--freeze 20] [--rows 20000]

The MariaDB part starts a server of its own (mariadb-install-db + mariadbd on an OS-chosen port).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import insert

from threekcal.api import create_app
from threekcal.db import migrate
from threekcal.db.models import Comment
from threekcal.db.session import engine_for
from threekcal.db.types import utcnow
from threekcal.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "api"))


def cpu_line() -> str:
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"model name\s*:\s*(.*)", text)
    flags = set(re.findall(r"\b(avx2|avx512f|avx512_vnni|avx_vnni|amx_int8)\b", text))
    name = model.group(1) if model else platform.processor()
    return f"CPU: {name}, {os.cpu_count()} cores, {' '.join(sorted(flags))}"


def settings_for(url: str, work: Path, **overrides: object) -> Settings:
    return Settings(
        env="test", database_url=url, admin_token="bench-admin-token-0123456789",
        log_dir=work / "logs", cache_dir=work / "cache", _env_file=None, **overrides,
    )  # fmt: skip


def flood(work: Path, posts: int) -> None:
    url = f"sqlite:///{work / 'flood.db'}"
    migrate.upgrade(url)
    with TestClient(create_app(settings_for(url, work))) as client:
        one_user = Counter(
            client.post("/comments", json={"request_user": "flooder", "comments": f"x {i}"}).status_code
            for i in range(posts)
        )
    with TestClient(create_app(settings_for(url, work))) as client:
        many_users = Counter(
            client.post(
                "/comments", json={"request_user": f"user{i % 200}", "comments": f"y {i}"}
            ).status_code
            for i in range(posts)
        )
        wrong = {"Authorization": "Bearer " + "w" * 32}
        wrong_tokens = Counter(client.get("/comments", headers=wrong).status_code for _ in range(500))
    print(f"{posts} POSTs, one username, one address:   {dict(one_user)}")
    print(f"{posts} POSTs, 200 usernames, one address:  {dict(many_users)}")
    print(f"500 wrong admin tokens, one address:        {dict(wrong_tokens)}")


def stats_under_flood(work: Path, rows: int, seconds: float = 5.0) -> None:
    url = f"sqlite:///{work / 'stats.db'}"
    migrate.upgrade(url)
    now = utcnow()
    with engine_for(url).begin() as connection:
        connection.execute(insert(Comment), [
            {"comments": f"c{i}", "request_user": f"u{i % 50}", "request_time": now,
             "receipt": secrets.token_hex(12), "prediction_result": "joy", "prediction_score": 0.5,
             "prediction_scores": {"joy": 0.5},
             "label": "joy" if i % 3 == 0 else None}
            for i in range(rows)
        ])  # fmt: skip
    lifted = {"submit_rate_limit": "100000000/minute", "submit_ip_rate_limit": "100000000/minute"}
    results = {}
    for name, staleness in (("recompute on every write (old)", 0.0), ("at most once per 2 s (new)", 2.0)):
        app = create_app(settings_for(url, work, stats_max_staleness=staleness, **lifted))
        with TestClient(app) as client:
            client.get("/stats")
            idle = [_timed(client.get, "/stats") for _ in range(20)]
            stop = threading.Event()

            def writer(client: TestClient = client, stop: threading.Event = stop) -> None:
                while not stop.is_set():
                    client.post("/comments", json={"request_user": "w", "comments": "flood"})

            thread = threading.Thread(target=writer)
            thread.start()
            flooded: list[float] = []
            until = time.monotonic() + seconds
            while time.monotonic() < until:
                flooded.append(_timed(client.get, "/stats"))
            stop.set()
            thread.join()
            random_users = [
                _timed(client.get, f"/stats?request_user={secrets.token_hex(6)}") for _ in range(50)
            ]
            after = [_timed(client.get, "/stats") for _ in range(20)]
        results[name] = (
            statistics.median(idle),
            statistics.median(flooded),
            statistics.median(random_users),
            statistics.median(after),
        )
    print(
        f"/stats on {rows} comments, median ms: idle | during a write flood | "
        "random request_user | all users after"
    )
    for name, (idle_ms, flood_ms, random_ms, after_ms) in results.items():
        print(
            f"  {name:32s} {idle_ms:7.1f} | {flood_ms:7.1f} ({flood_ms / idle_ms:4.1f}x idle) | "
            f"{random_ms:7.1f} | {after_ms:7.1f}"
        )


def _timed(call, *args) -> float:
    started = time.perf_counter()
    call(*args)
    return (time.perf_counter() - started) * 1000


def freeze(work: Path, seconds: float, db_timeout: float = 5.0) -> None:
    from mariadb_server import MariaDbServer

    server = MariaDbServer(work / "mariadb")
    server.install()
    server.start()
    try:
        url = server.create_database("bench")
        migrate.upgrade(url)
        app = create_app(settings_for(url, work, db_timeout=db_timeout))
        uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error", lifespan="off"))
        threading.Thread(target=uv.run, daemon=True).start()
        while not uv.started:
            time.sleep(0.02)
        base = f"http://127.0.0.1:{uv.servers[0].sockets[0].getsockname()[1]}"
        answers: list[tuple[str, int, float]] = []
        with httpx.Client(base_url=base, timeout=seconds + 30) as client:
            client.post("/comments", json={"request_user": "kim", "comments": "warm"})
            server.freeze()
            until = time.monotonic() + seconds
            while time.monotonic() < until:
                for method, path in (("POST", "/comments"), ("GET", "/health"), ("GET", "/stats")):
                    started = time.monotonic()
                    answer = client.request(method, path, json={"request_user": "kim", "comments": "frozen?"})
                    answers.append((f"{method} {path}", answer.status_code, time.monotonic() - started))
            server.thaw()
            recovered = client.get("/health").status_code
        uv.should_exit = True
        slowest = max(seconds_ for *_, seconds_ in answers)
        print(
            f"MariaDB frozen {seconds:g} s, THREEKCAL_DB_TIMEOUT={db_timeout:g}: {len(answers)} requests, "
            f"statuses {dict(Counter(status for _, status, _ in answers))}, slowest answer {slowest:.2f} s; "
            f"after SIGCONT /health {recovered}"
        )
        for route in sorted({route for route, *_ in answers}):
            times = [s for r, _, s in answers if r == route]
            print(f"  {route:14s} median {statistics.median(times):.2f} s, max {max(times):.2f} s")
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--freeze", type=float, default=20.0)
    args = parser.parse_args()
    print(cpu_line())
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        flood(work, args.posts)
        stats_under_flood(work, args.rows)
        freeze(work, args.freeze)


if __name__ == "__main__":
    main()
