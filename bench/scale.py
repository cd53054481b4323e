"""Scale benchmark (issue 12): import N generated comments with `threekcal import`, then measure, in the
same run, on SQLite and/or MariaDB:

- import rows/s (and the import's peak memory);
- ``GET /stats`` p50/p99 from the aggregates, without and with a background stream of comments
  (100/s by default, inserted the way the API inserts them, aggregates included), against the full
  recomputation of before (``db.stats_recompute.compute_stats``);
- ``GET /comments`` p50 per filter and sort (first page, 50 rows, and the page after it);
- export rows/s (`threekcal export`, CSV) and its peak memory;
- apply peak memory for a prediction log of 100,000 records and of N records (`threekcal apply`), and
  backfill peak memory (`threekcal backfill` with the offline test model) for a small and a larger limit.

Peak memory is the child process's ru_maxrss (os.wait4). Each figure comes with the CPU model, its
instruction sets and the load average: compare figures only within one run.

    python bench/scale.py                       # 1,000,000 comments, SQLite
    python bench/scale.py --rows 10000000       # ten million
    python bench/scale.py --backend mariadb     # or both
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from sqlalchemy import create_engine, insert, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from threekcal.emotions import LABELS  # noqa: E402
from threekcal.model import cpu_description  # noqa: E402

MARIADB_SERVER = os.environ.get("THREEKCAL_BENCH_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/")
ADMIN_TOKEN = "bench-admin-token-0123456789abcdef"
START = datetime(2024, 1, 1, tzinfo=UTC)
USERS = 5000
WORDS = [
    "happy",
    "sad",
    "angry",
    "wow",
    "gross",
    "scared",
    "calm",
    "tired",
    "great",
    "awful",
    "lunch",
    "rain",
    "code",
    "coffee",
    "music",
]


# ------------------------------------------------------------------------------------------ machine
def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f}"


def say(line: str) -> None:
    print(f"{line}  [{load()}]", flush=True)


# ------------------------------------------------------------------------------------------ data
def generate_csv(path: Path, rows: int, seed: int = 1) -> None:
    """Comments over about a year: 80% predicted, 20% labelled (mostly as predicted), 5,000 users."""
    rng = random.Random(seed)
    step = max(1, 365 * 86400 // max(rows, 1))
    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["comments", "request_user", "request_time", "prediction_result", "prediction_score",
                         "prediction_time", "label", "remark"])  # fmt: skip
        for i in range(rows):
            when = START + timedelta(seconds=i * step + rng.randrange(step))
            predicted = rng.random() < 0.8
            result = rng.choice(LABELS) if predicted else ""
            label = ""
            if rng.random() < 0.2:
                label = result if predicted and rng.random() < 0.6 else rng.choice(LABELS)
            writer.writerow(
                [
                    " ".join(rng.choices(WORDS, k=6)) + f" #{i}",
                    f"user{rng.randrange(USERS)}",
                    when.isoformat(),
                    result,
                    f"{rng.uniform(0.2, 1.0):.4f}" if predicted else "",
                    (when + timedelta(minutes=3)).isoformat() if predicted else "",
                    label,
                    "",
                ]
            )


def first_nums(engine: Any, size: int, batch: int = 100_000) -> Iterator[int]:
    """The ``size`` smallest comment numbers, read in short keyset queries: one read left open for the
    minutes a 10,000,000-record log takes to write ended in "database is locked" on SQLite."""
    last, left = 0, size
    while left > 0:
        with engine.connect() as connection:
            nums = list(
                connection.execute(
                    text("SELECT num FROM comments WHERE num > :last ORDER BY num LIMIT :n"),
                    {"last": last, "n": min(batch, left)},
                ).scalars()
            )
        if not nums:
            return
        yield from nums
        last, left = nums[-1], left - len(nums)


def write_log(path: Path, nums: Iterator[int], run_id: str) -> int:
    from threekcal.pipeline.records import log_record

    rng = random.Random(7)
    count = 0
    now = datetime.now(UTC)
    with open(path, "w", encoding="utf-8") as file:
        for num in nums:
            label = rng.choice(LABELS)
            scores = {name: (0.4 if name == label else 0.1) for name in LABELS}
            record = log_record(
                num=num, label=label, score=0.4, scores=scores, model_version="bench@1",
                prediction_time=now, run_id=run_id,
            )  # fmt: skip
            file.write(json.dumps(record) + "\n")
            count += 1
    return count


# ------------------------------------------------------------------------------------------ helpers
CPU_SECONDS: list[float] = []  # CPU time (user + system) of the last run_cli child, for rows per CPU-second


def run_cli(env: dict[str, str], *args: str, stdout: Any = subprocess.DEVNULL) -> tuple[float, int, str]:
    """Run `threekcal ARGS`; (seconds, peak RSS in MiB, stderr tail). Fails loudly on a non-zero exit.
    Its CPU seconds go to CPU_SECONDS: on a loaded machine, wall time says little."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "threekcal.cli", *args],
        env=env,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    tail = process.stderr.read()[-2000:]
    _pid, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    CPU_SECONDS[:] = [usage.ru_utime + usage.ru_stime]
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"threekcal {' '.join(args)} failed ({process.returncode}):\n{tail}")
    return seconds, usage.ru_maxrss // 1024, tail


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered), p99


