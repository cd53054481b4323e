"""Fixtures of the training-loop tests: a database holding a labelled corpus with a learnable signal,
settings that fine-tune the tiny test model in seconds (one thread, fixed seed), and one trained
candidate per database backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from labelled_corpus import labelled_corpus
from sqlalchemy import insert

from threekcal.db.models import Comment
from threekcal.db.session import engine_for
from threekcal.settings import Settings

CORPUS_SIZE = 1250
TINY_TRAINING = {
    "train_epochs": 8.0,
    "train_learning_rate": 3e-3,
    "train_dropout": 0.0,  # the tiny random model learns nothing through dropout noise in a few steps
    "train_max_length": 32,
    "torch_threads": 1,
    "batch_size": 64,
}


def add_labelled(database_url: str, pairs: list[tuple[str, str]], *, by: str = "tester") -> None:
    """Insert (text, label) comments, labelled by a person."""
    start = datetime(2026, 11, 1, tzinfo=UTC)
    rows = [
        {
            "comments": text,
            "request_user": "corpus",
            "request_time": start + timedelta(minutes=index),
            "receipt": f"corpus-{index}-{text[:8]}-{len(pairs)}",
            "label": label,
            "labeled_by": by,
            "labeled_at": start + timedelta(minutes=index, seconds=30),
        }
        for index, (text, label) in enumerate(pairs)
    ]
    with engine_for(database_url).begin() as connection:
        connection.execute(insert(Comment), rows)


@pytest.fixture
def train_settings(settings: Settings, tiny_model_dir: Path, tmp_path: Path) -> Settings:
    return settings.model_copy(
        update={"model": str(tiny_model_dir), "model_dir": tmp_path / "models", **TINY_TRAINING}
    )


@pytest.fixture
def labelled_db(train_settings: Settings) -> Settings:
    add_labelled(train_settings.database_url, labelled_corpus(CORPUS_SIZE))
    return train_settings
