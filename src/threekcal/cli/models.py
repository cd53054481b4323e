"""``threekcal train`` and ``threekcal models list | show | promote | rollback | drift``.

Exit codes: 0 done, 1 error, 2 bad input or not enough labels to train.
"""

from __future__ import annotations

import getpass
import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from threekcal.cli.app import app
from threekcal.settings import get_settings

console = Console()
errors = Console(stderr=True)
models_app = typer.Typer(
    help="The model registry: versions, promotion, rollback, drift.", no_args_is_help=True
)
app.add_typer(models_app, name="models")

AuthorOption = Annotated[
    str | None, typer.Option("--author", help="Who does this, for the audit (default: the OS user).")
]


def _fail(message: str, code: int = 1) -> typer.Exit:
    errors.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _author(author: str | None) -> str:
    from threekcal.validation import InvalidInput, clean_name

    name = author or getpass.getuser()
    try:
        return clean_name(name, "--author")  # the shared rule for names (threekcal.validation)
    except InvalidInput as exc:
        raise _fail(f"--author {name!r} is not a valid name: {exc}", 2) from None


def _session():  # type: ignore[no-untyped-def]
    from threekcal.db.session import session_factory

    return session_factory(get_settings().database_url)()


@app.command()
def train(
    base: Annotated[
        int | None, typer.Option("--base", help="Version id to fine-tune (default: active).")
    ] = None,
    epochs: Annotated[float | None, typer.Option(min=0.01, help="Epochs (THREEKCAL_TRAIN_EPOCHS).")] = None,
    learning_rate: Annotated[
        float | None, typer.Option("--learning-rate", min=1e-9, help="THREEKCAL_TRAIN_LEARNING_RATE.")
    ] = None,
    label_source: Annotated[
        list[str] | None,
        typer.Option(
            "--label-source",
            help="chosen, accepted, resolved (the default: all three) and/or bulk_accepted (predictions "
            "accepted in bulk). Repeat for several.",
        ),
    ] = None,
    precision: Annotated[
        str | None,
        typer.Option(
            "--precision",
            help="auto, fp32 or bf16 (THREEKCAL_TRAIN_PRECISION; auto: bf16 where the CPU has AMX).",
        ),
    ] = None,
    job: Annotated[
        int | None, typer.Option("--job", help="Run this queued job (the worker uses it).")
    ] = None,
    author: AuthorOption = None,
) -> None:
    """Fine-tune the active model (or --base) on the labels; register the result as a candidate."""
    from threekcal.db.registry import RegistryError
    from threekcal.model import ModelError
    from threekcal.model.training import TrainRequest, resolve_precision, train_version
    from threekcal.model.training_data import DEFAULT_LABEL_SOURCES, TrainingDataError, check_label_sources
    from threekcal.pipeline.model_jobs import run_job

    settings = get_settings()
    if job is not None:
        try:
            summary = run_job(settings, job)
        except RegistryError as exc:
            raise _fail(str(exc), 2) from None
        console.print_json(json.dumps(summary))
        raise typer.Exit(0 if summary["state"] == "succeeded" else 2)
    try:
        sources = check_label_sources(label_source or DEFAULT_LABEL_SOURCES)
        chosen_precision, why = resolve_precision(precision or settings.train_precision)
    except (TrainingDataError, ValueError) as exc:
        raise _fail(str(exc), 2) from None
    console.print(escape(f"training in {why}"), highlight=False)
    try:
        request = TrainRequest(
            author=_author(author),
            base_version_id=base,
            epochs=epochs,
            learning_rate=learning_rate,
            label_sources=sources,
            precision=chosen_precision,
        )
        outcome = train_version(settings, request, progress_bar=True)
    except (TrainingDataError, RegistryError) as exc:
        raise _fail(str(exc), 2) from None
    except ModelError as exc:
        raise _fail(str(exc)) from None
    evaluation = outcome.evaluation
    console.print(
        escape(
            f"registered candidate version {outcome.version_id} ({outcome.path}); "
            f"on {evaluation['eval_size']} held-out comments: accuracy "
            f"{evaluation['candidate']['accuracy']:.3f} vs active "
            f"{evaluation['active']['accuracy']:.3f}, McNemar p={evaluation['mcnemar']['p_value']:.3g}: "
            f"{outcome.verdict}"
        ),
        highlight=False,
        soft_wrap=True,
    )


