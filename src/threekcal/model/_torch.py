"""The torch backend: the transformers model in inference mode on CPU."""

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

    def __init__(self, model: Any, source: ModelSource) -> None:
        self.model = model
        self.labels = source.labels()
        self.tokenizer, self.pad_id = load_tokenizer(source.path, model.config)

    @classmethod
    def load(cls, source: ModelSource, settings: Settings) -> TorchBackend:
        import torch

        if settings.torch_threads:
            torch.set_num_threads(settings.torch_threads)
        return cls(load_model(source.path), source)

    def logits(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            output = self.model(
                input_ids=torch.from_numpy(input_ids), attention_mask=torch.from_numpy(attention_mask)
            )
        return output.logits.float().numpy()
