"""The offline test model: DistilRoBERTa's layout, the seven labels, varied outputs, reproducible files."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from threekcal.emotions import LABELS
from threekcal.model import Classifier, _source
from threekcal.model.testmodel import SIZES, build_test_model, corpus

DISTILROBERTA_BASE = {
    "vocab_size": 50265,
    "hidden_size": 768,
    "num_hidden_layers": 6,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "max_position_embeddings": 514,
    "type_vocab_size": 1,
    "pad_token_id": 1,
}


def test_tiny_model_files_and_config(tiny_model_dir: Path) -> None:
    config = json.loads((tiny_model_dir / "config.json").read_text())
    assert config["model_type"] == "roberta"
    assert config["architectures"] == ["RobertaForSequenceClassification"]
    assert [config["id2label"][str(index)] for index in range(7)] == list(LABELS)
    assert config["max_position_embeddings"] == 514 and config["type_vocab_size"] == 1
    assert "predictions mean nothing" in (tiny_model_dir / "README.md").read_text()
    assert (tiny_model_dir / "model.safetensors").stat().st_mode & 0o044 == 0o044  # readable by others


def test_full_size_matches_distilroberta_base() -> None:
    full = {**SIZES["full"], "max_position_embeddings": 514, "type_vocab_size": 1, "pad_token_id": 1}
    assert full == DISTILROBERTA_BASE


def test_labels_vary_across_texts(torch_classifier: Classifier) -> None:
    counts = Counter(prediction.label for prediction in torch_classifier.predict(corpus(200, seed=42)))
    assert len(counts) >= 5, counts
    assert max(counts.values()) < 0.6 * 200, counts


def test_build_is_reproducible(tiny_model_dir: Path, tmp_path: Path) -> None:
    rebuilt = build_test_model(tmp_path / "again", size="tiny", seed=0)
    assert _source.content_hash(rebuilt) == _source.content_hash(tiny_model_dir)


def test_build_does_not_depend_on_the_thread_count(tiny_model_dir: Path, tmp_path: Path) -> None:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1 if threads > 1 else 2)
    try:
        rebuilt = build_test_model(tmp_path / "other-threads", size="tiny", seed=0)
    finally:
        torch.set_num_threads(threads)
    assert torch.get_num_threads() == threads
    assert _source.content_hash(rebuilt) == _source.content_hash(tiny_model_dir)


def test_unknown_size_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="size must be one of"):
        build_test_model(tmp_path / "m", size="huge")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []
