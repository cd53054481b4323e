"""The ONNX Runtime backends (int8 and fp32). Serving imports onnxruntime and tokenizers, never torch."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from threekcal.model._backend import Backend, configure_tokenizer
from threekcal.model._export import (
    INPUT_NAMES,
    META_FILE,
    MODEL_FILES,
    OUTPUT_NAME,
    TOKENIZER_FILE,
    ensure_export,
)
from threekcal.model._types import ModelError

if TYPE_CHECKING:
    import onnxruntime
    from tokenizers import Tokenizer

    from threekcal.model._source import ModelSource
    from threekcal.settings import Settings


def providers_for(device: str, available: list[str]) -> list[str]:
    """ONNX Runtime's CUDA provider first on a GPU when this build has it; the CPU always as fallback."""
    if device == "cuda" and "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


DISABLED_OPTIMIZERS = ("SkipLayerNormFusion",)
"""ONNX Runtime's load-time fusions that we keep off: its fused SkipLayerNormalization kernel ran at about
half the speed of Add + LayerNormalization on ONNX Runtime 1.32 (AMX Xeon, 2 threads: int8 model 1.3x as
fast without it, fp32 1.1x, in one bench run; see ``_export``), so the export leaves it unfused too."""


def session_options(settings: Settings) -> onnxruntime.SessionOptions:
    """Every ONNX session of ThreeKcal (serving, the auto measurement, the bench's profile) is made alike."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.inter_op_num_threads = 1
    if settings.torch_threads:
        options.intra_op_num_threads = settings.torch_threads
    # Spinning threads burn the CPU time that the machine's other work (and the other thread) needs.
    options.add_session_config_entry(
        "session.intra_op.allow_spinning", "1" if settings.onnx_spinning else "0"
    )
    return options


class OnnxBackend(Backend):
    """Serves an export from the cache; ``settings.torch_threads`` sets ONNX Runtime's threads too."""

    variant: ClassVar[str]
    """Which graph of the export: ``fp32`` or ``int8``."""

    def __init__(
        self,
        session: onnxruntime.InferenceSession,
        tokenizer: Tokenizer,
        pad_id: int,
        labels: tuple[str, ...],
    ) -> None:
        self.session = session
        self.tokenizer = tokenizer
        self.pad_id = pad_id
        self.labels = labels

    @classmethod
    def load(cls, source: ModelSource, settings: Settings) -> OnnxBackend:
        import onnxruntime
        from tokenizers import Tokenizer

        directory = ensure_export(source, settings.cache_dir)
        meta = json.loads((directory / META_FILE).read_text())
        labels = source.labels()
        if tuple(meta["labels"]) != labels or meta["model_version"] != source.version:
            raise ModelError(
                f"The ONNX export in {directory} does not belong to {source.version}; delete that directory."
            )
        tokenizer = configure_tokenizer(
            Tokenizer.from_file(str(directory / TOKENIZER_FILE)), meta["max_length"]
        )
        session = onnxruntime.InferenceSession(
            str(directory / MODEL_FILES[cls.variant]),
            session_options(settings),
            providers=providers_for(settings.device, onnxruntime.get_available_providers()),
            disabled_optimizers=list(DISABLED_OPTIMIZERS),
        )
        return cls(session, tokenizer, int(meta["pad_id"]), labels)

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        feed = dict(zip(INPUT_NAMES, (input_ids, attention_mask), strict=True))
        return self.session.run([OUTPUT_NAME], feed)[0]


class OnnxInt8Backend(OnnxBackend):
    name = "onnx-int8"
    variant = "int8"


class OnnxFp32Backend(OnnxBackend):
    name = "onnx-fp32"
    variant = "fp32"
