"""Fixtures of the training-loop tests: a database holding a labelled corpus with a learnable signal,
and settings that fine-tune the tiny test model in seconds (one thread, fixed seed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from labelled_corpus import CORPUS_SIZE, TINY_TRAINING, add_labelled, labelled_corpus

from threekcal.settings import Settings


@pytest.fixture
def train_settings(settings: Settings, tiny_model_dir: Path, tmp_path: Path) -> Settings:
    return settings.model_copy(
        update={"model": str(tiny_model_dir), "model_dir": tmp_path / "models", **TINY_TRAINING}
    )


@pytest.fixture
def labelled_db(train_settings: Settings) -> Settings:
    add_labelled(train_settings.database_url, labelled_corpus(CORPUS_SIZE))
    return train_settings
