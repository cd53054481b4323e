"""Inference speed of the emotion classifier: the naive way vs ThreeKcal's backends, in one run.

    .venv/bin/python bench/inference.py [--model-dir var/bench-models/full] [--threads 2] [--comments 512]

Uses the full-size offline test model (DistilRoBERTa's architecture, random weights: speeds are real,
labels mean nothing), built on first use. 512 deterministic short comments (5-40 words). Each backend lives
in its own subprocess so that its load time and resident memory are its own:

- naive: a transformers ``pipeline`` called once per comment, as most tutorials do;
- torch, onnx-fp32, onnx (int8): ``threekcal.model.load_classifier(...).predict(comments)``.

The ONNX export is built once beforehand (timed separately), so ONNX load times are those of a warm cache.
The machine is shared, so timed passes run in rounds (one pass of every backend per round, in turn) and
each backend's best pass counts: every backend gets the same chances at a quiet moment.
Goals (issue 3): torch >= 3x naive, onnx int8 >= 10x naive, int8 resident memory < 300 MiB.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from threekcal.model.testmodel import WORDS

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ("naive", "torch", "onnx-fp32", "onnx")
BATCH_SIZE = 32
WARMUP_COMMENTS = 8
EXPORT_SCRIPT = """
import sys
from threekcal.model import export_onnx
from threekcal.settings import Settings
export_onnx(sys.argv[1], settings=Settings(cache_dir=sys.argv[2], _env_file=None))
"""
GOALS = {"torch": 3.0, "onnx": 10.0}
INT8_RSS_GOAL_MIB = 300

_ENDINGS = (".", "!", "?", "...", "!!", " :)", " :(", "")


def comments(count: int, seed: int = 3) -> list[str]:
    """Deterministic short comments of 5 to 40 everyday words."""
    rng = random.Random(seed)
    result = []
    for _ in range(count):
        words = [rng.choice(WORDS) for _ in range(rng.randint(5, 40))]
        text = " ".join(words) + rng.choice(_ENDINGS)
        result.append(text[0].upper() + text[1:])
    return result


def rss_mib() -> tuple[float, float]:
    """(current, peak) resident memory of this process in MiB."""
    current = 0.0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            current = int(line.split()[1]) / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return current, peak


def _load(backend: str, model_dir: Path, cache_dir: Path, threads: int) -> tuple[Callable, str]:
    """A function classifying a list of texts into labels, the naive way or through ThreeKcal."""
    if backend == "naive":
        import torch
        from transformers import pipeline

        torch.set_num_threads(threads)
        classify = pipeline(
            "text-classification", model=str(model_dir), tokenizer=str(model_dir), device="cpu"
        )

        def naive(texts: list[str]) -> list[str]:
            return [classify(text)[0]["label"].lower() for text in texts]  # one call per comment

        return naive, f"{model_dir.name} transformers.pipeline"

    from threekcal.model import load_classifier
    from threekcal.settings import Settings

    settings = Settings(torch_threads=threads, batch_size=BATCH_SIZE, cache_dir=cache_dir, _env_file=None)
    classifier = load_classifier(str(model_dir), backend, settings=settings)

    def batched(texts: list[str]) -> list[str]:
        return [prediction.label for prediction in classifier.predict(texts)]

    return batched, classifier.model_version


def worker(backend: str, model_dir: Path, cache_dir: Path, threads: int, count: int) -> None:
    """Subprocess: load and warm up, then one timed pass per 'run' line on stdin; 'stop' reports memory."""
    texts = comments(count)
    started = time.perf_counter()
    classify, version = _load(backend, model_dir, cache_dir, threads)
    load_s = time.perf_counter() - started
    classify(texts[:WARMUP_COMMENTS])
    print(json.dumps({"load_s": load_s, "version": version}), flush=True)
    for command in sys.stdin:
        if command.strip() != "run":
            break
        started = time.perf_counter()
        labels = classify(texts)
        print(json.dumps({"seconds": time.perf_counter() - started, "labels": labels}), flush=True)
    current, peak = rss_mib()
    print(json.dumps({"rss_mib": current, "peak_rss_mib": peak, "torch_imported": "torch" in sys.modules}))


class Worker:
    """The parent's handle on one backend's subprocess."""

    def __init__(self, backend: str, args: argparse.Namespace, cache_dir: Path) -> None:
        command = [
            sys.executable, __file__, "--worker", backend, "--model-dir", str(args.model_dir),
            "--cache-dir", str(cache_dir), "--threads", str(args.threads), "--comments", str(args.comments),
        ]  # fmt: skip
        # Every backend gets the same compute threads and no extra tokenizer threads: "2 threads" means 2.
        env = {**_base_env(), "OMP_NUM_THREADS": str(args.threads), "TOKENIZERS_PARALLELISM": "false"}
        self.backend = backend
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        self.result: dict = {"passes_s": [], **self._reply()}

    def _reply(self) -> dict:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            sys.exit(f"{self.backend} worker failed (exit {self.process.wait()})")
        return json.loads(line)

    def _send(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def timed_pass(self) -> None:
        self._send("run")
        reply = self._reply()
        self.result["passes_s"].append(reply["seconds"])
        self.result["labels"] = reply["labels"]

    def finish(self) -> dict:
        self._send("stop")
        self.result.update(self._reply())
        self.process.wait()
        self.result["per_s"] = len(self.result["labels"]) / min(self.result["passes_s"])
        return self.result


def _base_env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith("THREEKCAL_")}


def agreement(left: list[str], right: list[str]) -> float:
    return sum(a == b for a, b in zip(left, right, strict=True)) / len(left)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, default=ROOT / "var" / "bench-models" / "full")
    parser.add_argument("--cache-dir", type=Path, default=None, help="ONNX export cache (default: temp dir)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--comments", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3, help="timed passes per backend; the best counts")
    parser.add_argument("--worker", choices=BACKENDS, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        worker(args.worker, args.model_dir, args.cache_dir, args.threads, args.comments)
        return

    if not (args.model_dir / "config.json").exists():
        print(f"building the full-size test model in {args.model_dir} ...", flush=True)
        started = time.perf_counter()
        build = [sys.executable, "-m", "threekcal.cli", "model", "build-test", str(args.model_dir)]
        subprocess.run([*build, "--size", "full"], check=True, capture_output=True)
        print(f"  built in {time.perf_counter() - started:.1f} s")
    with tempfile.TemporaryDirectory(prefix="threekcal-bench-") as temp:
        cache_dir = args.cache_dir or Path(temp)
        started = time.perf_counter()
        export = [sys.executable, "-c", EXPORT_SCRIPT, str(args.model_dir), str(cache_dir)]
        subprocess.run(export, check=True, env=_base_env())
        export_s = time.perf_counter() - started
        load_before = os.getloadavg()[0]
        workers = []
        for backend in BACKENDS:  # one at a time, so that load times do not overlap
            print(f"loading {backend} ...", flush=True)
            workers.append(Worker(backend, args, cache_dir))
        for round_number in range(1, args.rounds + 1):
            print(f"round {round_number}/{args.rounds} ...", flush=True)
            for handle in workers:
                handle.timed_pass()
        results = {handle.backend: handle.finish() for handle in workers}
    print(
        f"load average (1 min) before the runs {load_before:.2f}, after {os.getloadavg()[0]:.2f} "
        f"on {os.cpu_count()} CPUs: other work on the machine makes the figures noisy"
    )
    report(results, args, export_s, mean_tokens(args.model_dir, comments(args.comments)))


def mean_tokens(model_dir: Path, texts: list[str]) -> float:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    return sum(len(encoding.ids) for encoding in tokenizer.encode_batch(texts)) / len(texts)


def report(results: dict[str, dict], args: argparse.Namespace, export_s: float, tokens: float) -> None:
    naive = results["naive"]["per_s"]
    reference = {"naive": "torch", "torch": "naive", "onnx-fp32": "torch", "onnx": "onnx-fp32"}
    print()
    print(f"model: {results['torch']['version'].rsplit('+', 1)[0]} (full-size test model, random weights)")
    print(
        f"{args.comments} comments of 5-40 words ({tokens:.1f} tokens on average), {args.threads} threads, "
        f"batch size {BATCH_SIZE}, best of {args.rounds} rounds"
    )
    print(f"ONNX export (fp32 + int8, once per model version): {export_s:.1f} s")
    print()
    header = f"{'backend':<10} {'load s':>7} {'comments/s':>11} {'x naive':>8} {'RSS MiB':>8} {'peak MiB':>9}"
    print(header + f" {'torch imported':>15}  top label agrees with")
    for backend, result in results.items():
        other = reference[backend]
        agrees = agreement(result["labels"], results[other]["labels"])
        ratio = result["per_s"] / naive
        print(
            f"{backend:<10} {result['load_s']:>7.2f} {result['per_s']:>11.1f} {ratio:>8.2f} "
            f"{result['rss_mib']:>8.0f} {result['peak_rss_mib']:>9.0f} {result['torch_imported']!s:>15}  "
            f"{other}: {agrees:.1%}"
        )
    passes = "; ".join(
        f"{backend} " + " ".join(f"{seconds:.2f}" for seconds in result["passes_s"])
        for backend, result in results.items()
    )
    print(f"timed passes (s): {passes}")
    print()
    for backend, goal in GOALS.items():
        ratio = results[backend]["per_s"] / naive
        print(f"goal {backend} >= {goal:g}x naive: {ratio:.2f}x -> {'met' if ratio >= goal else 'MISSED'}")
    peak = results["onnx"]["peak_rss_mib"]
    print(
        f"goal onnx int8 peak resident memory < {INT8_RSS_GOAL_MIB} MiB: {peak:.0f} MiB -> "
        f"{'met' if peak < INT8_RSS_GOAL_MIB else 'MISSED'}"
    )
    int8 = agreement(results["onnx"]["labels"], results["onnx-fp32"]["labels"])
    print(f"int8 top-label agreement with fp32: {int8:.1%} (random weights; check again on the real model)")


if __name__ == "__main__":
    main()
