"""``threekcal classify`` and ``threekcal model ...`` through Typer's test runner."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from threekcal.cli import app
from threekcal.emotions import EMOJI, LABELS
from threekcal.model import Classifier
from threekcal.settings import Settings, get_settings

runner = CliRunner()


@pytest.fixture(autouse=True)
def cli_env(
    tiny_model_dir: Path, model_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    monkeypatch.setenv("THREEKCAL_MODEL", str(tiny_model_dir))
    monkeypatch.setenv("THREEKCAL_CACHE_DIR", str(model_settings.cache_dir))
    monkeypatch.setenv("THREEKCAL_BATCH_SIZE", "4")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_classify_prints_label_emoji_score_and_all_probabilities(torch_classifier: Classifier) -> None:
    result = runner.invoke(app, ["classify", "What a lovely day!", "--backend", "torch"])
    assert result.exit_code == 0, result.output
    expected = torch_classifier.predict(["What a lovely day!"])[0]
    assert f"{EMOJI[expected.label]} {expected.label}" in result.output
    assert f"{expected.score:.3f}" in result.output
    for label in LABELS:
        assert f"{label} {expected.scores[label]:.3f}" in result.output
    assert torch_classifier.model_version in result.output


def test_classify_json_lines_from_stdin(onnx_int8_classifier: Classifier) -> None:
    texts = ["first line", "the second one is longer than the first", "third!"]
    result = runner.invoke(app, ["classify", "--json", "--backend", "onnx"], input="\n".join(texts) + "\n\n")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    expected = onnx_int8_classifier.predict(texts)
    assert [record["text"] for record in records] == texts
    assert [record["label"] for record in records] == [prediction.label for prediction in expected]
    assert [list(record["scores"]) for record in records] == [list(LABELS)] * 3
    assert records[0]["emoji"] == EMOJI[records[0]["label"]]
    assert {record["model_version"] for record in records} == {onnx_int8_classifier.model_version}


def test_dash_reads_stdin() -> None:
    result = runner.invoke(app, ["classify", "-", "--json"], input="hello\n")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["text"] == "hello"


@pytest.mark.parametrize(("arguments", "stdin"), [(["classify", "ok", "  "], None), (["classify"], "\n \n")])
def test_empty_input_is_refused(arguments: list[str], stdin: str | None) -> None:
    result = runner.invoke(app, arguments, input=stdin)
    assert result.exit_code == 2
    assert "empty" in result.output
    assert "anger" not in result.output


def test_model_errors_are_one_clear_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["classify", "hello", "--model", str(tmp_path)])
    assert result.exit_code == 1
    assert "error:" in result.output and "has no config.json" in result.output
    assert "Traceback" not in result.output


def test_model_export_fills_the_cache(model_settings: Settings, onnx_int8_classifier: Classifier) -> None:
    result = runner.invoke(app, ["model", "export"])
    assert result.exit_code == 0, result.output
    version = onnx_int8_classifier.model_version.removesuffix("+onnx-int8")
    assert version in result.output
    assert (model_settings.cache_dir / "onnx" / version).is_dir()


def test_build_test_refuses_unknown_size(tmp_path: Path) -> None:
    result = runner.invoke(app, ["model", "build-test", str(tmp_path / "m"), "--size", "huge"])
    assert result.exit_code == 2
    assert not (tmp_path / "m").exists()
