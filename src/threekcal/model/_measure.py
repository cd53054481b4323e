"""``THREEKCAL_BACKEND=auto`` on a CPU: time ONNX fp32 against ONNX int8 once per model and machine.

The flag rule (``_device.choose_backend``) guesses from instruction sets; a measurement knows. On first use
of ``auto`` for a model on a machine both ONNX graphs of the export classify the same fixed set of generated
comments (5-40 words, like real ones) after a warm-up, in alternating rounds so both meet the same load,
and the best round of each counts. The figures are kept in ``threekcal-backend.json`` beside the export,
one entry per machine key: the export (model content hash and export format), the CPU description, ONNX
Runtime's version and the thread count. Any change of those measures again; several machines sharing one
cache keep one entry each.

Int8 is chosen only when it is at least ``backend_int8_min_speedup`` (1.15) times as fast as fp32 (two
runs of the same backend on a shared machine differ by 5-10%, so a smaller lead is within the noise) and
agrees with fp32 on the top label of at least ``backend_int8_min_agreement`` (99%) of the measured
comments: int8 rounding moves the top label where the model's margin is small, and issue 11's bar for
int8 as the default is 99% agreement (a random-weight model, like the offline test model, falls below it
and keeps fp32; a fine-tuned one with real margins passes).
Where nothing can be measured (no ONNX Runtime, no export) the flag rule stands, and says why.
"""

from __future__ import annotations

import json
import logging
import os
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field, ValidationError

from threekcal.model._device import BackendChoice, cpu_description
from threekcal.model._types import ModelError

if TYPE_CHECKING:
    from threekcal.model._source import ModelSource
    from threekcal.settings import Settings

logger = logging.getLogger(__name__)

MEASUREMENT_FILE = "threekcal-backend.json"
FILE_FORMAT = 2  # 2: with the top-label agreement
INT8, FP32 = "onnx", "onnx-fp32"
AGREEMENT = "agreement"  # the share of measured comments whose top label int8 and fp32 agree on
MEASURE_COMMENTS = 64
"""Comments per timed round: two batches of the default size, a fraction of a second on a CPU."""
WARMUP_COMMENTS = 8
MAX_ROUNDS = 5
"""The best of a few rounds is stable; a small model stops here long before the time budget."""
MEASURE_SEED = 13

Measure = Callable[["ModelSource", "Settings"], dict[str, float]]
"""``(source, settings) -> {backend name: comments per second}`` for ``onnx`` and ``onnx-fp32``, and
``agreement``: the share of the measured comments on whose top label the two agree."""


class MachineKey(BaseModel, frozen=True):
    export: str  # the model's content hash (its version) and the export format
    cpu: str
    onnxruntime: str
    threads: int


class Measurement(BaseModel):
    key: MachineKey
    int8_per_s: float = Field(gt=0)  # comments per second
    fp32_per_s: float = Field(gt=0)
    agreement: float = Field(ge=0, le=1)
    measured_at: datetime


class MeasurementFile(BaseModel):
    format: Literal[2]
    measurements: list[Measurement]


def machine_key(export_meta: dict[str, object], threads: int, onnxruntime_version: str) -> MachineKey:
    return MachineKey(
        export=f"{export_meta.get('model_version')} format {export_meta.get('format')}",
        cpu=cpu_description(),
        onnxruntime=onnxruntime_version,
        threads=threads,
    )


def effective_threads(settings: Settings) -> int:
    """ONNX Runtime's compute threads: THREEKCAL_TORCH_THREADS, else every CPU this process may use."""
    return settings.torch_threads or len(os.sched_getaffinity(0))


