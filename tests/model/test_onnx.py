"""ONNX backends: agreement with torch, int8 agreement, the export cache, and serving without torch."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from threekcal.emotions import LABELS
from threekcal.model import Classifier, ModelError, _export, _onnx, load_classifier
from threekcal.settings import Settings


def probabilities(classifier: Classifier, texts: list[str]) -> np.ndarray:
    return np.array([[p.scores[label] for label in LABELS] for p in classifier.predict(texts)])


def test_versions_name_the_backend(
    torch_classifier: Classifier, onnx_fp32_classifier: Classifier, onnx_int8_classifier: Classifier
) -> None:
    base = torch_classifier.model_version.removesuffix("+torch")
    assert onnx_fp32_classifier.model_version == base + "+onnx-fp32"
    assert onnx_int8_classifier.model_version == base + "+onnx-int8"


def test_torch_and_onnx_fp32_agree(
    torch_classifier: Classifier, onnx_fp32_classifier: Classifier, varied_texts: list[str]
) -> None:
    texts = [*varied_texts, "the exam " * 400]
    difference = np.abs(probabilities(torch_classifier, texts) - probabilities(onnx_fp32_classifier, texts))
    assert difference.max() < 1e-4


def test_int8_top_label_agreement_with_fp32(
    onnx_fp32_classifier: Classifier,
    onnx_int8_classifier: Classifier,
    varied_texts: list[str],
    record_testsuite_property: Callable[[str, object], None],
) -> None:
    texts = varied_texts
    fp32 = probabilities(onnx_fp32_classifier, texts).argmax(axis=1)
    int8 = probabilities(onnx_int8_classifier, texts).argmax(axis=1)
    agreement = float((fp32 == int8).mean())
    # The JUnit report's suite properties (xunit2 has no per-test properties): CI keeps the figure.
    record_testsuite_property("int8_top_label_agreement", agreement)
    print(f"\nint8 top-label agreement with fp32 on the tiny random model: {agreement:.0%} of {len(texts)}")
    # Random weights make int8 noise matter more than on the real model; far above chance (1/7) still.
    assert agreement >= 0.5


def test_export_is_reused(
    tiny_model_dir: Path,
    model_settings: Settings,
    onnx_int8_classifier: Classifier,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_second_export(*args: object) -> None:
        raise AssertionError("exported again although the cache holds the export")

    monkeypatch.setattr(_export, "export", no_second_export)
    again = load_classifier(str(tiny_model_dir), "onnx", settings=model_settings)
    assert again.model_version == onnx_int8_classifier.model_version


def test_the_export_says_what_it_does_in_two_lines_without_onnxruntime_narrating_each_step(
    tiny_model_dir: Path,
    tmp_path: Path,
    make_settings: Callable[..., Settings],
    caplog: pytest.LogCaptureFixture,
) -> None:
    import onnxruntime

    package = str(Path(onnxruntime.__file__).parent)
    with caplog.at_level(logging.DEBUG):
        load_classifier(str(tiny_model_dir), "onnx", settings=make_settings(tmp_path / "cache"))
    from_onnxruntime = [record for record in caplog.records if record.pathname.startswith(package)]
    assert [record.getMessage() for record in from_onnxruntime] == []  # each fusion, node and tensor
    ours = [record.getMessage() for record in caplog.records if record.name == _export.__name__]
    assert len(ours) == 2
    assert ours[0].startswith("exporting ") and "once per model version" in ours[0]
    assert ours[1].startswith("exported ") and ours[1].endswith(" s")
    root = logging.getLogger()
    assert not root.filters and not any(handler.filters for handler in root.handlers)  # the filter is gone


def test_a_first_export_under_the_cli_prints_nothing_of_onnxruntime(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    """``threekcal classify`` configures no logging: the quantizer's ``logging.warning`` would make a
    handler of its own and print its advice to pre-process."""
    env = {
        **os.environ,
        "THREEKCAL_MODEL": str(tiny_model_dir),
        "THREEKCAL_CACHE_DIR": str(tmp_path / "cache"),
        "THREEKCAL_BACKEND": "onnx",
    }
    completed = subprocess.run(
        [sys.executable, "-m", "threekcal.cli", "classify", "hello there"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )
    assert completed.returncode == 0, completed.stderr
    assert "+onnx-int8" in completed.stdout  # exported just now, and served
    assert "pre-processing" not in completed.stderr and "WARNING" not in completed.stderr


def test_crash_mid_export_leaves_nothing(
    tiny_model_dir: Path,
    tmp_path: Path,
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = make_settings(tmp_path / "cache")
    real_export = _export._export_into

    def crash(source: object, staging: Path) -> None:
        (staging / _export.MODEL_FILES["fp32"]).write_bytes(b"half a model")
        raise KeyboardInterrupt

    monkeypatch.setattr(_export, "_export_into", crash)
    with pytest.raises(KeyboardInterrupt):
        load_classifier(str(tiny_model_dir), "onnx", settings=settings)
    onnx_cache = tmp_path / "cache" / "onnx"
    assert list(onnx_cache.iterdir()) == []

    # A directory left incomplete by something else is replaced by a complete export.
    monkeypatch.setattr(_export, "_export_into", real_export)
    classifier = load_classifier(str(tiny_model_dir), "onnx-fp32", settings=settings)
    (directory,) = onnx_cache.iterdir()
    (directory / _export.MODEL_FILES["int8"]).unlink()
    assert load_classifier(str(tiny_model_dir), "onnx", settings=settings).predict(["hello"])
    assert _export.is_complete(directory)
    assert (
        json.loads((directory / _export.META_FILE).read_text())["model_version"] in classifier.model_version
    )


def test_onnx_serves_without_torch(
    tiny_model_dir: Path, model_settings: Settings, onnx_int8_classifier: Classifier
) -> None:
    script = (
        "import json, sys\n"
        "from threekcal.model import load_classifier\n"
        "from threekcal.settings import Settings\n"
        "settings = Settings(cache_dir=sys.argv[2], _env_file=None)\n"
        "for backend in ('onnx', 'onnx-fp32'):\n"
        "    classifier = load_classifier(sys.argv[1], backend, settings=settings)\n"
        "    prediction = classifier.predict(['hello there'])[0]\n"
        "print(json.dumps({'label': prediction.label, 'modules': sorted(\n"
        "    m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers'))}))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script, str(tiny_model_dir), str(model_settings.cache_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout)
    assert result["modules"] == []
    assert result["label"] == onnx_int8_classifier.predict(["hello there"])[0].label


def test_onnx_refuses_an_export_of_another_model(
    tiny_model_dir: Path, tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(tmp_path / "cache")
    load_classifier(str(tiny_model_dir), "onnx", settings=settings)
    (directory,) = (tmp_path / "cache" / "onnx").iterdir()
    meta = json.loads((directory / _export.META_FILE).read_text())
    (directory / _export.META_FILE).write_text(json.dumps({**meta, "model_version": "other@123"}))
    with pytest.raises(ModelError, match="delete that directory"):
        load_classifier(str(tiny_model_dir), "onnx", settings=settings)


def test_unwritable_cache_is_a_clear_error(
    tiny_model_dir: Path, tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the cache directory should be")
    with pytest.raises(ModelError, match="THREEKCAL_CACHE_DIR"):
        load_classifier(str(tiny_model_dir), "onnx", settings=make_settings(blocker))


def test_the_export_is_fused_and_an_older_format_is_exported_again(
    tiny_model_dir: Path, tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    import onnx

    settings = make_settings(tmp_path / "cache")
    load_classifier(str(tiny_model_dir), "onnx", settings=settings)
    (directory,) = (tmp_path / "cache" / "onnx").iterdir()
    layers = json.loads((tiny_model_dir / "config.json").read_text())["num_hidden_layers"]
    meta = json.loads((directory / _export.META_FILE).read_text())
    assert meta["format"] == _export.EXPORT_FORMAT
    assert meta["fusion"]["fp32"]["Attention"] == layers
    assert "Attention" not in meta["fusion"]["int8"]  # QAttention was slower than quantised projections
    assert meta["fusion"]["int8"]["BiasGelu"] == layers
    for variant in ("fp32", "int8"):
        assert "SkipLayerNormalization" not in meta["fusion"][variant]  # slower than Add + LayerNorm
    int8_ops = {node.op_type for node in onnx.load(str(directory / _export.MODEL_FILES["int8"])).graph.node}
    assert "MatMulInteger" in int8_ops and not {"QAttention", "Attention"} & int8_ops
    assert "LayerNormalization" in int8_ops and "SkipLayerNormalization" not in int8_ops
    assert {path.name for path in directory.iterdir()} == {
        *_export.MODEL_FILES.values(),
        _export.META_FILE,
        _export.TOKENIZER_FILE,
    }  # no intermediate graph left behind

    (directory / _export.META_FILE).write_text(json.dumps({**meta, "format": 3}))  # int8 with QAttention
    assert not _export.is_complete(directory)
    assert load_classifier(str(tiny_model_dir), "onnx", settings=settings).predict(["hello"])
    assert json.loads((directory / _export.META_FILE).read_text())["format"] == _export.EXPORT_FORMAT


@pytest.mark.parametrize("variant", ["fp32", "int8"])
def test_the_runtime_does_not_fuse_skip_layer_norm_back_at_load(
    onnx_int8_classifier: Classifier, model_settings: Settings, tmp_path: Path, variant: str
) -> None:
    import onnx
    import onnxruntime

    (directory,) = (Path(model_settings.cache_dir) / "onnx").iterdir()
    options = _onnx.session_options(model_settings)
    options.optimized_model_filepath = str(tmp_path / "as-loaded.onnx")  # the graph the runtime runs
    onnxruntime.InferenceSession(
        str(directory / _export.MODEL_FILES[variant]),
        options,
        providers=["CPUExecutionProvider"],
        disabled_optimizers=list(_onnx.DISABLED_OPTIMIZERS),
    )
    ops = {node.op_type for node in onnx.load(str(tmp_path / "as-loaded.onnx")).graph.node}
    assert "LayerNormalization" in ops and "SkipLayerNormalization" not in ops
    if variant == "int8":
        assert not {"QAttention", "Attention"} & ops


def test_onnx_threads_do_not_spin_unless_asked(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    key = "session.intra_op.allow_spinning"
    quiet = _onnx.session_options(make_settings(tmp_path, torch_threads=2))
    assert quiet.get_session_config_entry(key) == "0" and quiet.intra_op_num_threads == 2
    spinning = _onnx.session_options(make_settings(tmp_path, onnx_spinning=True))
    assert spinning.get_session_config_entry(key) == "1"
