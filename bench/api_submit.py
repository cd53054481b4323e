"""POST /comments throughput and latency on loopback: the product endpoint against a naive one.

For each backend (a fresh temporary SQLite file, a fresh MariaDB database ``threekcal_bench_<random>``
dropped afterwards) and each variant, a uvicorn server (uvloop + httptools, one worker) runs in its own
process and an httpx async load generator in another, keeping ``--concurrency`` requests in flight for
``--duration`` seconds after a short warm-up. Then the rows in the table must equal the accepted (201)
requests: nothing lost, nothing duplicated.

Variants:
- pooled: the product app (pooled engine, one INSERT + commit, SQLite writers queued in-process);
- naive:  the same validation and response, but a new database connection per request (NullPool) and
          no write queueing: what a first implementation often does. Built here, not in the product.

Both processes share this machine's cores: the CPU seconds each used are printed next to the figures,
since on 2 cores the load generator takes a share of what the server could have had; so is the load
average, since other work on the machine takes its share too. The default load generator client is a
minimal keep-alive socket client (``--client httpx`` uses httpx, whose CPU cost per request is higher
than the server's).

    .venv/bin/python bench/api_submit.py [--duration 20] [--concurrency 16] [--backends sqlite,mariadb]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from threekcal.api import create_app
from threekcal.api.schemas import CommentCreated, CommentIn
from threekcal.db import migrate
from threekcal.db.models import Comment
from threekcal.db.queries import new_receipt
from threekcal.db.session import make_engine
from threekcal.db.types import utcnow
from threekcal.settings import Settings

MARIADB_SERVER_URL = os.environ.get(
    "THREEKCAL_BENCH_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/?charset=utf8mb4"
)
GOALS = {"sqlite": 1000.0, "mariadb": 500.0}  # req/s on 2 cores; and p99 < 50 ms, 0 lost
P99_GOAL_MS = 50.0
WARMUP_SECONDS = 2.0


# ---------------------------------------------------------------- server process


def build_app(url: str, variant: str, work_dir: Path) -> FastAPI:
    settings = Settings(
        env="test",
        database_url=url,
        admin_token=secrets.token_urlsafe(24),
        # throughput is measured here, not throttling: the per-user and per-address limits are lifted
        submit_rate_limit="100000000/minute",
        submit_ip_rate_limit="100000000/minute",
        log_dir=work_dir / "logs",
        cache_dir=work_dir / "cache",
        _env_file=None,
    )
    app = create_app(settings)
    if variant == "naive":
        engine = make_engine(url, poolclass=NullPool)  # every request opens and closes its own connection

        @app.post("/naive/comments", status_code=201, response_model=CommentCreated)
        def naive_create(body: CommentIn) -> CommentCreated:
            with Session(engine, expire_on_commit=False) as session:
                comment = Comment(
                    comments=body.comments,
                    request_user=body.request_user,
                    request_time=utcnow(),
                    receipt=new_receipt(),
                )
                session.add(comment)
                session.commit()
                return CommentCreated.model_validate(comment)

    return app


def serve(url: str, variant: str, port: int, work_dir: Path) -> None:
    import uvicorn

    app = build_app(url, variant, work_dir)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
    )


# ---------------------------------------------------------------- load generator process


class RawHttpClient:
    """A minimal HTTP/1.1 keep-alive client: one connection, one request at a time.

    httpx spends about 1.4 ms of CPU per request here, more than the server it measures, and on 2 shared
    cores that CPU is taken from the server. This client writes prepared request bytes and reads the
    status line, headers and Content-Length body (uvicorn always sends one for these JSON answers).
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await self.reader.readexactly(length)
        if b"connection: close" in head.lower():
            await self.close()
        return status

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


