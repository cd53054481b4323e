"""Does inference scale out? Predictions per second of ``predict --engine spark`` with 1 and 2 executor
cores, against the local predict (1 and 2 threads), in one run.

    .venv/bin/python bench/predict_scale.py [--model-dir var/bench-models/full] [--comments 2048]

Each configuration runs in its own process on its own copy of one SQLite database holding the same
pending comments, through ``predict_pending`` (the code path of ``threekcal predict``): read, score,
write and register the log. The model loads and warms up before the clock starts (Spark: a first small
job loads it in every executor process), so the figures are steady-state throughput. Spark runs in local
mode with N cores: N executor Python processes, one model thread each (THREEKCAL_SPARK_TASK_THREADS=1).
Goal (issue 13): Spark with 2 cores >= 1.8x Spark with 1 core.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from inference import comments  # noqa: E402 - the same deterministic comments as bench/inference.py

CONFIGS = (("local", 1), ("local", 2), ("spark", 1), ("spark", 2))
SCALE_GOAL = 1.8


def _settings(args: argparse.Namespace, database: Path, threads: int):  # type: ignore[no-untyped-def]
    from threekcal.settings import Settings

    return Settings(
        _env_file=None,
        env="development",
        database_url=f"sqlite:///{database}",
        log_dir=database.parent / "logs",
        cache_dir=args.cache_dir,
        model=str(args.model_dir),
        backend=args.backend,
        device="cpu",
        torch_threads=threads,
        spark_task_threads=1,
    )


def seed(database: Path, count: int) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import insert

    from threekcal.db import migrate
    from threekcal.db.models import Comment
    from threekcal.db.session import engine_for

    url = f"sqlite:///{database}"
    migrate.upgrade(url)
    now = datetime.now(UTC)
    rows = [
        {"comments": text, "request_user": "bench", "request_time": now, "receipt": f"r{index}"}
        for index, text in enumerate(comments(count))
    ]
    with engine_for(url).begin() as connection:
        connection.execute(insert(Comment), rows)
    with engine_for(url).connect() as connection:  # into the main file: the copies take only that
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine_for(url).dispose()


def worker(args: argparse.Namespace) -> None:
    """One configuration: warm up, then one timed predict run; prints JSON."""
    from threekcal.model import load_classifier
    from threekcal.pipeline.predict import DEFAULT_CHUNK_SIZE, predict_pending
    from threekcal.pipeline.spark_predict import DEFAULT_SPARK_CHUNK, spark_classifier

    engine, cores = args.worker.split(":")
    cores_n = int(cores)
    settings = _settings(args, args.database, cores_n if engine == "local" else 1)
    warmup = comments(16, seed=9)
    if engine == "spark":
        classifier = spark_classifier(settings, master=f"local[{cores_n}]")
        classifier.predict(warmup * cores_n)  # loads the model in every executor process
        chunk = DEFAULT_SPARK_CHUNK
    else:
        classifier = load_classifier(settings=settings)
        classifier.predict(warmup)
        chunk = DEFAULT_CHUNK_SIZE
    started = time.perf_counter()
    result = predict_pending(settings, classifier, limit=args.comments, chunk_size=chunk)
    seconds = time.perf_counter() - started
    print(
        "RESULT "
        + json.dumps({"records": result.records, "seconds": seconds, "version": result.model_version})
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, default=ROOT / "var" / "bench-models" / "full")
    parser.add_argument("--comments", type=int, default=2048)
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--database", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return

    from threekcal.model import choose_backend_for, cpu_description, export_onnx

    if not (args.model_dir / "config.json").exists():
        print(f"building the full-size test model in {args.model_dir} ...", flush=True)
        build = [
            sys.executable,
            "-m",
            "threekcal.cli",
            "model",
            "build-test",
            str(args.model_dir),
            "--size",
            "full",
        ]
        subprocess.run(build, check=True, capture_output=True)
    with tempfile.TemporaryDirectory(prefix="threekcal-scale-") as temp:
        root = Path(temp)
        args.cache_dir = args.cache_dir or root / "cache"
        settings = _settings(args, root / "template.db", 1)
        choice = choose_backend_for(args.backend, settings)
        if choice.backend.startswith("onnx"):
            export_onnx(str(args.model_dir), settings=settings)
        seed(root / "template.db", args.comments)
        load_before = os.getloadavg()[0]
        rates: dict[tuple[str, int], float] = {}
        for engine, cores in CONFIGS:
            print(f"{engine} with {cores} core(s) ...", flush=True)
            directory = root / f"{engine}-{cores}"
            directory.mkdir()
            shutil.copy(root / "template.db", directory / "threekcal.db")
            command = [
                sys.executable, __file__, "--worker", f"{engine}:{cores}", "--database",
                str(directory / "threekcal.db"), "--model-dir", str(args.model_dir), "--comments",
                str(args.comments), "--backend", args.backend, "--cache-dir", str(args.cache_dir),
            ]  # fmt: skip
            env = {key: value for key, value in os.environ.items() if not key.startswith("THREEKCAL_")}
            env |= {"TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": str(cores)}
            completed = subprocess.run(command, capture_output=True, text=True, env=env)
            line = next((x for x in completed.stdout.splitlines() if x.startswith("RESULT ")), None)
            if completed.returncode != 0 or line is None:
                sys.exit(f"{engine}:{cores} failed:\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}")
            result = json.loads(line.removeprefix("RESULT "))
            if result["records"] != args.comments:
                sys.exit(f"{engine}:{cores} predicted {result['records']} of {args.comments} comments")
            rates[(engine, cores)] = result["records"] / result["seconds"]
    print()
    print(f"CPU: {cpu_description()}; {os.cpu_count()} CPUs")
    print(
        f"load average (1 min) before {load_before:.2f}, after {os.getloadavg()[0]:.2f}: "
        "other work on the machine makes the figures noisy"
    )
    print(f"model {args.model_dir.name}, backend {choice.backend} ({args.backend}), {args.comments} comments")
    print(f"{'engine':<8} {'cores':>5} {'predictions/s':>14} {'x local 1':>10}")
    for (engine, cores), rate in rates.items():
        print(f"{engine:<8} {cores:>5} {rate:>14.1f} {rate / rates[('local', 1)]:>10.2f}")
    scale = rates[("spark", 2)] / rates[("spark", 1)]
    verdict = "met" if scale >= SCALE_GOAL else "MISSED"
    print(f"goal spark 2 cores >= {SCALE_GOAL}x spark 1 core: {scale:.2f}x -> {verdict}")
    print(f"spark 2 cores vs local 2 threads: {rates[('spark', 2)] / rates[('local', 2)]:.2f}x")


if __name__ == "__main__":
    main()
