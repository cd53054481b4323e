"""Inference on Spark: the predict and backfill steps score comments on the executors.

``SparkClassifier`` is a classifier for ``predict.write_log``: each chunk of comments becomes a
DataFrame, ``mapInPandas`` scores its partitions on the executors, and the driver writes, registers
and publishes the log exactly as the local engine does, so the crash and re-run guarantees are the
same (the log is the only output; nothing reaches ``comments`` before ``apply``).

Executors: the ``threekcal`` package travels with the job (a zip of the installed package, added with
``addPyFile``); their Python (``PYSPARK_PYTHON``) needs ThreeKcal's dependencies (numpy, pandas,
pyarrow, tokenizers, onnxruntime; torch for the torch backend) and the model directory and
THREEKCAL_CACHE_DIR at the same paths as the driver (shared storage). Each executor Python process
loads the model once (``_executor_classifier``) and keeps it for every later task (Spark reuses its
Python workers).
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from threekcal.settings import Settings

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import SparkSession

    from threekcal.model import Classifier

DEFAULT_SPARK_CHUNK = 4_096  # comments per Spark job: enough to keep every executor core busy
SCORED_SCHEMA = "position long, label string, score double, scores string, model_version string"
ARCHIVE_DIR = "spark-packages"


@dataclass(frozen=True)
class ModelSpec:
    """What an executor needs to load the same classifier as the driver would."""

    model: str
    backend: str  # concrete: auto is resolved on the driver
    device: str
    batch_size: int
    threads: int
    cache_dir: str

    def settings(self) -> Settings:
        return Settings(
            _env_file=None,
            env="development",
            model=self.model,
            backend=self.backend,  # type: ignore[arg-type]
            device=self.device,  # type: ignore[arg-type]
            batch_size=self.batch_size,
            gpu_batch_size=self.batch_size,
            torch_threads=self.threads,
            cache_dir=Path(self.cache_dir),
        )


@dataclass(frozen=True)
class ScoredText:
    label: str
    score: float
    scores: dict[str, float]


@lru_cache(maxsize=2)
def _executor_classifier(spec: ModelSpec) -> Classifier:
    """Loaded once per executor Python process (and per spec), then reused by every task it runs."""
    from threekcal.model import load_classifier

    return load_classifier(spec.model, spec.backend, settings=spec.settings())


def score_partitions(spec: ModelSpec) -> Any:
    """The ``mapInPandas`` function: (position, text) batches -> scored rows (runs on the executors)."""

    def score(frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        import pandas as pd

        classifier = _executor_classifier(spec)
        for frame in frames:
            if frame.empty:
                continue
            predictions = classifier.predict(frame["text"].tolist())
            yield pd.DataFrame(
                {
                    "position": frame["position"].to_numpy(),
                    "label": [prediction.label for prediction in predictions],
                    "score": [prediction.score for prediction in predictions],
                    "scores": [json.dumps(prediction.scores) for prediction in predictions],
                    "model_version": classifier.model_version,
                }
            )

    return score


def package_archive(cache_dir: Path) -> Path:
    """A zip of the installed ``threekcal`` package for ``addPyFile``, named by its content's hash."""
    import threekcal

    root = Path(threekcal.__file__).parent
    files = sorted(path for path in root.rglob("*") if path.is_file() and "__pycache__" not in path.parts)
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    target = Path(cache_dir) / ARCHIVE_DIR / f"threekcal-{digest.hexdigest()[:16]}.zip"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in files:
                archive.write(path, Path("threekcal") / path.relative_to(root))
        partial.replace(target)
    return target


class SparkClassifier:
    """Scores texts on the Spark executors; the same interface as ``threekcal.model.Classifier``."""

    def __init__(self, spark: SparkSession, spec: ModelSpec, model_version: str) -> None:
        self.spark = spark
        self.spec = spec
        self.model_version = model_version

    def predict(self, texts: Sequence[str], **_: Any) -> list[ScoredText]:
        if not texts:
            return []
        partitions = max(1, min(len(texts), self.spark.sparkContext.defaultParallelism))
        frame = self.spark.createDataFrame(list(enumerate(texts)), "position long, text string").repartition(
            partitions
        )
        rows = frame.mapInPandas(score_partitions(self.spec), schema=SCORED_SCHEMA).collect()
        if len(rows) != len(texts):
            raise RuntimeError(f"the executors returned {len(rows)} predictions for {len(texts)} texts")
        versions = {row.model_version for row in rows}
        if versions != {self.model_version}:
            raise RuntimeError(
                f"the executors ran model {sorted(versions)}, the driver expected {self.model_version}: "
                "give every host the same model files"
            )
        ordered = sorted(rows, key=lambda row: row.position)
        return [ScoredText(row.label, row.score, json.loads(row.scores)) for row in ordered]


def spark_classifier(
    settings: Settings,
    model: str | None = None,
    backend: str | None = None,
    master: str | None = None,
    *,
    spark: SparkSession | None = None,
) -> SparkClassifier:
    """Resolve the model on the driver (version, backend, ONNX export), ship the package, connect.

    Without ``model`` it is the registry's active version (read from the database now), like the worker.
    """
    from threekcal.model import backend_class, choose_backend_for, export_onnx, resolve_model
    from threekcal.pipeline.active_model import active_version, record_tag
    from threekcal.pipeline.sparksession import spark_for

    active = None if model else active_version(settings)
    model_id = model if active is None else active.source  # executors resolve the same id
    source = resolve_model(model_id)
    source.labels()  # a wrong label set fails here, not on every executor
    # auto: measured (or remembered) on the driver for this model; the executors run what it chose.
    choice = choose_backend_for(backend, settings, source=source)
    if choice.backend.startswith("onnx"):
        export_onnx(model_id, settings=settings)  # once, before the executors need it
    spec = ModelSpec(
        model=str(Path(model_id).resolve()) if Path(model_id).is_dir() else model_id,
        backend=choice.backend,
        device=choice.device,
        batch_size=settings.gpu_batch_size if choice.device == "cuda" else settings.batch_size,
        threads=settings.spark_task_threads,
        cache_dir=str(Path(settings.cache_dir).resolve()),
    )
    session = spark or spark_for(settings, master, app_name="threekcal")
    session.sparkContext.addPyFile(str(package_archive(settings.cache_dir)))
    version = f"{source.version}+{backend_class(choice.backend).name}"
    if active is not None:
        record_tag(settings, active.version_id, version)
    return SparkClassifier(session, spec, version)


def describe(classifier: SparkClassifier) -> dict[str, Any]:
    """For the batch's details: how the executors ran the model."""
    return {"engine": "spark", "model_spec": asdict(classifier.spec)}
