"""Fixtures of the model tests: settings with a private ONNX cache and classifiers on the tiny test model."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from threekcal.model import Classifier, load_classifier
from threekcal.settings import Settings

SMALL_BATCH = 4  # several batches even for a handful of texts


@pytest.fixture(scope="session")
def make_settings() -> Callable[..., Settings]:
    def make(cache_dir: Path, **overrides: object) -> Settings:
        values: dict[str, object] = {"cache_dir": cache_dir, "batch_size": SMALL_BATCH, "torch_threads": 1}
        return Settings(**{**values, **overrides}, _env_file=None)

    return make


@pytest.fixture(scope="session")
def model_settings(
    tmp_path_factory: pytest.TempPathFactory, make_settings: Callable[..., Settings]
) -> Settings:
    """Shared by the session's classifiers, so the tiny model is exported to ONNX once."""
    return make_settings(tmp_path_factory.mktemp("model-cache"))


@pytest.fixture(scope="session")
def torch_classifier(tiny_model_dir: Path, model_settings: Settings) -> Classifier:
    return load_classifier(str(tiny_model_dir), "torch", settings=model_settings)


@pytest.fixture(scope="session")
def onnx_fp32_classifier(tiny_model_dir: Path, model_settings: Settings) -> Classifier:
    return load_classifier(str(tiny_model_dir), "onnx-fp32", settings=model_settings)


@pytest.fixture(scope="session")
def onnx_int8_classifier(tiny_model_dir: Path, model_settings: Settings) -> Classifier:
    return load_classifier(str(tiny_model_dir), "onnx", settings=model_settings)


@pytest.fixture
def model_copy(tiny_model_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny model that a test may edit."""
    return Path(shutil.copytree(tiny_model_dir, tmp_path / "tiny"))


@pytest.fixture(scope="session")
def varied_texts() -> list[str]:
    """Texts of very different lengths, in no particular order."""
    sentence = "wow the exam was great but my boss is angry and the rain never stops so I feel tired"
    words = sentence.split()
    return [
        " ".join(words[(index * 7) % len(words) :] + words[: (index * 3) % 11 + 1]) * (1 + index % 4)
        for index in range(23)
    ] + ["ok", "What?!", "I love this song so much 😀", "Ugh. " * 40]