async def _load(target: str, concurrency: int, warmup: float, duration: float, client_kind: str) -> dict:
    statuses: Counter[str] = Counter()
    latencies: list[float] = []
    start = time.perf_counter()
    measure_from = start + warmup
    deadline = measure_from + duration
    measured = 0
    url = httpx.URL(target)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(limits=limits, timeout=30.0) as shared_httpx:

        async def worker(worker_id: int) -> None:
            nonlocal measured
            raw = RawHttpClient(url.host, url.port or 80)
            i = 0
            while (sent_at := time.perf_counter()) < deadline:
                body = json.dumps(
                    {"request_user": f"bench-{worker_id}", "comments": f"load test {i} 오늘 기분 좋아요 😀"}
                ).encode()
                i += 1
                try:
                    if client_kind == "raw":
                        status = str(await raw.post(url.raw_path.decode(), body))
                    else:
                        response = await shared_httpx.post(
                            target, content=body, headers={"Content-Type": "application/json"}
                        )
                        status = str(response.status_code)
                except (OSError, asyncio.IncompleteReadError, httpx.HTTPError) as error:
                    status = type(error).__name__
                    await raw.close()
                done_at = time.perf_counter()
                statuses[status] += 1
                if sent_at >= measure_from and done_at <= deadline:
                    latencies.append(done_at - sent_at)
                    measured += 1
            await raw.close()

        await asyncio.gather(*(worker(w) for w in range(concurrency)))
    return {
        "statuses": dict(statuses),
        "measured": measured,
        "duration": duration,
        "latencies_ms": [round(x * 1000, 3) for x in latencies],
        "cpu_seconds": time.process_time(),
    }


def load(target: str, concurrency: int, warmup: float, duration: float, client: str, out: Path) -> None:
    import uvloop

    result = uvloop.run(_load(target, concurrency, warmup, duration, client))
    out.write_text(json.dumps(result))


# ---------------------------------------------------------------- orchestration


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _count_rows(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(Comment)).scalar_one()
    finally:
        engine.dispose()


def _wait_healthy(port: int, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("server did not become healthy")


def run_one(url: str, variant: str, args: argparse.Namespace, work_dir: Path) -> dict:
    port = _free_port()
    script = str(Path(__file__).resolve())
    server = subprocess.Popen(
        [
            sys.executable,
            script,
            "serve",
            "--url",
            url,
            "--variant",
            variant,
            "--port",
            str(port),
            "--work-dir",
            str(work_dir),
        ]
    )
    try:
        _wait_healthy(port, server)
        rows_before = _count_rows(url)
        server_cpu_before = _cpu_seconds(server.pid)
        path = "/naive/comments" if variant == "naive" else "/comments"
        out = work_dir / f"load-{variant}.json"
        wall = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                script,
                "load",
                "--target",
                f"http://127.0.0.1:{port}{path}",
                "--concurrency",
                str(args.concurrency),
                "--warmup",
                str(WARMUP_SECONDS),
                "--duration",
                str(args.duration),
                "--out",
                str(out),
                "--client",
                args.client,
            ],
            check=True,
        )
        wall = time.perf_counter() - wall
        server_cpu = _cpu_seconds(server.pid) - server_cpu_before
    finally:
        server.terminate()
        server.wait(30)
    result = json.loads(out.read_text())
    accepted = result["statuses"].get("201", 0)
    rows = _count_rows(url) - rows_before
    latencies = sorted(result["latencies_ms"])
    cuts = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else [0.0] * 99
    return {
        "variant": variant,
        "throughput": result["measured"] / result["duration"],
        "p50": cuts[49],
        "p99": cuts[98],
        "max": latencies[-1] if latencies else 0.0,
        "requests": sum(result["statuses"].values()),
        "accepted": accepted,
        "other": {k: v for k, v in result["statuses"].items() if k != "201"},
        "rows": rows,
        "lost": accepted - rows,
        "server_cpu": server_cpu,
        "load_cpu": result["cpu_seconds"],
        "wall": wall,
    }


def _sqlite_database(work_dir: Path) -> str:
    return f"sqlite:///{work_dir / 'bench.db'}"


def _mariadb_database() -> tuple[str, str]:
    name = f"threekcal_bench_{secrets.token_hex(4)}"
    admin = create_engine(MARIADB_SERVER_URL)
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
    admin.dispose()
    return make_url(MARIADB_SERVER_URL).set(database=name).render_as_string(hide_password=False), name


def _drop_mariadb(name: str) -> None:
    admin = create_engine(MARIADB_SERVER_URL)
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
    admin.dispose()


