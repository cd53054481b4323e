"""Device and backend choice: the flag rule, the measured choice of auto, explained; fp16 only on CUDA."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from threekcal.cli import app
from threekcal.model import ModelError, _measure, choose_backend_for, load_classifier
from threekcal.model._device import choose_backend, cpu_description, resolve_device
from threekcal.model._onnx import providers_for
from threekcal.settings import Settings, get_settings

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


# ---------------------------------------------------------------- auto: measured once per model and machine
class FakeMeasure:
    """Stands in for timing ONNX int8 against fp32: fixed figures, and a count of the calls."""

    def __init__(self, int8: float, fp32: float, agreement: float = 1.0) -> None:
        self.figures = {"onnx": int8, "onnx-fp32": fp32, "agreement": agreement}
        self.calls = 0

    def __call__(self, source: object, settings: Settings) -> dict[str, float]:
        self.calls += 1
        return dict(self.figures)


def must_not_measure(source: object, settings: Settings) -> dict[str, float]:
    raise AssertionError("measured again although a measurement for this machine is remembered")


@pytest.fixture
def auto_settings(make_settings: Callable[..., Settings], tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "cache", device="cpu", backend="auto")


def measurement_file(settings: Settings) -> Path:
    (directory,) = (Path(settings.cache_dir) / "onnx").iterdir()
    return directory / _measure.MEASUREMENT_FILE


def test_auto_measures_once_then_reuses_the_remembered_figures(
    tiny_model_dir: Path, auto_settings: Settings
) -> None:
    measure = FakeMeasure(int8=300.0, fp32=100.0)
    first = choose_backend_for(settings=auto_settings, model=str(tiny_model_dir), measure=measure)
    assert (first.backend, first.device, measure.calls) == ("onnx", "cpu", 1)
    assert "ONNX int8 300.0 comments/s, ONNX fp32 100.0 comments/s" in first.reason
    assert "3.00x" in first.reason and cpu_description() in first.reason
    remembered = json.loads(measurement_file(auto_settings).read_text())
    assert remembered["measurements"][0]["int8_per_s"] == 300.0
    assert remembered["measurements"][0]["fp32_per_s"] == 100.0

    again = choose_backend_for(settings=auto_settings, model=str(tiny_model_dir), measure=must_not_measure)
    assert again == first
    # The worker, Airflow and Spark load through load_classifier: the same remembered choice.
    classifier = load_classifier(str(tiny_model_dir), settings=auto_settings, measure=must_not_measure)
    assert classifier.model_version.endswith("+onnx-int8")
    assert classifier.choice == first  # type: ignore[attr-defined]


def test_int8_must_be_clearly_faster_and_the_threshold_applies_to_remembered_figures(
    tiny_model_dir: Path, auto_settings: Settings
) -> None:
    close = choose_backend_for(
        settings=auto_settings, model=str(tiny_model_dir), measure=FakeMeasure(int8=110.0, fp32=100.0)
    )
    assert close.backend == "onnx-fp32"
    assert "only 1.10x" in close.reason and "1.15x" in close.reason
    lenient = auto_settings.model_copy(update={"backend_int8_min_speedup": 1.05})
    assert choose_backend_for(
        settings=lenient, model=str(tiny_model_dir), measure=must_not_measure
    ).backend == ("onnx")


@pytest.mark.parametrize(
    "content",
    [
        "{half a file",
        "[1, 2, 3]",
        '{"format": 99, "measurements": []}',
        '{"format": 1, "measurements": [{}]}',
    ],
    ids=["corrupt", "not-an-object", "foreign-format", "wrong-entries"],
)
def test_a_corrupt_or_foreign_measurement_file_is_measured_again_with_a_warning(
    tiny_model_dir: Path, auto_settings: Settings, content: str, caplog: pytest.LogCaptureFixture
) -> None:
    choose_backend_for(settings=auto_settings, model=str(tiny_model_dir), measure=FakeMeasure(300.0, 100.0))
    measurement_file(auto_settings).write_text(content)
    measure = FakeMeasure(int8=100.0, fp32=100.0)
    with caplog.at_level(logging.WARNING, logger=_measure.__name__):
        choice = choose_backend_for(settings=auto_settings, model=str(tiny_model_dir), measure=measure)
    assert (choice.backend, measure.calls) == ("onnx-fp32", 1)
    assert "measuring the backends again" in caplog.text
    # The file is whole again: the next call reuses it.
    assert (
        choose_backend_for(settings=auto_settings, model=str(tiny_model_dir), measure=must_not_measure)
        == choice
    )


def test_an_impossible_remembered_figure_is_measured_again(
    tiny_model_dir: Path, auto_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    choose_backend_for(settings=auto_settings, model=str(tiny_model_dir), measure=FakeMeasure(300.0, 100.0))
    remembered = json.loads(measurement_file(auto_settings).read_text())
    remembered["measurements"][0]["fp32_per_s"] = 0.0  # this machine's own entry, edited by hand
    measurement_file(auto_settings).write_text(json.dumps(remembered))
    measure = FakeMeasure(int8=100.0, fp32=100.0)
    with caplog.at_level(logging.WARNING, logger=_measure.__name__):
        assert choose_backend_for(
            settings=auto_settings, model=str(tiny_model_dir), measure=measure
        ).backend == ("onnx-fp32")
    assert measure.calls == 1 and "measuring the backends again" in caplog.text


def test_another_cpu_or_thread_count_is_measured_anew_and_each_machine_keeps_its_entry(
    tiny_model_dir: Path, auto_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = str(tiny_model_dir)
    here = choose_backend_for(settings=auto_settings, model=model, measure=FakeMeasure(300.0, 100.0))
    two_threads = auto_settings.model_copy(update={"torch_threads": 2})
    measure = FakeMeasure(int8=100.0, fp32=100.0)
    assert choose_backend_for(settings=two_threads, model=model, measure=measure).backend == "onnx-fp32"
    assert measure.calls == 1

    # A description no real machine has: a real one could be this machine's own (it was, on an AVX2 EPYC).
    another = f"Another CPU than {_measure.cpu_description()}"
    monkeypatch.setattr(_measure, "cpu_description", lambda: another)
    other_cpu = FakeMeasure(int8=105.0, fp32=100.0)
    elsewhere = choose_backend_for(settings=auto_settings, model=model, measure=other_cpu)
    assert (elsewhere.backend, other_cpu.calls) == ("onnx-fp32", 1)
    assert another in elsewhere.reason
    assert len(json.loads(measurement_file(auto_settings).read_text())["measurements"]) == 3

    monkeypatch.undo()
    assert choose_backend_for(settings=auto_settings, model=model, measure=must_not_measure) == here


def test_the_flag_rule_without_measuring(
    tiny_model_dir: Path, auto_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    off = auto_settings.model_copy(update={"backend_measure": False})
    choice = choose_backend_for(settings=off, model=str(tiny_model_dir), measure=must_not_measure)
    assert choice == choose_backend("auto", "cpu")
    assert not (Path(off.cache_dir) / "onnx").exists()

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime now raises ImportError
    missing = choose_backend_for(settings=auto_settings, model=str(tiny_model_dir), measure=must_not_measure)
    assert missing.backend == choose_backend("auto", "cpu").backend
    assert "not measured: ONNX Runtime is not installed" in missing.reason


def test_an_unwritable_cache_still_chooses(
    tiny_model_dir: Path, make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the cache directory should be")
    settings = make_settings(blocker, device="cpu")
    choice = choose_backend_for(settings=settings, model=str(tiny_model_dir), measure=must_not_measure)
    assert "not measured" in choice.reason and "THREEKCAL_CACHE_DIR" in choice.reason


def test_a_fast_int8_that_changes_top_labels_is_not_chosen(
    tiny_model_dir: Path, auto_settings: Settings
) -> None:
    measure = FakeMeasure(int8=300.0, fp32=100.0, agreement=0.9)
    choice = choose_backend_for(settings=auto_settings, model=str(tiny_model_dir), measure=measure)
    assert choice.backend == "onnx-fp32"
    assert (
        "int8 is 3.00x fp32 but gives fp32's top label for only 90.0% of the measured comments, "
        "under the 99% asked for (THREEKCAL_BACKEND_INT8_MIN_AGREEMENT): fp32 keeps full accuracy"
    ) in choice.reason
    assert json.loads(measurement_file(auto_settings).read_text())["measurements"][0]["agreement"] == 0.9
    lenient = auto_settings.model_copy(update={"backend_int8_min_agreement": 0.85})
    again = choose_backend_for(settings=lenient, model=str(tiny_model_dir), measure=must_not_measure)
    assert (
        again.backend == "onnx"
        and "gives fp32's top label for 90.0% of the measured comments" in again.reason
    )


def test_the_real_measurement_times_both_onnx_graphs(tiny_model_dir: Path, auto_settings: Settings) -> None:
    from threekcal.model import resolve_model

    quick = auto_settings.model_copy(update={"backend_measure_seconds": 0.01})
    figures = _measure.time_onnx_backends(resolve_model(str(tiny_model_dir)), quick)
    assert set(figures) == {"onnx", "onnx-fp32", "agreement"}
    assert 0 < figures["onnx"] < float("inf") and 0 < figures["onnx-fp32"] < float("inf")
    assert figures["agreement"] * len(_measure.measure_comments()) in range(
        len(_measure.measure_comments()) + 1
    )
    texts = _measure.measure_comments()
    assert len(set(texts)) == len(texts) and all(5 <= len(text.split()) <= 40 for text in texts)


def test_classify_explains_the_measured_choice(
    tiny_model_dir: Path,
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = make_settings(tmp_path / "cache")
    choose_backend_for(settings=settings, model=str(tiny_model_dir), measure=FakeMeasure(250.0, 90.0))
    monkeypatch.setenv("THREEKCAL_CACHE_DIR", str(settings.cache_dir))
    monkeypatch.setenv("THREEKCAL_TORCH_THREADS", str(settings.torch_threads))
    monkeypatch.delenv("THREEKCAL_BACKEND", raising=False)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["classify", "--explain-backend", "--model", str(tiny_model_dir)])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "backend onnx on cpu: measured on this machine" in result.output
    assert "ONNX int8 250.0 comments/s, ONNX fp32 90.0 comments/s" in result.output
    assert "UTC on " + cpu_description().split(";")[0] in result.output