def _metric(version: dict[str, Any], key: str) -> str:
    value = (version["metrics"].get("evaluation") or {}).get("candidate", {}).get(key)
    return f"{value:.3f}" if isinstance(value, float) else "-"


@models_app.command("list")
def list_models(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Every registered version with its status and held-out metrics."""
    from threekcal.db.registry import list_versions, version_summary

    with _session() as session:
        versions = [version_summary(version) for version in list_versions(session)]
    if as_json:
        console.print_json(json.dumps(versions))
        return
    table = Table(title="ThreeKcal model versions")
    for column in (
        "id",
        "status",
        "source",
        "parent",
        "created",
        "by",
        "labels",
        "accuracy",
        "macro-F1",
        "verdict",
    ):
        table.add_column(column)
    for version in versions:
        verdict = (version["metrics"].get("evaluation") or {}).get("verdict", "-")
        table.add_row(
            str(version["id"]),
            version["status"],
            escape(version["source"]),
            str(version["parent_id"] or "-"),
            (version["created_at"] or "")[:19],
            escape(version["created_by"]),
            str(version["training_data_size"] or "-"),
            _metric(version, "accuracy"),
            _metric(version, "macro_f1"),
            verdict,
        )
    console.print(table)


@models_app.command("show")
def show_model(version_id: Annotated[int, typer.Argument(help="Version id.")]) -> None:
    """One version in full (JSON): metrics, training data, evaluation."""
    from threekcal.db.registry import VersionNotFoundError, get_version, version_summary

    with _session() as session:
        try:
            summary = version_summary(get_version(session, version_id))
        except VersionNotFoundError as exc:
            raise _fail(str(exc), 2) from None
    console.print_json(json.dumps(summary))


@models_app.command("promote")
def promote_model(
    version_id: Annotated[int, typer.Argument(help="Version id.")], author: AuthorOption = None
) -> None:
    """Make a version active; the worker uses it from its next cycle."""
    from threekcal.db.registry import RegistryError, promote

    with _session() as session:
        try:
            version = promote(session, version_id, author=_author(author))
        except RegistryError as exc:
            raise _fail(str(exc), 2) from None
        console.print(escape(f"version {version.id} is active ({version.source})"), highlight=False)


@models_app.command("rollback")
def rollback_model(author: AuthorOption = None) -> None:
    """Re-activate the version that was active before the current one."""
    from threekcal.db.registry import RegistryError, rollback

    with _session() as session:
        try:
            version = rollback(session, author=_author(author))
        except RegistryError as exc:
            raise _fail(str(exc), 2) from None
        console.print(
            escape(f"rolled back: version {version.id} is active ({version.source})"), highlight=False
        )


@models_app.command("drift")
def drift(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Each day's predicted-emotion mix of the active model against its reference window."""
    from threekcal.db.drift import drift_report

    with _session() as session:
        report = drift_report(session, get_settings())
    if as_json:
        console.print_json(json.dumps(report))
        return
    table = Table(title=f"drift of model version {report['version_id']}")
    for column in ("day", "predictions", "chi-square p", "Jensen-Shannon", "KS p", "flagged"):
        table.add_column(column)
    for day in report["days"]:
        figures = [day.get(key) for key in ("chi_square_p", "jensen_shannon", "ks_p")]
        table.add_row(
            day["day"],
            str(day["count"]),
            *(f"{value:.3g}" if isinstance(value, float) else "-" for value in figures),
            "DRIFT" if day["flagged"] else "",
        )
    console.print(table)
    if report.get("note"):
        console.print(escape(report["note"]), highlight=False)