def read_measurements(path: Path) -> list[Measurement]:
    """The remembered measurements: none for a missing file, none and a warning for a corrupt/foreign one."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    except OSError as exc:
        logger.warning("cannot read %s (%s): measuring the backends again", path, exc)
        return []
    try:
        return MeasurementFile.model_validate_json(text).measurements
    except ValidationError as exc:
        logger.warning(
            "%s is not a backend measurement file of this version (%s): measuring the backends again",
            path,
            exc.errors()[0]["msg"] if exc.errors() else exc,
        )
        return []


def write_measurements(path: Path, measurements: list[Measurement]) -> None:
    """Atomically (temporary file, then rename): a reader never sees half a file. Failure only warns."""
    text = MeasurementFile(format=FILE_FORMAT, measurements=measurements).model_dump_json(indent=2) + "\n"
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(handle, "w") as stream:
                stream.write(text)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        logger.warning("cannot remember the backend measurement in %s (%s)", path, exc)


def decide(measurement: Measurement, settings: Settings) -> BackendChoice:
    """Int8 with a clear lead and the top labels of fp32, else fp32; the reason gives the figures."""
    int8, fp32, agreement = measurement.int8_per_s, measurement.fp32_per_s, measurement.agreement
    speedup = int8 / fp32
    threshold, least_agreement = settings.backend_int8_min_speedup, settings.backend_int8_min_agreement
    if speedup < threshold:
        backend, verdict = (
            FP32,
            (
                f"int8 is only {speedup:.2f}x fp32, under the {threshold:.2f}x that would pay for its lower "
                "accuracy: fp32 keeps full accuracy"
            ),
        )
    elif agreement < least_agreement:
        backend, verdict = (
            FP32,
            (
                f"int8 is {speedup:.2f}x fp32 but gives fp32's top label for only {agreement:.1%} of the "
                f"measured comments, under the {least_agreement:.0%} asked for "
                "(THREEKCAL_BACKEND_INT8_MIN_AGREEMENT): fp32 keeps full accuracy"
            ),
        )
    else:
        backend, verdict = (
            INT8,
            (
                f"int8 is {speedup:.2f}x fp32, at least the {threshold:.2f}x asked for, and gives fp32's top "
                f"label for {agreement:.1%} of the measured comments"
            ),
        )
    key = measurement.key
    when = measurement.measured_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return BackendChoice(
        backend,
        "cpu",
        f"measured on this machine: ONNX int8 {int8:.1f} comments/s, ONNX fp32 {fp32:.1f} comments/s; "
        f"{verdict} (measured {when} on {key.cpu}, {key.threads} threads, onnxruntime {key.onnxruntime}; "
        "THREEKCAL_BACKEND_MEASURE=false uses the CPU-flag rule)",
    )


def measured_choice(
    source: ModelSource,
    settings: Settings,
    flag_rule: BackendChoice,
    *,
    measure: Measure | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> BackendChoice:
    """The remembered (or now measured) choice for ``source`` here; ``flag_rule`` where it cannot measure."""
    from threekcal.model._export import META_FILE, ensure_export

    try:
        import onnxruntime
    except ImportError:
        return replace(flag_rule, reason=f"{flag_rule.reason} (not measured: ONNX Runtime is not installed)")
    try:
        directory = ensure_export(source, settings.cache_dir)
        meta = json.loads((directory / META_FILE).read_text())
    except (ModelError, OSError, ValueError) as exc:
        return replace(flag_rule, reason=f"{flag_rule.reason} (not measured: {exc})")
    key = machine_key(meta, effective_threads(settings), onnxruntime.__version__)
    path = directory / MEASUREMENT_FILE
    remembered = read_measurements(path)
    for measurement in remembered:
        if measurement.key == key:
            return decide(measurement, settings)
    logger.info(
        "measuring ONNX int8 against fp32 for %s on %s (once per model and machine)", source.version, key.cpu
    )
    figures = (measure or time_onnx_backends)(source, settings)
    measurement = Measurement(
        key=key,
        int8_per_s=figures[INT8],
        fp32_per_s=figures[FP32],
        agreement=figures[AGREEMENT],
        measured_at=now(),
    )

    # Entries of other machines sharing this cache stay; this machine's older entry, if any, is replaced.
    others = [entry for entry in remembered if entry.key.cpu != key.cpu or entry.key.threads != key.threads]
    write_measurements(path, [*others, measurement])
    return decide(measurement, settings)


def measure_comments(count: int = MEASURE_COMMENTS, seed: int = MEASURE_SEED) -> list[str]:
    """A fixed set of comments of 5 to 40 everyday words (the length range of real ones)."""
    from threekcal.model.testmodel import WORDS

    rng = random.Random(seed)
    endings = (".", "!", "?", "...", " :)", "")
    return [
        " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 40))).capitalize() + rng.choice(endings)
        for _ in range(count)
    ]


def time_onnx_backends(source: ModelSource, settings: Settings) -> dict[str, float]:
    """Comments/s of ONNX int8 and fp32 here (warm up, then alternating rounds within the time budget) and
    the share of the comments on whose top label they agree."""
    from threekcal.model._backend import TextClassifier, backend_class

    texts = measure_comments()
    classifiers = {}
    for name in (INT8, FP32):
        loaded = backend_class(name).load(source, settings)
        classifiers[name] = TextClassifier(loaded, source.version, settings.batch_size)
        classifiers[name].predict(texts[:WARMUP_COMMENTS])
    best = dict.fromkeys(classifiers, float("inf"))
    top_labels: dict[str, list[str]] = {}
    deadline = time.perf_counter() + settings.backend_measure_seconds
    for _ in range(MAX_ROUNDS):  # alternating: a burst of load elsewhere hits both backends alike
        for name, classifier in classifiers.items():
            started = time.perf_counter()
            predictions = classifier.predict(texts)
            best[name] = min(best[name], time.perf_counter() - started)
            top_labels.setdefault(name, [prediction.label for prediction in predictions])
        if time.perf_counter() >= deadline:
            break
    agreed = sum(a == b for a, b in zip(top_labels[INT8], top_labels[FP32], strict=True))
    return {name: len(texts) / seconds for name, seconds in best.items()} | {AGREEMENT: agreed / len(texts)}
