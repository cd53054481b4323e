"""``threekcal classify`` and ``threekcal model build-test|export``.

torch, transformers and onnxruntime are imported inside the commands so that ``threekcal --help`` stays fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.console import Console
from rich.markup import escape

from threekcal.cli.app import app
from threekcal.emotions import EMOJI, LABELS

if TYPE_CHECKING:
    from threekcal.model import Classifier, Prediction

console = Console()
errors = Console(stderr=True)
model_app = typer.Typer(
    help="The emotion model: offline test models and the ONNX export cache.", no_args_is_help=True
)
app.add_typer(model_app, name="model")

ModelOption = Annotated[
    str | None,
    typer.Option("--model", help="Hugging Face model id or model directory (default: THREEKCAL_MODEL)."),
]
BackendOption = Annotated[
    str | None,
    typer.Option(
        "--backend", help="auto, torch, onnx (int8) or onnx-fp32 (default: THREEKCAL_BACKEND, auto)."
    ),
]


def _fail(message: str, code: int = 1) -> typer.Exit:
    errors.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _load(model: str | None, backend: str | None) -> Classifier:
    from threekcal.model import ModelError, load_classifier

    # No spinner here: a first use downloads the model with its own progress bars.
    errors.print("[dim]loading the model…[/dim]", highlight=False)
    try:
        return load_classifier(model, backend)
    except ModelError as exc:
        raise _fail(str(exc)) from None


def _read_stdin() -> list[str]:
    if sys.stdin.isatty():
        raise _fail("no text given: pass texts as arguments, or pipe one text per line into stdin.", 2)
    return [line.strip() for line in sys.stdin if line.strip()]


@app.command()
def classify(
    texts: Annotated[
        list[str] | None,
        typer.Argument(
            help="Texts to classify; none or '-' reads one text per line from stdin.", show_default=False
        ),
    ] = None,
    model: ModelOption = None,
    backend: BackendOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per text (JSON Lines).")] = False,
    explain_backend: Annotated[
        bool,
        typer.Option("--explain-backend", help="Say which backend and device run here, and why."),
    ] = False,
) -> None:
    """Predict the emotion of texts: label, emoji, score and all seven probabilities."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    if explain_backend:
        _explain_backend(model, backend)
        if not texts:
            return
    from_stdin = not texts or texts == ["-"]
    items = _read_stdin() if from_stdin else list(texts or ())
    if not items:
        raise _fail("no text given: stdin held only empty lines.", 2)
    empty = [position + 1 for position, text in enumerate(items) if not text.strip()]
    if empty:
        raise _fail(f"text {', '.join(map(str, empty))} is empty; there is nothing to classify.", 2)
    classifier = _load(model, backend)
    with Progress(
        TextColumn("classifying"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=errors,
        transient=True,
        disable=not from_stdin or len(items) < 2,
    ) as bar:
        task = bar.add_task("classify", total=len(items))
        predictions = classifier.predict(
            items, progress=lambda done, _total: bar.update(task, completed=done)
        )
    if as_json:
        for text, prediction in zip(items, predictions, strict=True):
            typer.echo(json.dumps(_as_record(text, prediction, classifier.model_version), ensure_ascii=False))
        return
    for text, prediction in zip(items, predictions, strict=True):
        _print_prediction(text, prediction)
    console.print(f"[dim]model {classifier.model_version}[/dim]", highlight=False)


def _explain_backend(model: str | None, backend: str | None) -> None:
    from threekcal.model import ModelError, choose_backend_for, cpu_description

    # auto measures ONNX int8 against fp32 on first use for a model and machine (seconds; once).
    errors.print("[dim]choosing the backend…[/dim]", highlight=False)
    try:
        choice = choose_backend_for(backend, model=model)
    except ModelError as exc:
        raise _fail(str(exc)) from None
    console.print(escape(choice.explain()), highlight=False, soft_wrap=True)
    console.print(f"[dim]CPU: {escape(cpu_description())}[/dim]", highlight=False, soft_wrap=True)


def _as_record(text: str, prediction: Prediction, model_version: str) -> dict[str, object]:
    return {
        "text": text,
        "label": prediction.label,
        "emoji": EMOJI[prediction.label],
        "score": prediction.score,
        "scores": prediction.scores,
        "model_version": model_version,
    }


def _print_prediction(text: str, prediction: Prediction) -> None:
    # soft_wrap: long lines are left to the terminal, so a label never parts from its probability.
    label = prediction.label
    console.print(
        f"{EMOJI[label]} [bold]{label:<8}[/bold] {prediction.score:.3f}  {escape(text)}",
        highlight=False,
        soft_wrap=True,
    )
    probabilities = "  ".join(f"{label} {prediction.scores[label]:.3f}" for label in LABELS)
    console.print(f"   [dim]{probabilities}[/dim]", highlight=False, soft_wrap=True)


@model_app.command("build-test")
def build_test(
    directory: Annotated[Path, typer.Argument(help="Where to write the model (replaced if it exists).")],
    size: Annotated[
        Literal["tiny", "full"],
        typer.Option("--size", help="tiny for tests, full (DistilRoBERTa size) for benchmarks."),
    ] = "tiny",
    seed: Annotated[int, typer.Option("--seed", help="Random seed of the weights.")] = 0,
) -> None:
    """Build an offline test model: random weights, real architecture and labels; predicts nothing real."""
    from threekcal.model.testmodel import build_test_model

    with errors.status(f"building the {size} test model…"):
        target = build_test_model(directory, size=size, seed=seed)
    console.print(f"[green]test model ({size}) written to {target}[/green]; its predictions mean nothing.")
    console.print(f"use it with: THREEKCAL_MODEL={target}", highlight=False)


@model_app.command("export")
def export(model: ModelOption = None) -> None:
    """Export the model to ONNX (fp32 and int8) into THREEKCAL_CACHE_DIR now instead of on first use."""
    from threekcal.model import ModelError, export_onnx

    errors.print("[dim]exporting to ONNX (once per model version)…[/dim]", highlight=False)
    try:
        version, directory = export_onnx(model)
    except ModelError as exc:
        raise _fail(str(exc)) from None
    console.print(f"[green]{version}[/green] exported to {directory}", highlight=False)
