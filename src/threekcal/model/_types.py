"""The public value types of the model part: what a prediction looks like and how failures are reported."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

ProgressCallback = Callable[[int, int], None]
"""Called as ``progress(done, total)`` after each batch of texts."""


class ModelError(RuntimeError):
    """The model cannot be used; the message tells the user what to change."""


@dataclass(frozen=True)
class Prediction:
    label: str
    """One of ``threekcal.emotions.LABELS``."""
    score: float
    """Probability of ``label``."""
    scores: dict[str, float]
    """All seven labels -> probability, keys in ``LABELS`` order."""


@runtime_checkable
class Classifier(Protocol):
    model_version: str
    """Stable for the same model files and backend, e.g. ``org/name@abc1234+onnx-int8``."""

    def predict(self, texts: Sequence[str], *, progress: ProgressCallback | None = None) -> list[Prediction]:
        """One prediction per text, in input order; empty texts raise ``ValueError``."""
        ...
