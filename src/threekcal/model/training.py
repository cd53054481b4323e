"""Fine-tune a registered model on the resolved labels, evaluate it against the active one, register it.

``train_version`` does the whole run:

1. the base model (a given version, or the active one) and the labelled comments, split into training
   labels and the fixed held-out set (``training_data``); too few labels stop here with
   ``TrainingDataError``;
2. ``fine_tune``: the transformers ``Trainer`` with dynamic padding (``DataCollatorWithPadding``), length
   grouping, a fixed seed, a progress bar and a checkpoint per epoch in a temporary directory;
3. the model, tokenizer, config, training arguments, data hash and metrics are written to a hidden
   staging directory in ``THREEKCAL_MODEL_DIR``, which is renamed to its final name at once;
4. only then is the version registered (status ``candidate``) with its held-out comparison.

A run that dies before 4 registers nothing; its hidden staging directory is removed by the next run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from threekcal.db import registry
from threekcal.db.session import session_factory
from threekcal.db.types import utcnow
from threekcal.model.evaluation import compare
from threekcal.model.training_data import (
    DEFAULT_LABEL_SOURCES,
    LabelledComment,
    check_enough,
    load_labelled,
)
from threekcal.settings import Settings

STAGING_PREFIX = ".staging-"
Reporter = Callable[[float, str], None]
"""Called as ``report(progress 0..1, log line)`` while training runs."""


@dataclass
class TrainRequest:
    author: str
    base_version_id: int | None = None
    epochs: float | None = None
    learning_rate: float | None = None
    label_sources: Sequence[str] = DEFAULT_LABEL_SOURCES
    job_id: int | None = None
    precision: str | None = None  # None: THREEKCAL_TRAIN_PRECISION


# Native bf16 matrix units: autocast pays there (bench/train.py: 2.06x fp32 with AMX); avx512_bf16
# alone only converts, and measured 0.78x fp32 on a CPU without AMX.
BF16_MATRIX_FLAGS = ("amx_bf16",)
PRECISIONS = ("auto", "fp32", "bf16")


def resolve_precision(requested: str, flags: frozenset[str] | None = None) -> tuple[str, str]:
    """``(precision, why)``: ``fp32`` or ``bf16`` (autocast, fp32 master weights) for ``requested``."""
    if requested not in PRECISIONS:
        raise ValueError(f"Unknown training precision {requested!r}; choose one of {', '.join(PRECISIONS)}.")
    if requested != "auto":
        return requested, f"{requested} as requested"
    if flags is None:
        from threekcal.model._device import cpu_flags

        flags = cpu_flags()
    native = [flag for flag in BF16_MATRIX_FLAGS if flag in flags]
    if native:
        return "bf16", f"bf16 mixed precision: the CPU has {', '.join(native)}"
    return "fp32", "fp32: the CPU has no AMX bf16 units, where bf16 autocast is slower than fp32"


@dataclass
class FineTuneResult:
    model: Any
    tokenizer: Any
    args: Any
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainOutcome:
    version_id: int
    path: Path
    evaluation: dict[str, Any]

    @property
    def verdict(self) -> str:
        return str(self.evaluation["verdict"])


def fine_tune(
    base_path: Path,
    examples: Sequence[LabelledComment],
    *,
    output_dir: Path,
    epochs: float,
    learning_rate: float,
    batch_size: int,
    max_length: int,
    seed: int,
    progress_bar: bool = False,
    report: Reporter | None = None,
    pad_to: int | None = None,
    group_by_length: bool = True,
    max_steps: int = -1,
    save_checkpoints: bool = True,
    dropout: float | None = None,
    bf16: bool = False,
) -> FineTuneResult:
    """Fine-tune the model in ``base_path`` on ``examples``; ``pad_to``/``group_by_length=False`` give the
    naive setup the benchmark compares against (every example padded to ``pad_to`` tokens, random order).
    ``bf16``: mixed precision (bf16 autocast, fp32 master weights), worth it on CPUs with native bf16."""
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainerCallback,
        TrainingArguments,
        set_seed,
    )

    set_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(base_path)
    overrides = (
        {
            "hidden_dropout_prob": dropout,
            "attention_probs_dropout_prob": dropout,
            "classifier_dropout": dropout,
        }
        if dropout is not None
        else {}
    )
    model = AutoModelForSequenceClassification.from_pretrained(base_path, **overrides)
    label_ids = {str(label).strip().lower(): int(index) for index, label in model.config.id2label.items()}
    padding: dict[str, Any] = {"padding": "max_length"} if pad_to else {}
    encoded = tokenizer(
        [example.text for example in examples],
        truncation=True,
        max_length=pad_to or max_length,
        **padding,
    )
    dataset = [
        {"input_ids": ids, "attention_mask": mask, "labels": label_ids[example.label]}
        for ids, mask, example in zip(encoded["input_ids"], encoded["attention_mask"], examples, strict=True)
    ]

    class Progress(TrainerCallback):  # type: ignore[misc]
        def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None, **_: Any) -> None:
            if report and state.max_steps:
                shown = {
                    key: round(value, 4) if isinstance(value, float) else value
                    for key, value in (logs or {}).items()
                }
                report(
                    state.global_step / state.max_steps, f"step {state.global_step}/{state.max_steps} {shown}"
                )

    args = TrainingArguments(
        output_dir=str(output_dir),
        num_train_epochs=epochs,
        max_steps=max_steps,
        learning_rate=learning_rate,
        per_device_train_batch_size=batch_size,
        seed=seed,
        data_seed=seed,
        train_sampling_strategy="group_by_length" if group_by_length else "random",
        eval_strategy="no",
        save_strategy="epoch" if save_checkpoints else "no",
        save_total_limit=1,
        logging_strategy="steps",
        logging_steps=max(1, min(50, len(dataset) // batch_size // 4 or 1)),
        report_to="none",
        use_cpu=True,
        bf16=bf16,
        disable_tqdm=not progress_bar,
        dataloader_num_workers=0,
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(tokenizer),
        callbacks=[Progress()],
    )
    output = trainer.train()
    model.eval()
    return FineTuneResult(model, tokenizer, args, dict(output.metrics))


def clean_stale_staging(model_dir: Path) -> list[Path]:
    """Remove the staging directories of runs that died (their process is gone)."""
    removed = []
    for path in model_dir.glob(f"{STAGING_PREFIX}*"):
        match = re.match(rf"{re.escape(STAGING_PREFIX)}(\d+)-", path.name)
        if match and not _process_alive(int(match.group(1))):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fsync_tree(directory: Path) -> None:
    for path in directory.iterdir():
        if path.is_file():
            with path.open("rb") as stream:
                os.fsync(stream.fileno())
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def predict_labels(settings: Settings, source: str, texts: Sequence[str]) -> list[tuple[str, float]]:
    """``(label, top score)`` of each text with the model ``source`` on the torch backend."""
    from threekcal.model import load_classifier

    classifier = load_classifier(source, "torch", settings=settings)
    return [(prediction.label, prediction.score) for prediction in classifier.predict(list(texts))]


def evaluate_against(
    settings: Settings, candidate_source: str, active_source: str, held_out: Sequence[LabelledComment]
) -> dict[str, Any]:
    """The held-out comparison of ``candidate_source`` against ``active_source`` on ``held_out``."""
    texts = [example.text for example in held_out]
    return compare(
        [example.label for example in held_out],
        predict_labels(settings, candidate_source, texts),
        predict_labels(settings, active_source, texts),
        alpha=settings.significance_level,
    ) | {"eval_nums_hash": _nums_hash(held_out)}


def _nums_hash(examples: Sequence[LabelledComment]) -> str:
    import hashlib

    return hashlib.sha256(",".join(str(example.num) for example in examples).encode()).hexdigest()


def train_version(
    settings: Settings,
    request: TrainRequest,
    *,
    progress_bar: bool = False,
    report: Reporter | None = None,
) -> TrainOutcome:
    """Steps 1-4 of the module docstring. Raises ``TrainingDataError`` or ``RegistryError`` before any
    work when the data or the base version cannot be used."""
    from threekcal.model import resolve_model

    with session_factory(settings.database_url)() as session:
        active = registry.ensure_initial_version(session, settings.model)
        base = registry.get_version(session, request.base_version_id or active.version_id)
        base_id, base_source = base.id, base.source
    split = load_labelled(
        settings.database_url, eval_share=settings.eval_share, label_sources=request.label_sources
    )
    check_enough(split, settings.train_min_labels)
    base_path = resolve_model(base_source).path
    if settings.torch_threads:
        import torch

        torch.set_num_threads(settings.torch_threads)

    model_dir = settings.model_dir.resolve()
    model_dir.mkdir(parents=True, exist_ok=True)
    clean_stale_staging(model_dir)
    name = f"v{utcnow():%Y%m%d-%H%M%S}-{split.data_hash()[:8]}"
    staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=model_dir))
    epochs = request.epochs or settings.train_epochs
    learning_rate = request.learning_rate or settings.train_learning_rate
    precision, precision_reason = resolve_precision(request.precision or settings.train_precision)
    if report:
        report(0.0, f"training in {precision_reason}")
    try:
        with tempfile.TemporaryDirectory(prefix="threekcal-checkpoints-") as checkpoints:
            tuned = fine_tune(
                base_path,
                split.train,
                output_dir=Path(checkpoints),
                epochs=epochs,
                learning_rate=learning_rate,
                batch_size=settings.train_batch_size,
                max_length=settings.train_max_length,
                seed=settings.train_seed,
                dropout=settings.train_dropout,
                progress_bar=progress_bar,
                report=report,
                bf16=precision == "bf16",
            )
            tuned.model.save_pretrained(staging)
            tuned.tokenizer.save_pretrained(staging)
            (staging / "training_args.json").write_text(tuned.args.to_json_string())
        if report:
            report(1.0, f"evaluating on {len(split.evaluation)} held-out comments")
        evaluation = evaluate_against(settings, str(staging), active.source, split.evaluation)
        evaluation["active_version_id"] = active.version_id
        training = {
            "base_version_id": base_id,
            "base_source": base_source,
            "data_hash": split.data_hash(),
            "data_size": len(split.train),
            "label_sources": list(request.label_sources),
            "left_out_by_source": split.left_out_by_source,
            "epochs": epochs,
            "learning_rate": learning_rate,
            "seed": settings.train_seed,
            "precision": precision,
            "train_metrics": tuned.metrics,
        }
        (staging / "training_data.json").write_text(json.dumps(training, indent=2))
        (staging / "metrics.json").write_text(json.dumps(evaluation, indent=2))
        for path in staging.iterdir():  # safetensors writes 0600; a model directory is shared read-only
            os.chmod(path, 0o644)
        os.chmod(staging, 0o755)
        _fsync_tree(staging)
        final = model_dir / name
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    tag = resolve_model(str(final)).version
    with session_factory(settings.database_url)() as session:
        version = registry.register_candidate(
            session,
            source=str(final),
            tag=tag,
            parent_id=base_id,
            created_by=request.author,
            training_data_hash=split.data_hash(),
            training_data_size=len(split.train),
            metrics={"evaluation": evaluation, "training": training, "request": _request_view(request)},
            job_id=request.job_id,
        )
        version_id = version.id
    return TrainOutcome(version_id, final, evaluation)


def _request_view(request: TrainRequest) -> dict[str, Any]:
    view = asdict(request)
    view["label_sources"] = list(request.label_sources)
    return view