def timed(call: Callable[[], Any], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        out.append((time.perf_counter() - started) * 1000)
    return out


class Stream:
    """A separate process inserting comments at ``rate`` per second as POST /comments does (aggregates
    included), like another API process taking submissions while /stats is read."""

    def __init__(self, env: dict[str, str], rate: float) -> None:
        self.env, self.rate = env, rate
        self.count = 0

    def __enter__(self) -> Stream:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--stream", str(self.rate)],
            env=self.env,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.process.stdout.readline()  # "streaming": its first comment is stored
        return self

    def __exit__(self, *_: object) -> None:
        self.process.terminate()
        out, _err = self.process.communicate()
        self.count = int(out.split()[-1])


def stream_comments(rate: float) -> None:
    """The --stream mode: insert comments at ``rate`` per second until terminated; prints the count."""
    import signal

    from threekcal.db import queries
    from threekcal.db.session import session_factory
    from threekcal.settings import get_settings

    factory = session_factory(get_settings().database_url)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    count, started = 0, time.perf_counter()
    while not stop.is_set():
        if count == 1:
            print("streaming", flush=True)
        delay = started + count / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        with factory() as session:
            queries.insert_comment(session, request_user="streamer", text=f"live {count}")
        count += 1
    print(count, flush=True)


LIST_CASES: list[tuple[str, dict[str, Any]]] = [
    ("newest", {}),
    ("oldest", {"sort": "oldest"}),
    ("least_confident", {"sort": "least_confident"}),
    ("request_user", {"request_user": "user42"}),
    ("labeled=true", {"labeled": "true"}),
    ("labeled=false", {"labeled": "false"}),
    ("predicted=false", {"predicted": "false"}),
    ("prediction_result", {"prediction_result": "fear"}),
    ("label", {"label": "joy"}),
    ("label+prediction_result", {"label": "joy", "prediction_result": "anger"}),
    ("min/max_score", {"min_score": 0.5, "max_score": 0.6}),
    ("since/until", {"since": "2024-06-01T00:00:00", "until": "2024-06-02T00:00:00"}),
    ("q", {"q": "coffee music"}),
    ("label_source", {"label_source": "chosen"}),
    ("labeled=false least_confident", {"labeled": "false", "sort": "least_confident"}),
    ("request_user least_confident", {"request_user": "user42", "sort": "least_confident"}),
]


def raw_insert_baseline(data: Path, work: Path) -> float:
    """The ceiling of the import on SQLite: the same rows, checked, serialised and sorted as the importer
    does it beforehand (not timed), inserted with plain executemany, a transaction per chunk of
    THREEKCAL_IMPORT_CHUNK_ROWS, into a migrated, empty database with the importer's page cache: what SQLite
    itself takes for this schema (its indexes, nothing counted in the aggregates). Rows per CPU-second
    of the insert alone (this process runs only it meanwhile)."""
    from threekcal.db import import_sources
    from threekcal.db.session import engine_for
    from threekcal.settings import Settings

    settings = Settings(env="test", admin_token=ADMIN_TOKEN, _env_file=None)
    path = work / "raw-baseline.db"
    url = f"sqlite:///{path}"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "THREEKCAL_ENV": "test",
           "THREEKCAL_DATABASE_URL": url, "THREEKCAL_ADMIN_TOKEN": ADMIN_TOKEN}  # fmt: skip
    run_cli(env, "db", "upgrade")
    columns = ", ".join(import_sources.STORED_COLUMNS)
    sql = f"INSERT INTO comments ({columns}) VALUES ({', '.join('?' * len(import_sources.STORED_COLUMNS))})"
    engine = engine_for(url)
    wall = cpu = 0.0
    rows = 0
    connection = engine.raw_connection()
    try:
        connection.execute(f"PRAGMA cache_size = -{settings.import_sqlite_cache_mib * 1024}")
        chunk: list[tuple[Any, ...]] = []

        def insert() -> None:
            nonlocal wall, cpu, rows
            chunk.sort()  # by receipt, as the importer inserts
            started, started_cpu = time.perf_counter(), time.process_time()
            connection.executemany(sql, chunk)
            connection.commit()
            wall += time.perf_counter() - started
            cpu += time.process_time() - started_cpu
            rows += len(chunk)
            chunk.clear()

        for _where, checked in import_sources.checked_rows(import_sources.file_source(data)):
            if not isinstance(checked, str):
                chunk.append(import_sources.stored_values(checked))
                if len(chunk) >= settings.import_chunk_rows:
                    insert()
        if chunk:
            insert()
    finally:
        connection.close()
        engine.dispose()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    say(
        f"raw SQLite insert of the same rows (the ceiling: executemany, {settings.import_chunk_rows:,} a "
        f"transaction, checking not timed): {rows / wall:,.0f} rows/s wall, "
        f"{rows / cpu:,.0f} rows per CPU-second"
    )
    return rows / cpu


