"""/stats from the aggregate tables against the full recomputation of today, at a given table size.

    .venv/bin/python bench/stats_aggregates.py --rows 1000000 [--days 90] [--users 1000]
        [--database-url mysql+pymysql://root@127.0.0.1:3306/threekcal_bench_stats] [--reference-runs 1]

Generates ``--rows`` comments spread over ``--days`` days (20% labelled, 90% predicted by two model
versions, 5% of the labels from the audit queue), inserted in chunks with ``aggregates.add_comments`` in
the same transaction (the bulk importer's path; its rows/s is printed), then times, in the same run:
``stats_from_aggregates`` (what /stats serves; p50/p99 over ``--runs`` calls, uncached), the same
through HTTP ``GET /stats`` (``THREEKCAL_STATS_MAX_STALENESS=0``, a new comment posted before each, so
never a cached answer), and ``stats_recompute.compute_stats`` (the full recomputation). Prints the CPU
and the load average with the figures.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import insert, text
from sqlalchemy.engine import make_url

from threekcal.api import create_app
from threekcal.db import aggregates, migrate, stats, stats_recompute
from threekcal.db.models import Comment
from threekcal.db.session import engine_for, refresh_planner_statistics, session_factory
from threekcal.emotions import LABELS
from threekcal.model import cpu_description
from threekcal.settings import Settings

CHUNK = 20_000
OPTIONAL = ("prediction_result", "prediction_score", "prediction_scores", "prediction_time", "model_version",
            "label", "label_source")  # fmt: skip


def cpu_line() -> str:
    return f"CPU: {cpu_description()}, {os.cpu_count()} cores; load {os.getloadavg()}"


def fresh_database(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        Path(parsed.database or "").unlink(missing_ok=True)
    else:
        server = engine_for(parsed.set(database="").render_as_string(hide_password=False))
        with server.begin() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {parsed.database}"))
            connection.execute(text(f"CREATE DATABASE {parsed.database} CHARACTER SET utf8mb4"))
    migrate.upgrade(url)


def generate(url: str, rows: int, days: int, users: int, seed: int = 12) -> tuple[float, float]:
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    span = days * 86_400
    engine = engine_for(url)
    spent = counting = 0.0
    done = 0
    while done < rows:
        batch = []
        for i in range(done, min(rows, done + CHUNK)):
            row = {
                "comments": f"comment {i}",
                "request_user": f"user{rng.randrange(users)}",
                "request_time": start + timedelta(seconds=span * i / rows),
                "receipt": f"bench-{i}",
                **dict.fromkeys(OPTIONAL),
                "audit": False,
            }  # fmt: skip
            if rng.random() < 0.9:
                weights = [rng.random() ** 3 for _ in LABELS]
                total = sum(weights)
                scores = {label: w / total for label, w in zip(LABELS, weights, strict=True)}
                best = max(scores, key=scores.__getitem__)
                row |= {
                    "prediction_result": best, "prediction_score": scores[best], "prediction_scores": scores,
                    "prediction_time": row["request_time"], "model_version": rng.choice(("m@1", "m@2")),
                }  # fmt: skip
            if rng.random() < 0.2:
                label = row.get("prediction_result") if rng.random() < 0.6 else rng.choice(LABELS)
                audit = rng.random() < 0.05
                row |= {"label": label or rng.choice(LABELS), "label_source": "chosen", "audit": audit}
            batch.append(row)
        began = time.perf_counter()
        with engine.begin() as connection:
            connection.execute(insert(Comment.__table__), batch)
            middle = time.perf_counter()
            aggregates.add_comments(connection, batch)
            counting += time.perf_counter() - middle
        spent += time.perf_counter() - began
        done += len(batch)
    return spent, counting


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms (n={len(ordered)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--reference-runs", type=int, default=1)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="threekcal-stats-bench-"))
    url = args.database_url or f"sqlite:///{work / 'bench.db'}"
    print(cpu_line())
    fresh_database(url)
    spent, counting = generate(url, args.rows, args.days, args.users)
    backend = make_url(url).get_backend_name()
    print(f"{backend}: {args.rows:,} comments over {args.days} days, {args.users} users; "
          f"insert + aggregates.add_comments {args.rows / spent:,.0f} rows/s "
          f"(add_comments alone {args.rows / counting:,.0f} rows/s)")  # fmt: skip
    refresh_planner_statistics(url)
    factory = session_factory(url)
    samples = []
    for _ in range(args.runs):
        with factory() as session:
            began = time.perf_counter()
            stats.stats_from_aggregates(session, stats.ALL)
            samples.append(time.perf_counter() - began)
    print(f"stats_from_aggregates (all users): {percentiles(samples)}")
    samples = []
    for i in range(args.runs):
        with factory() as session:
            began = time.perf_counter()
            stats.stats_from_aggregates(session, stats.StatsScope(f"user{i}", tz="Asia/Seoul"))
            samples.append(time.perf_counter() - began)
    print(f"stats_from_aggregates (one user, Asia/Seoul): {percentiles(samples)}")
    settings = Settings(env="test", database_url=url, admin_token="bench-admin-token-0123456789",
                        stats_max_staleness=0.0, log_dir=work / "logs", cache_dir=work / "cache",
                        _env_file=None)  # fmt: skip
    with TestClient(create_app(settings)) as client:
        samples = []
        for i in range(args.runs):
            client.post("/comments", json={"request_user": f"user{i}", "comments": "new"})  # data changed
            began = time.perf_counter()
            response = client.get("/stats", params={"tz": "Europe/Berlin" if i % 2 else "UTC"})
            samples.append(time.perf_counter() - began)
            assert response.status_code == 200, response.text
    print(f"GET /stats over HTTP (TestClient), a new comment before each: {percentiles(samples)}")
    samples = []
    for _ in range(args.reference_runs):
        with factory() as session:
            began = time.perf_counter()
            stats_recompute.compute_stats(session, stats.ALL)
            samples.append(time.perf_counter() - began)
    print(f"compute_stats, the full recomputation of today: {percentiles(samples)}")
    print(cpu_line())


if __name__ == "__main__":
    main()
