"""Device and backend choice: the rule, explained; fp16 only on CUDA; no GPU is ever required."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from threekcal.cli import app
from threekcal.model import ModelError, choose_backend_for, load_classifier
from threekcal.model._device import choose_backend, cpu_description, resolve_device
from threekcal.model._onnx import providers_for
from threekcal.settings import Settings

AVX2 = frozenset({"avx2", "fma"})
SAPPHIRE_RAPIDS = AVX2 | {"avx512f", "avx512_vnni", "amx_int8"}


def test_auto_picks_int8_where_the_cpu_multiplies_int8_natively() -> None:
    choice = choose_backend("auto", "cpu", flags=SAPPHIRE_RAPIDS)
    assert (choice.backend, choice.device) == ("onnx", "cpu")
    assert "amx_int8" in choice.reason and "avx512_vnni" in choice.reason
    assert choose_backend("auto", "auto", flags=AVX2 | {"avx_vnni"}, cuda=False).backend == "onnx"


def test_auto_picks_fp32_onnx_without_vnni_or_amx() -> None:
    choice = choose_backend("auto", "auto", flags=AVX2, cuda=False)
    assert (choice.backend, choice.device) == ("onnx-fp32", "cpu")
    assert "no VNNI/AMX" in choice.explain()


def test_auto_picks_torch_fp16_on_a_gpu_and_onnx_uses_its_cuda_provider_only_when_installed() -> None:
    assert choose_backend("auto", "auto", flags=AVX2, cuda=True).backend == "torch"
    assert choose_backend("auto", "auto", flags=AVX2, cuda=True).device == "cuda"
    assert choose_backend("onnx", "cuda", cuda=True, onnx_cuda=True).device == "cuda"
    without = choose_backend("onnx", "cuda", cuda=True, onnx_cuda=False)
    assert without.device == "cpu" and "onnxruntime-gpu" in without.reason
    assert (
        providers_for("cuda", ["CUDAExecutionProvider", "CPUExecutionProvider"])[0] == "CUDAExecutionProvider"
    )
    assert providers_for("cuda", ["CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    assert providers_for("cpu", ["CUDAExecutionProvider", "CPUExecutionProvider"]) == ["CPUExecutionProvider"]


def test_device_setting() -> None:
    assert resolve_device("cpu", cuda=True) == "cpu"
    assert resolve_device("auto", cuda=False) == "cpu"
    assert resolve_device("auto", cuda=True) == "cuda"
    with pytest.raises(ModelError, match="no CUDA device is usable here"):
        resolve_device("cuda", cuda=False)
    with pytest.raises(ModelError, match="Unknown device 'tpu'"):
        resolve_device("tpu")


def test_auto_is_the_default_and_an_explicit_backend_wins(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, device="cpu", cache_dir=tmp_path)
    assert settings.backend == "auto"
    assert choose_backend_for("onnx-fp32", settings).backend == "onnx-fp32"
    assert "set by THREEKCAL_BACKEND" in choose_backend_for("torch", settings).reason
    with pytest.raises(ModelError, match="Unknown backend 'tensorflow'"):
        choose_backend_for("tensorflow", settings)


def test_torch_stays_fp32_on_the_cpu(
    tiny_model_dir: Path, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    import torch

    settings = make_settings(tmp_path / "cache", device="cpu")
    classifier = load_classifier(str(tiny_model_dir), "torch", settings=settings)
    backend = classifier.backend  # type: ignore[attr-defined]
    assert backend.device == "cpu"
    assert {parameter.dtype for parameter in backend.model.parameters()} == {torch.float32}
    assert classifier.batch_size == settings.batch_size  # type: ignore[attr-defined]
    assert classifier.choice.device == "cpu"  # type: ignore[attr-defined]


def test_classify_explains_its_backend() -> None:
    result = CliRunner().invoke(app, ["classify", "--explain-backend", "--backend", "onnx-fp32"])
    assert result.exit_code == 0, result.output
    assert "backend onnx-fp32 on" in result.output
    assert cpu_description().split(";")[0] in result.output
