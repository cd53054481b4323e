"""The emotion classifier, called the same way by the API, the worker, Airflow and Spark.

    from threekcal.model import load_classifier
    classifier = load_classifier()          # THREEKCAL_MODEL / THREEKCAL_BACKEND
    classifier.predict(["what a day!"])     # [Prediction(label='joy', score=..., scores={...})]
    classifier.model_version                # 'michellejieli/emotion_text_classifier@abc1234+torch'

Backends (THREEKCAL_BACKEND): ``auto`` (the default: on a CPU the faster ONNX graph as measured once per
model and machine, see ``_measure``, or the CPU-flag rule of ``choose_backend`` where it cannot measure;
torch fp16 on a GPU), ``torch`` (transformers in inference mode; fp16 on a GPU), ``onnx`` (ONNX Runtime,
int8 weights; exported once into THREEKCAL_CACHE_DIR) and ``onnx-fp32``. THREEKCAL_DEVICE=auto|cpu|cuda
picks the device. All of them sort texts by length, pad per batch and truncate to the model's maximum
length; results come back in input order.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from threekcal.model._backend import BACKENDS, Backend, TextClassifier, backend_class
from threekcal.model._device import BackendChoice, choose_backend, cpu_description
from threekcal.model._source import ModelSource, resolve_model
from threekcal.model._types import Classifier, ModelError, Prediction, ProgressCallback

if TYPE_CHECKING:
    from threekcal.model._measure import Measure
    from threekcal.settings import Settings

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendChoice",
    "Classifier",
    "ModelError",
    "ModelSource",
    "Prediction",
    "ProgressCallback",
    "backend_class",
    "choose_backend_for",
    "cpu_description",
    "export_onnx",
    "load_classifier",
    "resolve_model",
]


def load_classifier(
    model: str | None = None,
    backend: str | None = None,
    *,
    settings: Settings | None = None,
    measure: Measure | None = None,
) -> Classifier:
    """Load ``model`` (hub id or directory; THREEKCAL_MODEL) on ``backend`` (THREEKCAL_BACKEND).

    Raises ``ModelError`` with a message for the user when the model is missing (offline and not cached),
    is not a 7-emotion classifier, or the backend is unknown. ``measure`` replaces the timing of ONNX int8
    against fp32 that ``auto`` runs once per model and machine (see ``threekcal.model._measure``).
    """
    settings = settings or _default_settings()
    if (backend or settings.backend) != "auto":
        backend_class(backend or settings.backend)  # an unknown name fails first, with the list of names
    source = resolve_model(model or settings.model)
    source.labels()  # refuse a wrong label set before the slow part
    choice = choose_backend_for(backend, settings, source=source, measure=measure)
    backend_type = backend_class(choice.backend)
    loaded = backend_type.load(source, settings.model_copy(update={"device": choice.device}))
    batch_size = settings.gpu_batch_size if choice.device == "cuda" else settings.batch_size
    return TextClassifier(loaded, f"{source.version}+{loaded.name}", batch_size, choice=choice)


def choose_backend_for(
    backend: str | None = None,
    settings: Settings | None = None,
    *,
    model: str | None = None,
    source: ModelSource | None = None,
    measure: Measure | None = None,
) -> BackendChoice:
    """What ``load_classifier`` would run on here, and why (``backend`` overrides THREEKCAL_BACKEND).

    ``auto`` on a CPU uses the remembered measurement of ONNX int8 against fp32 for the model (``source``,
    else ``model``, else THREEKCAL_MODEL), measuring first if there is none for this machine; with
    THREEKCAL_BACKEND_MEASURE=false, or where it cannot measure, the CPU-flag rule of ``choose_backend``.
    """
    settings = settings or _default_settings()
    name = backend or settings.backend
    if name != "auto":
        backend_class(name)  # an unknown name fails here, with the list of names
    flag_rule = choose_backend(name, settings.device)
    if name != "auto" or flag_rule.device != "cpu" or not settings.backend_measure:
        return flag_rule
    from threekcal.model._measure import measured_choice

    try:
        source = source or resolve_model(model or settings.model)
        source.labels()
    except ModelError as exc:
        return replace(flag_rule, reason=f"{flag_rule.reason} (not measured: {exc})")
    return measured_choice(source, settings, flag_rule, measure=measure)


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