def bench(args: argparse.Namespace) -> int:
    print(
        f"POST /comments, concurrency {args.concurrency}, {args.duration:g} s measured after "
        f"{WARMUP_SECONDS:g} s warm-up, {os.cpu_count()} CPUs shared by server and load generator, "
        f"client {args.client}, load average {os.getloadavg()[0]:.2f} before"
    )
    header = (
        f"{'backend':8} {'variant':7} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
        f"{'accepted':>8} {'rows':>8} {'lost':>5} {'srv CPU s':>9} {'load CPU s':>10}  other"
    )
    failures = []
    for backend in args.backends.split(","):
        with tempfile.TemporaryDirectory(prefix="threekcal-bench-") as tmp:
            work_dir = Path(tmp)
            database = None
            if backend == "sqlite":
                url = _sqlite_database(work_dir)
            else:
                url, database = _mariadb_database()
            try:
                migrate.upgrade(url)
                results = [run_one(url, variant, args, work_dir) for variant in args.variants.split(",")]
            finally:
                if database:
                    _drop_mariadb(database)
        print()
        print(header)
        for r in results:
            print(
                f"{backend:8} {r['variant']:7} {r['throughput']:8.0f} {r['p50']:7.1f} {r['p99']:7.1f} "
                f"{r['max']:7.1f} {r['accepted']:8d} {r['rows']:8d} {r['lost']:5d} {r['server_cpu']:9.1f} "
                f"{r['load_cpu']:10.1f}  {r['other'] or ''}"
            )
        print(f"load average {os.getloadavg()[0]:.2f} after {backend}")
        by_variant = {r["variant"]: r for r in results}
        if "pooled" in by_variant and "naive" in by_variant and by_variant["naive"]["throughput"]:
            pooled, naive = by_variant["pooled"], by_variant["naive"]
            print(
                f"{backend}: pooled / naive throughput {pooled['throughput'] / naive['throughput']:.2f}x, "
                f"p99 {naive['p99'] / max(pooled['p99'], 1e-9):.2f}x lower"
            )
        if "pooled" in by_variant:
            pooled = by_variant["pooled"]
            goal = GOALS.get(backend, 0.0)
            met = pooled["throughput"] >= goal and pooled["p99"] < P99_GOAL_MS and pooled["lost"] == 0
            print(
                f"{backend}: goal >= {goal:.0f} req/s, p99 < {P99_GOAL_MS:.0f} ms, 0 lost: "
                f"{'met' if met else 'NOT met'}"
            )
        failures += [f"{backend}/{r['variant']}: {r['lost']} lost" for r in results if r["lost"] != 0]
    if failures:
        print("row count differs from accepted requests:", "; ".join(failures))
        return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command")
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds per run (default 20)")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight (default 16)")
    parser.add_argument("--backends", default="sqlite,mariadb", help="comma list: sqlite, mariadb")
    parser.add_argument("--variants", default="pooled,naive", help="comma list: pooled, naive")
    parser.add_argument(
        "--client",
        choices=["raw", "httpx"],
        default="raw",
        help="load generator HTTP client: raw keep-alive sockets (default, light) or httpx (about 1.4 ms CPU "
        "per request, which on 2 cores is taken from the server)",
    )

    serve_parser = sub.add_parser("serve", help="(internal) run one server")
    serve_parser.add_argument("--url", required=True)
    serve_parser.add_argument("--variant", required=True, choices=["pooled", "naive"])
    serve_parser.add_argument("--port", type=int, required=True)
    serve_parser.add_argument("--work-dir", type=Path, required=True)

    load_parser = sub.add_parser("load", help="(internal) run one load generator")
    load_parser.add_argument("--target", required=True)
    load_parser.add_argument("--concurrency", type=int, required=True)
    load_parser.add_argument("--warmup", type=float, required=True)
    load_parser.add_argument("--duration", type=float, required=True)
    load_parser.add_argument("--out", type=Path, required=True)
    load_parser.add_argument("--client", choices=["raw", "httpx"], required=True)

    args = parser.parse_args()
    if args.command == "serve":
        serve(args.url, args.variant, args.port, args.work_dir)
        return 0
    if args.command == "load":
        load(args.target, args.concurrency, args.warmup, args.duration, args.client, args.out)
        return 0
    return bench(args)


if __name__ == "__main__":
    sys.exit(main())
