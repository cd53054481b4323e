"""Loading: local directories, the hub cache layout, model versions, refused label sets and bad paths."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from threekcal.emotions import LABELS
from threekcal.model import Classifier, ModelError, load_classifier, resolve_model
from threekcal.settings import Settings


def _edit_labels(model_dir: Path, id2label: dict[str, str]) -> None:
    config_path = model_dir / "config.json"
    config = json.loads(config_path.read_text())
    config["id2label"] = id2label
    config["label2id"] = {label: int(index) for index, label in id2label.items()}
    config_path.write_text(json.dumps(config))


def test_local_directory_version_is_name_and_content_hash(
    tiny_model_dir: Path, torch_classifier: Classifier, tmp_path: Path
) -> None:
    name, _, rest = torch_classifier.model_version.partition("@")
    content, _, backend = rest.partition("+")
    assert (name, backend) == (tiny_model_dir.name, "torch")
    assert len(content) == 12 and int(content, 16) >= 0

    same_files = Path(shutil.copytree(tiny_model_dir, tmp_path / "elsewhere" / tiny_model_dir.name))
    assert resolve_model(str(same_files)).version == torch_classifier.model_version.removesuffix("+torch")
    with (same_files / "tokenizer_config.json").open("a") as stream:
        stream.write("\n")
    assert resolve_model(str(same_files)).revision[:12] != content


def test_settings_choose_model_and_backend(
    tiny_model_dir: Path, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings(tmp_path / "cache", model=str(tiny_model_dir), backend="torch")
    classifier = load_classifier(settings=settings)
    assert classifier.model_version.startswith(f"{tiny_model_dir.name}@")
    assert classifier.model_version.endswith("+torch")
    assert classifier.batch_size == settings.batch_size  # type: ignore[attr-defined]


def test_hub_id_loads_from_the_hub_cache_offline(
    tiny_model_dir: Path, model_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--someone--emotions"
    shutil.copytree(tiny_model_dir, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    classifier = load_classifier("someone/emotions", "torch", settings=model_settings)
    assert classifier.model_version == "someone/emotions@0123456+torch"
    assert classifier.predict(["hello"])[0].label in LABELS


def test_labels_in_another_order_and_case_are_mapped(
    model_copy: Path, torch_classifier: Classifier, model_settings: Settings, varied_texts: list[str]
) -> None:
    shuffled = ("Surprise", "JOY", "anger", "neutral", "fear", "Sadness", "disgust")
    _edit_labels(model_copy, {str(index): label for index, label in enumerate(shuffled)})
    relabelled = load_classifier(str(model_copy), "torch", settings=model_settings)
    for original, renamed in zip(
        torch_classifier.predict(varied_texts), relabelled.predict(varied_texts), strict=True
    ):
        assert tuple(renamed.scores) == LABELS
        for column, label in enumerate(LABELS):  # the model's output column keeps its probability
            assert renamed.scores[shuffled[column].lower()] == pytest.approx(original.scores[label], abs=1e-6)


@pytest.mark.parametrize(
    "id2label",
    [
        {str(index): f"LABEL_{index}" for index in range(7)},
        {str(index): label for index, label in enumerate(LABELS[:6])},
        {str(index): label for index, label in enumerate((*LABELS[:6], "happiness"))},
        {str(index): label for index, label in enumerate((*LABELS, "love"))},
        {
            "0": "anger",
            "1": "disgust",
            "2": "fear",
            "3": "joy",
            "4": "neutral",
            "5": "sadness",
            "9": "surprise",
        },
    ],
    ids=["generic", "six", "renamed", "eight", "gap"],
)
def test_other_label_sets_are_refused(
    model_copy: Path, model_settings: Settings, id2label: dict[str, str]
) -> None:
    _edit_labels(model_copy, id2label)
    with pytest.raises(ModelError, match="needs exactly the seven emotions anger, disgust, fear") as error:
        load_classifier(str(model_copy), "onnx", settings=model_settings)
    assert "THREEKCAL_MODEL" in str(error.value)


def test_bad_directories_are_refused(model_copy: Path, model_settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match=r"has no config\.json"):
        load_classifier(str(tmp_path / "empty"), "torch", settings=model_settings)
    (model_copy / "model.safetensors").unlink()
    with pytest.raises(ModelError, match="has no weights"):
        load_classifier(str(model_copy), "torch", settings=model_settings)
    (model_copy / "config.json").write_text("{not json")
    with pytest.raises(ModelError, match="cannot read"):
        load_classifier(str(model_copy), "torch", settings=model_settings)
    for missing in (str(tmp_path / "missing"), "./missing", "not a model id!"):
        with pytest.raises(
            ModelError, match="neither an existing model directory nor a Hugging Face model id"
        ):
            load_classifier(missing, "torch", settings=model_settings)


def test_unknown_backend_is_refused(tiny_model_dir: Path, model_settings: Settings) -> None:
    with pytest.raises(ModelError, match=r"Unknown backend 'tensorflow'.*torch, onnx, onnx-fp32"):
        load_classifier(str(tiny_model_dir), "tensorflow", settings=model_settings)