def timed_import(label: str, env: dict[str, str], rows: int, data: Path, *options: str) -> None:
    """`threekcal import` of ``data``: rows/s wall and per CPU-second, peak memory."""
    seconds, peak, _ = run_cli(env, "import", *options, str(data))
    say(
        f"{label}: {rows / seconds:,.0f} rows/s wall ({seconds:.1f} s), "
        f"{rows / CPU_SECONDS[0]:,.0f} rows per CPU-second ({CPU_SECONDS[0]:.1f} CPU-s), peak RSS {peak} MiB"
    )


def import_keeping_indexes(env: dict[str, str], rows: int, data: Path, work: Path) -> None:
    """The import with every index kept up to date row by row (--defer-indexes never), into an empty
    database of its own: the figure to compare the default with."""
    path = work / "keeping-indexes.db"
    own = {**env, "THREEKCAL_DATABASE_URL": f"sqlite:///{path}"}
    try:
        run_cli(own, "db", "upgrade")
        timed_import(
            "import, indexes kept (--defer-indexes never)", own, rows, data, "--defer-indexes", "never"
        )
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)


# ------------------------------------------------------------------------------------------ the run
def sqlite_database(work: Path, reuse: bool) -> tuple[str, bool]:
    """The URL of the run's SQLite database in ``work``, and whether it is an earlier run's, kept for
    ``--reuse`` when it holds more than an empty schema. Otherwise an earlier run's database is removed:
    an import into its table would store nothing new, and its rows/s would time only the look-ups."""
    path = work / "scale.db"
    if reuse and path.exists() and path.stat().st_size > 1_000_000:
        return f"sqlite:///{path}", True
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}", False


