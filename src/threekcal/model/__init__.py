"""The emotion classifier, called the same way by the API, the worker, Airflow and Spark.

    from threekcal.model import load_classifier
    classifier = load_classifier()          # THREEKCAL_MODEL / THREEKCAL_BACKEND
    classifier.predict(["what a day!"])     # [Prediction(label='joy', score=..., scores={...})]
    classifier.model_version                # 'michellejieli/emotion_text_classifier@abc1234+torch'

Backends (THREEKCAL_BACKEND): ``torch`` (transformers in inference mode), ``onnx`` (ONNX Runtime, int8
weights; exported once into THREEKCAL_CACHE_DIR) and ``onnx-fp32``. All of them sort texts by length, pad
per batch and truncate to the model's maximum length; results come back in input order.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from threekcal.model._backend import BACKENDS, Backend, TextClassifier, backend_class
from threekcal.model._source import ModelSource, resolve_model
from threekcal.model._types import Classifier, ModelError, Prediction, ProgressCallback

if TYPE_CHECKING:
    from threekcal.settings import Settings

__all__ = [
    "BACKENDS",
    "Backend",
    "Classifier",
    "ModelError",
    "ModelSource",
    "Prediction",
    "ProgressCallback",
    "export_onnx",
    "load_classifier",
    "resolve_model",
]


def load_classifier(
    model: str | None = None, backend: str | None = None, *, settings: Settings | None = None
) -> Classifier:
    """Load ``model`` (hub id or directory; THREEKCAL_MODEL) on ``backend`` (THREEKCAL_BACKEND).

    Raises ``ModelError`` with a message for the user when the model is missing (offline and not cached),
    is not a 7-emotion classifier, or the backend is unknown.
    """
    settings = settings or _default_settings()
    backend_type = backend_class(backend or settings.backend)
    source = resolve_model(model or settings.model)
    source.labels()  # refuse a wrong label set before the slow part
    loaded = backend_type.load(source, settings)
    return TextClassifier(loaded, f"{source.version}+{loaded.name}", settings.batch_size)


def export_onnx(model: str | None = None, *, settings: Settings | None = None) -> tuple[str, Path]:
    """Build the ONNX export of ``model`` into the cache now (not on first use): ``(version, directory)``."""
    from threekcal.model._export import ensure_export

    settings = settings or _default_settings()
    source = resolve_model(model or settings.model)
    source.labels()
    return source.version, ensure_export(source, settings.cache_dir)


def _default_settings() -> Settings:
    from threekcal.settings import get_settings

    return get_settings()
