"""Backends and the classifier that drives them.

A backend turns padded token ids into logits; everything else (tokenising, truncating, sorting by length,
dynamic padding, batching, softmax, label order, putting results back in input order) is shared here, so
every backend sees exactly the same inputs. Backends are registered by name like httpx transports and
imported only when chosen, so the ONNX backend never pulls in torch.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from threekcal.emotions import LABELS
from threekcal.model._types import ModelError, Prediction, ProgressCallback

if TYPE_CHECKING:
    from tokenizers import Tokenizer

    from threekcal.model._device import BackendChoice
    from threekcal.model._source import ModelSource
    from threekcal.settings import Settings

BACKENDS: dict[str, str] = {
    "torch": "threekcal.model._torch:TorchBackend",
    "onnx": "threekcal.model._onnx:OnnxInt8Backend",
    "onnx-fp32": "threekcal.model._onnx:OnnxFp32Backend",
}
"""Backend name (THREEKCAL_BACKEND) -> ``module:class``; add an entry to plug in another backend."""

SORT_WINDOW_BATCHES = 64
"""Texts are sorted by length within windows of this many batches: long inputs stream, padding stays low."""


class Backend(ABC):
    """Runs one model on token ids. Subclasses set ``tokenizer``, ``pad_id`` and ``labels``."""

    name: ClassVar[str]
    """Suffix of ``model_version``, e.g. ``torch`` or ``onnx-int8``."""

    tokenizer: Tokenizer
    """Truncates to the model's maximum length and adds special tokens; pads nothing."""
    pad_id: int
    labels: tuple[str, ...]
    """Normalised label of each logit column."""

    @classmethod
    @abstractmethod
    def load(cls, source: ModelSource, settings: Settings) -> Backend: ...

    @abstractmethod
    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        """``(batch, seq)`` int64 arrays -> ``(batch, labels)`` float logits."""


def backend_class(name: str) -> type[Backend]:
    try:
        module_name, _, class_name = BACKENDS[name].partition(":")
    except KeyError:
        raise ModelError(
            f"Unknown backend {name!r} (THREEKCAL_BACKEND); choose auto, {', '.join(BACKENDS)}."
        ) from None
    return getattr(importlib.import_module(module_name), class_name)


def check_texts(texts: Sequence[str]) -> None:
    if isinstance(texts, str):
        raise TypeError("predict() takes a sequence of texts, not a single string")
    for position, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"text #{position} is {type(text).__name__}, not str")
        if not text.strip():
            raise ValueError(f"text #{position} is empty; there is nothing to classify")


class TextClassifier:
    """The ``Classifier`` every part of ThreeKcal uses, whatever the backend."""

    def __init__(
        self, backend: Backend, model_version: str, batch_size: int, *, choice: BackendChoice | None = None
    ) -> None:
        if sorted(backend.labels) != sorted(LABELS):  # pragma: no cover - read_labels refuses this first
            raise ModelError(f"backend labels {backend.labels} are not {LABELS}")
        self.backend = backend
        self.model_version = model_version
        self.batch_size = batch_size
        self.choice = choice  # how the backend and device were chosen (``classify --explain-backend``)
        # Indexing the model's output with these columns puts it in LABELS order.
        self._columns = np.array([backend.labels.index(label) for label in LABELS])

    def __repr__(self) -> str:
        return f"<TextClassifier {self.model_version} batch_size={self.batch_size}>"

    def predict(self, texts: Sequence[str], *, progress: ProgressCallback | None = None) -> list[Prediction]:
        check_texts(texts)
        total = len(texts)
        probabilities = np.empty((total, len(LABELS)), dtype=np.float64)
        window = self.batch_size * SORT_WINDOW_BATCHES
        done = 0
        for start in range(0, total, window):
            encodings = self.backend.tokenizer.encode_batch(list(texts[start : start + window]))
            # Longest first: similar lengths share a batch, so padding is minimal.
            order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids), reverse=True)
            for offset in range(0, len(order), self.batch_size):
                batch = order[offset : offset + self.batch_size]
                input_ids, attention_mask = self._pad([encodings[i].ids for i in batch])
                logits = np.asarray(self.backend.logits(input_ids, attention_mask), dtype=np.float64)
                probabilities[[start + i for i in batch]] = _softmax(logits)[:, self._columns]
                done += len(batch)
                if progress is not None:
                    progress(done, total)
        return [_prediction(row) for row in probabilities]

    def _pad(self, sequences: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        width = max(len(ids) for ids in sequences)
        input_ids = np.full((len(sequences), width), self.backend.pad_id, dtype=np.int64)
        attention_mask = np.zeros((len(sequences), width), dtype=np.int64)
        for row, ids in enumerate(sequences):
            input_ids[row, : len(ids)] = ids
            attention_mask[row, : len(ids)] = 1
        return input_ids, attention_mask


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _prediction(row: np.ndarray) -> Prediction:
    best = int(row.argmax())
    scores = {label: float(probability) for label, probability in zip(LABELS, row, strict=True)}
    return Prediction(label=LABELS[best], score=scores[LABELS[best]], scores=scores)


def configure_tokenizer(tokenizer: Tokenizer, max_length: int) -> Tokenizer:
    """Truncate to ``max_length`` tokens (special tokens included) and never pad: batches pad themselves."""
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_length)
    return tokenizer
