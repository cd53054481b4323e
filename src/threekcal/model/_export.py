"""One-time ONNX export of a model into the cache, keyed by its version.

The export (fp32 graph, int8 dynamically quantised graph, tokenizer, metadata) is written into a temporary
directory beside its final place and renamed into place, so a crash mid-export never leaves a half model
and a concurrent export of the same version simply loses the race.

For BERT-family encoders (RoBERTa, DistilRoBERTa, BERT, XLM-R) the traced graph goes through ONNX
Runtime's transformer fusion before quantisation: bias + GELU becomes one ``BiasGelu``, and in the fp32
graph each layer's attention one ``Attention`` node. The int8 graph keeps attention unfused (its Q, K, V
projections quantised like the other weights): the fused ``QAttention`` kernel was slower (int8 pass 1.25x
as fast per core-second without it, fp32 1.05x slower without ``Attention``, one bench run on an AMX
Xeon). The residual add + LayerNorm stays two standard ops: ONNX Runtime's fused
``SkipLayerNormalization`` kernel ran at half their speed (see ``_onnx``). The fused fp32 graph computes
the same function (tests compare it with torch); it saves per-op overhead and memory traffic, which
matter at the short sequence lengths of comments.

This module imports torch only inside ``export``; serving an existing export needs only onnxruntime and
tokenizers.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from threekcal.model._source import ModelSource
from threekcal.model._types import ModelError

if TYPE_CHECKING:
    import torch

META_FILE = "threekcal-onnx.json"
TOKENIZER_FILE = "tokenizer.json"
MODEL_FILES = {"fp32": "model.fp32.onnx", "int8": "model.int8.onnx"}
OPSET = 17
EXPORT_FORMAT = 4
"""Bumped when the graphs change (2: transformer fusion; 3: Add + LayerNormalization instead of
SkipLayerNormalization; 4: int8 attention unfused); an older export in the cache is redone."""
FUSION_MODEL_TYPES = {"roberta": "bert", "xlm-roberta": "bert", "bert": "bert", "camembert": "bert"}
"""transformers ``model_type`` -> ONNX Runtime optimizer ``model_type`` (RoBERTa uses BERT's fusions)."""
# Names of the graph's inputs and output, shared with the serving side.
INPUT_NAMES = ("input_ids", "attention_mask")
OUTPUT_NAME = "logits"
log = logging.getLogger(__name__)


def export_dir(source: ModelSource, cache_dir: Path) -> Path:
    slug = re.sub(r"[^A-Za-z0-9._@-]+", "--", source.version)
    return Path(cache_dir) / "onnx" / slug


def is_complete(directory: Path) -> bool:
    """Every file there, written by this export format (an older format is exported again)."""
    try:
        meta = json.loads((directory / META_FILE).read_text())
    except (OSError, ValueError):
        return False
    return meta.get("format") == EXPORT_FORMAT and all(
        (directory / name).is_file() for name in MODEL_FILES.values()
    )


def ensure_export(source: ModelSource, cache_dir: Path) -> Path:
    """The export directory for ``source``, exporting first if the cache does not hold it yet."""
    directory = export_dir(source, cache_dir)
    if not is_complete(directory):
        export(source, directory)
    return directory


def export(source: ModelSource, directory: Path) -> Path:
    """Export ``source`` to ``directory`` (fp32 and int8); replaces an incomplete directory."""
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    except OSError as exc:
        raise ModelError(
            f"Cannot write the ONNX export of {source.version} to {directory} ({exc}); make "
            "THREEKCAL_CACHE_DIR writable, or run `threekcal model export` where it is writable."
        ) from exc
    log.info("exporting %s to ONNX (fp32, int8), once per model version: %s", source.version, directory)
    started = time.monotonic()
    try:
        _export_into(source, staging)
        if directory.exists() and not is_complete(directory):
            shutil.rmtree(directory)
        try:
            staging.rename(directory)
        except OSError:
            if not is_complete(directory):  # not a lost race: a real failure
                raise
            shutil.rmtree(staging, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    log.info("exported %s to ONNX in %.1f s", source.version, time.monotonic() - started)
    return directory


def _export_into(source: ModelSource, staging: Path) -> None:
    import onnx
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from threekcal.model._hf import load_model, load_tokenizer

    # Eager attention traces into plain ops that onnxruntime fuses; the result is the same function.
    model = load_model(source.path, attn_implementation="eager")
    tokenizer, pad_id = load_tokenizer(source.path, model.config)
    fp32_path, int8_path = (staging / MODEL_FILES[variant] for variant in ("fp32", "int8"))
    traced_path, int8_source = staging / "traced.onnx", staging / "int8-source.onnx"
    # Two lengths, so the traced graph contains the padding-mask path (an unpadded trace may skip it).
    sample = [tokenizer.encode("a short sample").ids, tokenizer.encode("a somewhat longer sample text").ids]
    width = max(len(ids) for ids in sample)
    input_ids = torch.full((len(sample), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(sample), width), dtype=torch.long)
    for row, ids in enumerate(sample):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        attention_mask[row, : len(ids)] = 1
    dynamic = {0: "batch", 1: "sequence"}
    with warnings.catch_warnings():
        # The tracer notes that transformers' mask code compares shapes in Python; the inputs and the mask
        # always have the same length here, so the traced constant holds. The torch-vs-ONNX test checks it.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", "Exporting aten::index operator", UserWarning)
        # dynamo=False on purpose: the TorchScript exporter handles this model without extra packages.
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            _logits_only(model),
            (input_ids, attention_mask),
            str(traced_path),
            input_names=list(INPUT_NAMES),
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAMES[0]: dynamic, INPUT_NAMES[1]: dynamic, OUTPUT_NAME: {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )
    with _onnxruntime_quiet():
        fusion = {
            "fp32": _fuse(traced_path, fp32_path, model.config, attention=True),
            "int8": _fuse(traced_path, int8_source, model.config, attention=False),
        }
        # Signed int8 weights: unsigned ones ran 4x slower on this kind of CPU (see STACK-NOTES). Fused
        # nodes (BiasGelu...) are contrib ops shape inference cannot type: their outputs are float.
        quantize_dynamic(
            int8_source,
            int8_path,
            weight_type=QuantType.QInt8,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    for intermediate in (traced_path, int8_source):
        intermediate.unlink(missing_ok=True)
    tokenizer.save(str(staging / TOKENIZER_FILE))
    meta = {
        "format": EXPORT_FORMAT,
        "fusion": fusion,
        "model_version": source.version,
        "labels": list(source.labels()),
        "pad_id": pad_id,
        "max_length": (tokenizer.truncation or {}).get("max_length"),
        "opset": OPSET,
        "torch": torch.__version__,
    }
    (staging / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")


def _fuse(traced: Path, target: Path, config: object, *, attention: bool) -> dict[str, int]:
    """Write ``traced`` rewritten by ONNX Runtime's transformer fusion to ``target``; the fused op counts.

    Architectures the optimizer does not know keep the traced graph (an empty dict says so)."""
    optimizer_type = FUSION_MODEL_TYPES.get(str(getattr(config, "model_type", "")))
    if optimizer_type is None:
        shutil.copyfile(traced, target)
        return {}
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    options = FusionOptions(optimizer_type)
    options.enable_skip_layer_norm = False  # slower than Add + LayerNormalization (see the module's doc)
    options.enable_attention = attention
    fused = optimize_model(
        str(traced),
        model_type=optimizer_type,
        num_heads=int(config.num_attention_heads),  # type: ignore[attr-defined]
        hidden_size=int(config.hidden_size),  # type: ignore[attr-defined]
        opt_level=0,  # fusion only: the runtime's own optimisations stay per machine, at load
        optimization_options=options,
    )
    counts = {name: int(count) for name, count in fused.get_fused_operator_statistics().items() if count}
    fused.save_model_to_file(str(target))
    return counts


def _logits_only(model: torch.nn.Module) -> torch.nn.Module:
    """The classifier as a function (input_ids, attention_mask) -> logits, whose output ONNX can name."""
    import torch

    class LogitsOnly(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.model(input_ids=input_ids, attention_mask=attention_mask).logits

    return LogitsOnly()


@contextmanager
def _onnxruntime_quiet() -> Iterator[None]:
    """Meanwhile, drop what ONNX Runtime's optimizer and quantizer log below WARNING (each fusion, node and
    tensor: about fifty lines for the offline test model, more for a deeper one), and its advice to
    pre-process, which we chose not to follow. Their loggers have various names: the filter sits on the
    root logger (whose ``logging.warning`` makes a handler of its own when none is configured, as under
    ``threekcal classify``) and on its handlers, which the other loggers' records reach."""
    import onnxruntime

    package = str(Path(onnxruntime.__file__).parent)

    def keep(record: logging.LogRecord) -> bool:
        if not record.pathname.startswith(package):
            return True
        advice = str(record.msg).startswith("Please consider to run pre-processing")
        return record.levelno >= logging.WARNING and not advice

    root = logging.getLogger()
    filtered = [root, *root.handlers]
    for where in filtered:
        where.addFilter(keep)
    try:
        yield
    finally:
        for where in filtered:
            where.removeFilter(keep)
