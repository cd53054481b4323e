"""Benchmark of the apply step: N predictions into an N-row table, per engine and database, against
the naive way measured in the same run.

    .venv/bin/python bench/apply.py                       # 10k and 100k rows, SQLite and MariaDB
    .venv/bin/python bench/apply.py --sizes 10000,100000,1000000 --full-max 100000

Engines:
  naive   read the whole table into memory (pandas), join it with the log, then one UPDATE per row
          with executemany over a new DB-API connection, one commit;
  local   ``threekcal apply --engine local``: validate, keep the newest per num, stage, set-based merge;
  spark   ``threekcal apply --engine spark`` (local[2]; session start-up reported apart).
Every timed run starts from the same state (no predictions, batch not applied) and its result is
checked against the naive one, row for row. Sizes above --full-max run the local engine only.
The goal (issue 4): local >= 10x naive on MariaDB at 100k rows.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import secrets
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, insert, select, text, update
from sqlalchemy.engine import make_url

from threekcal.db import migrate
from threekcal.db.models import Comment, PredictionBatch
from threekcal.db.session import engine_for, is_sqlite
from threekcal.emotions import LABELS
from threekcal.pipeline import logfiles
from threekcal.pipeline.apply import apply_logs
from threekcal.pipeline.records import log_record
from threekcal.settings import Settings

RUN_ID = "bench-run"
DEFAULT_MARIADB = os.environ.get("THREEKCAL_BENCH_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/")
WORDS = (
    "what a day this is great awful lovely scary gross surprising plain sad happy wow meh so very "
    "not really quite the best worst ever today tomorrow again why how"
)


def new_database(backend: str, workdir: Path, server_url: str) -> tuple[str, Callable[[], None]]:
    if backend == "sqlite":
        url = f"sqlite:///{workdir / f'bench-{secrets.token_hex(3)}.db'}"
        migrate.upgrade(url)
        return url, lambda: None
    name = f"threekcal_bench_{secrets.token_hex(3)}"
    admin = create_engine(server_url)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
    url = make_url(server_url).set(database=name).update_query_dict({"charset": "utf8mb4"})
    url = url.render_as_string(hide_password=False)
    migrate.upgrade(url)

    def drop() -> None:
        engine_for(url).dispose()
        with admin.begin() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))

    return url, drop


def seed(url: str, rows: int) -> None:
    rng = random.Random(rows)
    now = datetime.now(UTC)
    engine = engine_for(url)
    for start in range(1, rows + 1, 20_000):
        chunk = [
            {
                "num": num,
                "comments": " ".join(rng.choices(WORDS.split(), k=rng.randint(5, 25))),
                "request_user": f"user{num % 500}",
                "request_time": now,
                "receipt": secrets.token_urlsafe(12),
            }
            for num in range(start, min(start + 20_000, rows + 1))
        ]
        with engine.begin() as connection:
            connection.execute(insert(Comment), chunk)


def write_log(log_dir: Path, rows: int) -> str:
    rng = random.Random(rows + 1)
    when = datetime.now(UTC)
    relpath = logfiles.log_relpath(RUN_ID, when.date())

    def records() -> Iterator[dict]:
        for num in range(1, rows + 1):
            raw = [rng.random() for _ in LABELS]
            total = sum(raw)
            scores = {label: value / total for label, value in zip(LABELS, raw, strict=True)}
            label = max(scores, key=scores.__getitem__)
            yield log_record(
                num=num,
                label=label,
                score=scores[label],
                scores=scores,
                model_version="bench-model@1",
                prediction_time=when + timedelta(microseconds=num),
                run_id=RUN_ID,
            )

    logfiles.write_json_lines_atomically(logfiles.resolve(log_dir, relpath), records())
    return relpath


def reset(url: str, relpath: str, rows: int) -> None:
    """No predictions, and the log registered as not applied: the state every timed run starts from."""
    with engine_for(url).begin() as connection:
        connection.execute(
            update(Comment).values(
                prediction_result=None,
                prediction_score=None,
                prediction_scores=None,
                prediction_time=None,
                model_version=None,
            )
        )
        connection.execute(PredictionBatch.__table__.delete())
        connection.execute(
            insert(PredictionBatch).values(
                run_id=RUN_ID,
                log_path=relpath,
                kind="predict",
                model_version="bench-model@1",
                records=rows,
                num_min=1,
                num_max=rows,
                created_at=datetime.now(UTC),
            )
        )


def fingerprint(url: str) -> str:
    """A hash of every prediction column of every row (scores compared as numbers, not text)."""
    digest = hashlib.sha256()
    with engine_for(url).connect() as connection:
        for row in connection.execute(
            select(
                Comment.num,
                Comment.prediction_result,
                Comment.prediction_score,
                Comment.prediction_scores,
                Comment.prediction_time,
                Comment.model_version,
            ).order_by(Comment.num)
        ):
            scores = row.prediction_scores or {}
            digest.update(
                repr(
                    (
                        row.num,
                        row.prediction_result,
                        row.prediction_score,
                        sorted(scores.items()),
                        row.prediction_time,
                        row.model_version,
                    )
                ).encode()
            )
    return digest.hexdigest()


def naive_apply(url: str, log_path: Path) -> None:
    """The baseline: whole table into memory, join, one UPDATE per row (executemany), new connection."""
    import pandas as pd

    engine = create_engine(url)
    with engine.connect() as connection:
        table = pd.read_sql(text("SELECT * FROM comments"), connection)
    engine.dispose()
    with open(log_path, encoding="utf-8") as file:
        log = pd.DataFrame([json.loads(line) for line in file])
    merged = table[["num"]].merge(log, on="num", how="inner")
    times = pd.to_datetime(merged["prediction_time"], utc=True).dt.strftime("%Y-%m-%d %H:%M:%S.%f")
    parameters = list(
        zip(
            merged["prediction_result"],
            merged["prediction_score"],
            [json.dumps(scores) for scores in merged["prediction_scores"]],
            times,
            merged["model_version"],
            merged["num"].astype(int).tolist(),
            strict=True,
        )
    )
    if is_sqlite(url):
        connection = sqlite3.connect(make_url(url).database)
        marker = "?"
    else:
        import pymysql

        parsed = make_url(url)
        connection = pymysql.connect(
            host=parsed.host,
            port=parsed.port or 3306,
            user=parsed.username,
            password=parsed.password or "",
            database=parsed.database,
            charset="utf8mb4",
        )
        marker = "%s"
    try:
        cursor = connection.cursor()
        cursor.executemany(
            f"UPDATE comments SET prediction_result = {marker}, prediction_score = {marker},"
            f" prediction_scores = {marker}, prediction_time = {marker}, model_version = {marker}"
            f" WHERE num = {marker}",
            parameters,
        )
        connection.commit()
    finally:
        connection.close()


def run_size(
    backend: str, rows: int, engines: list[str], args: argparse.Namespace, workdir: Path, spark: object
) -> dict[str, float]:
    """Seconds per engine for one database and size; every engine's result must equal the first's."""
    url, drop = new_database(backend, workdir, args.mariadb_url)
    log_dir = workdir / f"logs-{backend}-{rows}"
    timings: dict[str, float] = {}
    try:
        seed(url, rows)
        relpath = write_log(log_dir, rows)
        settings = Settings(
            env="test", database_url=url, log_dir=log_dir, admin_token="x" * 20, _env_file=None
        )
        expected = None
        for engine in engines:
            if rows > args.full_max and engine != "local":
                continue
            reset(url, relpath, rows)
            started = time.perf_counter()
            if engine == "naive":
                naive_apply(url, logfiles.resolve(log_dir, relpath))
            else:
                report = apply_logs(settings, engine=engine, spark=spark, chunk_size=args.chunk_size)
                assert [batch.applied_rows for batch in report.batches] == [rows], report
            timings[engine] = time.perf_counter() - started
            result = fingerprint(url)
            expected = expected or result
            if result != expected:
                raise SystemExit(
                    f"{engine} on {backend} at {rows} rows differs from the first engine's result"
                )
            naive = timings.get("naive")
            ratio = f"{naive / timings[engine]:8.1f}x" if naive else f"{'-':>9}"
            per_row = timings[engine] / rows * 1e6
            print(
                f"{backend:8} {rows:9d} {engine:6} {timings[engine]:8.2f} {per_row:8.1f} {ratio}", flush=True
            )
    finally:
        drop()
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated row counts")
    parser.add_argument("--backends", default="sqlite,mariadb")
    parser.add_argument("--engines", default="naive,local,spark")
    parser.add_argument(
        "--full-max", type=int, default=100_000, help="larger sizes run the local engine only"
    )
    parser.add_argument("--mariadb-url", default=DEFAULT_MARIADB, help="server URL (a database is created)")
    parser.add_argument("--chunk-size", type=int, default=50_000, help="local engine records per transaction")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    engines = args.engines.split(",")
    backends = args.backends.split(",")
    workdir = Path(tempfile.mkdtemp(prefix="threekcal-bench-"))
    spark = None
    if "spark" in engines:
        from threekcal.pipeline.sparksession import get_spark

        started = time.perf_counter()
        spark = get_spark()
        print(
            f"spark session start-up: {time.perf_counter() - started:.1f} s (not counted below)", flush=True
        )
    print(f"{'database':8} {'rows':>9} {'engine':6} {'seconds':>8} {'us/row':>8} {'vs naive':>9}", flush=True)
    timings = {
        (backend, rows): run_size(backend, rows, engines, args, workdir, spark)
        for backend in backends
        for rows in sizes
    }
    print("\ngrowth, microseconds per row:")
    for backend in backends:
        for engine in engines:
            cells = [
                f"{rows:>8}: {timings[(backend, rows)][engine] / rows * 1e6:6.1f}"
                for rows in sizes
                if engine in timings[(backend, rows)]
            ]
            if cells:
                print(f"  {backend:8} {engine:6} " + "   ".join(cells))
    goal = timings.get(("mariadb", 100_000), {})
    if "naive" in goal and "local" in goal:
        ratio = goal["naive"] / goal["local"]
        verdict = "met" if ratio >= 10 else "NOT met"
        print(f"\ngoal local >= 10x naive on MariaDB at 100k rows: {ratio:.1f}x ({verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
