"""Which device and backend to run on, and why (``THREEKCAL_DEVICE``, ``THREEKCAL_BACKEND=auto``).

The rule, from ``bench/inference.py`` runs: int8 pays where the CPU multiplies int8 natively (VNNI,
AMX: ONNX int8 ran 2.5-4x fp32 on such a CPU), and gains ~1.2x at most where it does not (AVX2: ONNX
Runtime's own int8 GEMM peak was 65 GOP/s against 54 GFLOP/s fp32), so fp32 keeps full accuracy there.
On a GPU: torch in fp16. Nothing here imports torch unless a GPU is plausibly present.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from threekcal.model._types import ModelError

INT8_DOT_PRODUCT_FLAGS = ("amx_int8", "avx512_vnni", "avx_vnni")
"""/proc/cpuinfo flags of CPUs with int8 dot-product instructions."""
REPORTED_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx_vnni", "avx512_vnni", "amx_bf16", "amx_int8")
NVIDIA_MARKERS = (Path("/proc/driver/nvidia/version"), Path("/dev/nvidia0"))


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The instruction-set flags of this CPU (Linux ``/proc/cpuinfo``); empty where unknown."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


@lru_cache(maxsize=1)
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_description() -> str:
    """``<model>; <the instruction sets that matter for inference>``, for logs and benchmarks."""
    flags = cpu_flags()
    present = [flag for flag in REPORTED_FLAGS if flag in flags]
    return f"{cpu_model()}; {' '.join(present) or 'no AVX2/AVX-512/VNNI/AMX flags'}"


def cuda_available() -> bool:
    """A CUDA device torch can use. torch is imported only when an NVIDIA driver is present."""
    if not any(marker.exists() for marker in NVIDIA_MARKERS):
        return False
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return False
    return bool(torch.cuda.is_available())


def onnx_cuda_available() -> bool:
    """ONNX Runtime built with its CUDA execution provider (the onnxruntime-gpu package)."""
    try:
        import onnxruntime
    except ImportError:  # pragma: no cover - onnxruntime is a dependency
        return False
    return "CUDAExecutionProvider" in onnxruntime.get_available_providers()


@dataclass(frozen=True)
class BackendChoice:
    backend: str  # a name in BACKENDS
    device: str  # cpu or cuda
    reason: str

    def explain(self) -> str:
        return f"backend {self.backend} on {self.device}: {self.reason}"


def resolve_device(requested: str, *, cuda: bool | None = None) -> str:
    if requested not in ("auto", "cpu", "cuda"):
        raise ModelError(f"Unknown device {requested!r} (THREEKCAL_DEVICE); choose auto, cpu or cuda.")
    if requested == "cpu":
        return "cpu"
    has_cuda = cuda_available() if cuda is None else cuda
    if requested == "cuda" and not has_cuda:
        raise ModelError(
            "THREEKCAL_DEVICE=cuda but no CUDA device is usable here (no NVIDIA driver, or torch without "
            "CUDA); use THREEKCAL_DEVICE=auto or cpu."
        )
    return "cuda" if has_cuda else "cpu"


def choose_backend(
    requested_backend: str,
    requested_device: str,
    *,
    flags: frozenset[str] | None = None,
    cuda: bool | None = None,
    onnx_cuda: bool | None = None,
) -> BackendChoice:
    """The backend and device to load, with the reason in words (``classify --explain-backend``)."""
    device = resolve_device(requested_device, cuda=cuda)
    flags = cpu_flags() if flags is None else flags
    int8_flags = [flag for flag in INT8_DOT_PRODUCT_FLAGS if flag in flags]
    if requested_backend != "auto":
        reason = f"set by THREEKCAL_BACKEND or --backend ({requested_backend})"
        if device == "cuda" and requested_backend.startswith("onnx"):
            has_provider = onnx_cuda_available() if onnx_cuda is None else onnx_cuda
            reason += (
                "; ONNX Runtime's CUDA provider"
                if has_provider
                else "; ONNX Runtime has no CUDA provider here (install onnxruntime-gpu): it runs on the CPU"
            )
            if not has_provider:
                device = "cpu"
        return BackendChoice(requested_backend, device, reason)
    if device == "cuda":
        return BackendChoice(
            "torch", "cuda", "a CUDA device is present: torch in fp16 with length-sorted, larger batches"
        )
    if int8_flags:
        return BackendChoice(
            "onnx",
            "cpu",
            f"the CPU multiplies int8 natively ({', '.join(int8_flags)}): ONNX Runtime int8 is the fastest",
        )
    return BackendChoice(
        "onnx-fp32",
        "cpu",
        "the CPU has no VNNI/AMX int8 instructions, so int8 gains little: ONNX Runtime fp32 keeps "
        "full accuracy",
    )