def bench_backend(backend: str, args: argparse.Namespace, work: Path, data: Path) -> None:
    from fastapi.testclient import TestClient

    from threekcal.api import create_app
    from threekcal.db import stats as db_stats
    from threekcal.db import stats_recompute
    from threekcal.db.models import PredictionBatch
    from threekcal.db.session import engine_for, session_factory
    from threekcal.settings import Settings

    database = None
    reusing = False
    if backend == "sqlite":
        url, reusing = sqlite_database(work, args.reuse)
    else:
        database = f"threekcal_bench_{secrets.token_hex(4)}"
        server = create_engine(MARIADB_SERVER)
        with server.begin() as connection:
            connection.execute(text(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4"))
        url = make_url(MARIADB_SERVER).set(database=database).render_as_string(hide_password=False)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "THREEKCAL_ENV": "test",
        "THREEKCAL_DATABASE_URL": url,
        "THREEKCAL_ADMIN_TOKEN": ADMIN_TOKEN,
        "THREEKCAL_LOG_DIR": str(work / f"logs-{backend}"),
        "THREEKCAL_VAR_DIR": str(work / "var"),
    }
    try:
        run_cli(env, "db", "upgrade")
        print(f"\n== {backend}: {args.rows:,} comments ==")
        ceiling = raw_insert_baseline(data, work) if args.raw_baseline and backend == "sqlite" else None
        if reusing:
            say("import: skipped (--reuse: the database of an earlier run)")
        else:
            if args.import_both and backend == "sqlite":
                import_keeping_indexes(env, args.rows, data, work)
            timed_import("import", env, args.rows, data)
            if ceiling is not None:
                say(f"import / raw insert, rows per CPU-second: {args.rows / CPU_SECONDS[0] / ceiling:.2f}")
        engine = engine_for(url)
        with engine.connect() as connection:
            total = connection.execute(text("SELECT count(*) FROM comments")).scalar_one()
        say(f"comments in the table: {total:,}")

        def measure_requests() -> None:
            settings = Settings(
                env="test", database_url=url, admin_token=ADMIN_TOKEN, stats_max_staleness=0,
                log_dir=work / f"logs-{backend}", var_dir=work / "var", _env_file=None,
            )  # fmt: skip
            admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
            with TestClient(create_app(settings)) as client:
                assert client.get("/stats").status_code == 200
                quiet = timed(lambda: client.get("/stats"), args.repeat)
                p50, p99 = percentiles(quiet)
                say(
                    f"/stats (no stream: the StatsCache answers while nothing changes): "
                    f"p50 {p50:.1f} ms, p99 {p99:.1f} ms"
                )
                with Stream(env, args.stream_rate) as stream:
                    busy = timed(lambda: client.get("/stats"), args.repeat)
                say(
                    f"/stats (aggregates, {args.stream_rate:g} comments/s stream, {stream.count} inserted): "
                    "p50 {:.1f} ms, p99 {:.1f} ms".format(*percentiles(busy))
                )
                factory = session_factory(url)

                def full() -> None:
                    with factory() as session:
                        stats_recompute.compute_stats(session, db_stats.ALL)

                def from_aggregates() -> None:
                    with factory() as session:
                        db_stats.stats_from_aggregates(session, db_stats.ALL)

                p50, p99 = percentiles(timed(from_aggregates, max(3, args.repeat // 3)))
                say(f"stats_from_aggregates direct (no cache): p50 {p50:.0f} ms, p99 {p99:.0f} ms")
                old = timed(full, args.recompute_repeat)
                p50, p99 = percentiles(old)
                say(
                    f"full recomputation (compute_stats, before issue 12): p50 {p50:.0f} ms, p99 {p99:.0f} ms"
                )

                for name, params in LIST_CASES:
                    first = client.get("/comments", params=params, headers=admin)
                    assert first.status_code == 200, first.text
                    page1 = timed(
                        lambda p=params: client.get("/comments", params=p, headers=admin), args.repeat
                    )
                    page2: list[float] = []
                    if first.json()["next_cursor"]:
                        after = {**params, "cursor": first.json()["next_cursor"]}
                        page2 = timed(
                            lambda p=after: client.get("/comments", params=p, headers=admin), args.repeat
                        )
                    note = f", next page p50 {statistics.median(page2):.1f} ms" if page2 else ""
                    say(f"GET /comments {name}: p50 {statistics.median(page1):.1f} ms{note}")

        if args.memory_only:
            say("/stats, GET /comments and export: skipped (--memory-only)")
        else:
            measure_requests()
        if args.skip_after_lists:
            return
        if not args.memory_only:
            seconds, peak, tail = run_cli(
                env, "export", "--format", "csv", "--output", str(work / "export.csv")
            )
            exported = int(tail.strip().splitlines()[-1].split()[0])
            say(
                f"export (CLI, CSV): {exported / seconds:,.0f} rows/s wall ({exported:,} rows, "
                f"{seconds:.1f} s), {exported / CPU_SECONDS[0]:,.0f} rows per CPU-second, peak RSS {peak} MiB"
            )
            (work / "export.csv").unlink(missing_ok=True)

        log_dir = work / f"logs-{backend}"
        largest = min(args.apply_records or total, total)
        for size in sorted({min(100_000, largest), largest}):
            run_id = f"bench-apply-{size}-{secrets.token_hex(3)}"
            relpath = f"date=2026-11-30/{run_id}.jsonl"
            (log_dir / relpath).parent.mkdir(parents=True, exist_ok=True)
            written = write_log(log_dir / relpath, first_nums(engine, size), run_id)
            with engine.begin() as connection:
                connection.execute(
                    insert(PredictionBatch).values(
                        run_id=run_id, log_path=relpath, kind="predict", model_version="bench@1",
                        records=written, created_at=datetime.now(UTC) - timedelta(seconds=5),
                    )
                )  # fmt: skip
            seconds, peak, _ = run_cli(env, "apply")
            say(
                f"apply of a {written:,}-record log: {written / seconds:,.0f} records/s wall, "
                f"{written / CPU_SECONDS[0]:,.0f} per CPU-second, peak RSS {peak} MiB"
            )
            (log_dir / relpath).unlink()

        if args.backfill_limits:
            from threekcal.model.testmodel import build_test_model

            model_dir = build_test_model(work / "tiny-model")
            for limit in args.backfill_limits:
                seconds, peak, _ = run_cli(env, "backfill", "--model", str(model_dir), "--limit", str(limit))
                say(f"backfill --limit {limit:,} (tiny test model): {seconds:.1f} s, peak RSS {peak} MiB")
        engine.dispose()
    finally:
        if database is not None:
            with server.begin() as connection:
                connection.execute(text(f"DROP DATABASE IF EXISTS `{database}`"))
            server.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="comments to import (10,000,000 once)")
    parser.add_argument("--backend", choices=("sqlite", "mariadb", "both"), default="sqlite")
    parser.add_argument("--repeat", type=int, default=30, help="requests per measured figure")
    parser.add_argument("--recompute-repeat", type=int, default=3)
    parser.add_argument("--stream-rate", type=float, default=100.0, help="comments per second in the stream")
    parser.add_argument(
        "--backfill-limits", type=lambda v: [int(x) for x in v.split(",") if x], default=[],
        help="e.g. 2000,20000: backfill with the offline test model at these limits (slow on a CPU)",
    )  # fmt: skip
    parser.add_argument(
        "--raw-baseline", action="store_true",
        help="SQLite: first insert the same rows with plain executemany (the import's ceiling)",
    )  # fmt: skip
    parser.add_argument(
        "--import-both", action="store_true",
        help="SQLite: first import with every index kept (--defer-indexes never), to compare with",
    )  # fmt: skip
    parser.add_argument("--workdir", type=Path, default=None, help="kept; default: a temporary folder")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="with --workdir: measure on its earlier run's SQLite database (else: an empty one)",
    )
    parser.add_argument(
        "--skip-after-lists", action="store_true", help="stop after the GET /comments figures"
    )
    parser.add_argument(
        "--memory-only", action="store_true",
        help="only the peak memory of apply and backfill (with --reuse: on an earlier run's database)",
    )  # fmt: skip
    parser.add_argument(
        "--apply-records", type=int, default=None,
        help="records of the larger apply log (default: every comment; 10M records take about an hour)",
    )  # fmt: skip
    parser.add_argument("--stream", type=float, default=None, help=argparse.SUPPRESS)  # the stream process
    args = parser.parse_args()
    if args.stream is not None:
        stream_comments(args.stream)
        return
    print(f"ThreeKcal scale benchmark — {cpu_description()}, {os.cpu_count()} CPUs; {load()}")
    print(f"started {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC; python {platform.python_version()}")
    work = args.workdir or Path(os.environ.get("TMPDIR", "/tmp")) / f"threekcal-scale-{secrets.token_hex(3)}"
    work.mkdir(parents=True, exist_ok=True)
    try:
        data = work / f"comments-{args.rows}.csv"
        if not data.exists():
            started = time.perf_counter()
            generate_csv(data, args.rows)
            size = data.stat().st_size / 1e6
            say(f"generated {data.name} ({size:.0f} MB) in {time.perf_counter() - started:.0f} s")
        for backend in ("sqlite", "mariadb") if args.backend == "both" else (args.backend,):
            bench_backend(backend, args, work, data)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"finished {datetime.now(UTC):%H:%M:%S} UTC; {load()}")


if __name__ == "__main__":
    main()
