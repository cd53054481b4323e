"""The torch backend: the transformers model in inference mode; fp32 on the CPU, fp16 on a CUDA device."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from threekcal.model._backend import Backend
from threekcal.model._hf import load_model, load_tokenizer

if TYPE_CHECKING:
    from threekcal.model._source import ModelSource
    from threekcal.settings import Settings


class TorchBackend(Backend):
    name = "torch"

    def __init__(self, model: Any, source: ModelSource, device: str = "cpu") -> None:
        self.model = model
        self.device = device
        self.labels = source.labels()
        self.tokenizer, self.pad_id = load_tokenizer(source.path, model.config)

    @classmethod
    def load(cls, source: ModelSource, settings: Settings) -> TorchBackend:
        import torch

        if settings.torch_threads:
            torch.set_num_threads(settings.torch_threads)
        device = "cuda" if settings.device == "cuda" else "cpu"
        model = load_model(source.path)
        if device == "cuda":  # half precision only where the hardware computes it natively
            model = model.to(device="cuda", dtype=torch.float16)
        return cls(model, source, device)

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            output = self.model(
                input_ids=torch.from_numpy(input_ids).to(self.device, non_blocking=True),
                attention_mask=torch.from_numpy(attention_mask).to(self.device, non_blocking=True),
            )
        return output.logits.float().cpu().numpy()
