"""bench/inference.py's ceiling arithmetic: the FLOP count of DistilRoBERTa and a real GEMM measurement."""

from __future__ import annotations

import pytest
from bench_scripts import load_bench


@pytest.fixture(scope="module")
def inference():  # type: ignore[no-untyped-def]
    return load_bench("inference")


def test_flops_per_text_follow_distilroberta(inference) -> None:  # type: ignore[no-untyped-def]
    shape = {"hidden": 768, "intermediate": 3072, "layers": 6, "labels": 7}
    one_token = inference.classified_flops(shape, [1])
    ten_tokens = inference.classified_flops(shape, [10])
    head = 2 * 768 * 768 + 2 * 768 * 7
    # Per token: 6 layers x (4 projections 768x768 + 2 feed-forward 768x3072) x 2 FLOPs per multiply-add.
    assert one_token == 6 * (8 * 768**2 + 4 * 768 * 3072) + 6 * 4 * 768 + head
    # Attention grows with the square of the length; everything else linearly.
    assert ten_tokens == 10 * 6 * (8 * 768**2 + 4 * 768 * 3072) + 6 * 4 * 100 * 768 + head
    assert inference.classified_flops(shape, [10, 1]) == ten_tokens + one_token


def test_gemm_peak_measures_both_kinds(inference, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(inference, "GEMM_TOKENS", 16)
    monkeypatch.setattr(inference, "GEMM_REPEATS", 2)
    peaks = inference.gemm_peak(1, 64, 128)
    assert set(peaks) == {"fp32", "int8"}
    assert all(value > 0 for value in peaks.values())
