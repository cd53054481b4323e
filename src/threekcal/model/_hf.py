"""Loading with transformers (imports torch): the torch backend and the ONNX export share this."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from threekcal.model._backend import configure_tokenizer

if TYPE_CHECKING:
    from tokenizers import Tokenizer

UNBOUNDED_MODEL_MAX_LENGTH = 1_000_000
"""transformers' stand-in for "no limit" is a huge number; anything above this means unset."""


@contextmanager
def quiet_progress() -> Iterator[None]:
    """No transformers progress bars (weights loading from local disk, saving) for the duration."""
    from transformers.utils import logging as transformers_logging

    enabled = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()
    try:
        yield
    finally:
        if enabled:
            transformers_logging.enable_progress_bar()


def load_model(path: Path, **kwargs: Any) -> Any:
    """The model from a local directory (hub models are downloaded into the cache beforehand)."""
    import torch
    from transformers import AutoModelForSequenceClassification

    with quiet_progress():
        model = AutoModelForSequenceClassification.from_pretrained(path, dtype=torch.float32, **kwargs)
    return model.eval()


def load_tokenizer(path: Path, config: Any) -> tuple[Tokenizer, int]:
    """The model's fast tokenizer, truncating to the model's maximum length, and its padding id."""
    from transformers import AutoTokenizer

    hf_tokenizer = AutoTokenizer.from_pretrained(path)
    tokenizer = hf_tokenizer.backend_tokenizer
    if tokenizer is None:  # pragma: no cover - every model ThreeKcal accepts has a fast tokenizer
        raise ValueError(f"{path} has no fast (tokenizers) tokenizer")
    pad_id = config.pad_token_id if config.pad_token_id is not None else hf_tokenizer.pad_token_id
    return configure_tokenizer(tokenizer, max_length(config, hf_tokenizer.model_max_length)), int(pad_id)


def max_length(config: Any, tokenizer_max_length: int | None) -> int:
    """Longest input in tokens: the tokenizer's limit when it states one, else the position table's size.

    RoBERTa-style models number positions from ``pad_token_id + 1``, so 514 positions hold 512 tokens.
    """
    positions = int(config.max_position_embeddings)
    if "roberta" in str(getattr(config, "model_type", "")):
        positions -= int(config.pad_token_id) + 1
    if tokenizer_max_length and tokenizer_max_length < UNBOUNDED_MODEL_MAX_LENGTH:
        return min(int(tokenizer_max_length), positions)
    return positions
