"""``threekcal predict | apply | worker | status | backfill``: the batch pipeline from the command line.

The model, Spark and the pipeline modules are imported inside the commands, so ``threekcal --help``
stays fast. Exit codes: 0 done (also "nothing to do"), 1 error, 75 another run holds the lock.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from threekcal.cli.app import app
from threekcal.settings import get_settings
from threekcal.validation import InvalidInput, clean_name

if TYPE_CHECKING:
    from threekcal.pipeline.active_model import ActiveClassifier
    from threekcal.pipeline.predict import ClassifierLike
    from threekcal.settings import Settings

console = Console()
errors = Console(stderr=True)
EXIT_BUSY = 75  # EX_TEMPFAIL: another run holds the lock; try again later

ModelOption = Annotated[
    str | None,
    typer.Option("--model", help="Model id or directory (default: the registry's active version)."),
]
BackendOption = Annotated[
    str | None,
    typer.Option("--backend", help="auto, torch, onnx or onnx-fp32 (default: THREEKCAL_BACKEND, auto)."),
]
EngineOption = Annotated[
    str, typer.Option("--engine", help="local (SQLAlchemy; one machine) or spark (PySpark job).")
]
MasterOption = Annotated[
    str | None,
    typer.Option("--master", help="Spark master for --engine spark (default: THREEKCAL_SPARK_MASTER)."),
]


def _fail(message: str, code: int = 1) -> typer.Exit:
    errors.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("py4j", "httpx", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _spark_classifier(model: str | None, backend: str | None, master: str | None) -> ClassifierLike:
    """Scores on the Spark executors; the model is resolved (and exported) here, loaded there."""
    from threekcal.db.registry import RegistryError
    from threekcal.model import ModelError
    from threekcal.pipeline.spark_predict import spark_classifier
    from threekcal.pipeline.sparksession import SparkUnavailable

    try:
        with _database_errors(), errors.status("starting Spark…"):
            return spark_classifier(get_settings(), model, backend, master)
    except (ModelError, SparkUnavailable, RegistryError) as exc:
        raise _fail(str(exc)) from None


def _classifier_for(
    engine: str, model: str | None, backend: str | None, master: str | None
) -> ClassifierLike:
    """``model`` when given, else the registry's active version (THREEKCAL_MODEL only seeds the registry)."""
    _check_engine(engine)
    if engine == "spark":
        return _spark_classifier(model, backend, master)
    if model:
        return _load_classifier(model, backend)
    return _active_classifier(get_settings(), backend).current()


def _load_classifier(model: str | None, backend: str | None, *, code: int = 1) -> ClassifierLike:
    from threekcal.model import ModelError, load_classifier

    try:
        with errors.status("loading the model…"):
            return load_classifier(model, backend, settings=get_settings())
    except ModelError as exc:
        raise _fail(str(exc), code) from None


def _check_engine(engine: str) -> None:
    from threekcal.pipeline.apply import ENGINES

    if engine not in ENGINES:
        raise _fail(f"unknown engine {engine!r}: use one of {', '.join(ENGINES)}", 2)


@contextmanager
def _database_errors() -> Iterator[None]:
    """A database that is down or not migrated, an unreachable Spark master: one clear line."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from threekcal.pipeline.sparksession import SparkUnavailable

    try:
        yield
    except SparkUnavailable as exc:
        raise _fail(str(exc)) from None
    except (OperationalError, ProgrammingError) as exc:
        raise _fail(
            f"database {get_settings().database_url.split('@')[-1]} is unavailable or not migrated "
            f"(run `threekcal db upgrade`): {exc.orig}"
        ) from None


@contextmanager
def _progress(description: str) -> Iterator[Progress]:
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=errors,
        transient=True,
    )
    with bar:
        yield bar


@app.command()
def predict(
    model: ModelOption = None,
    backend: BackendOption = None,
    run_id: Annotated[str | None, typer.Option(help="Run id (default: a new one).")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Most comments to predict in this run.")] = 20_000,
    chunk_size: Annotated[
        int | None,
        typer.Option(min=1, help="Comments read and classified at a time (default: 256; 4096 on Spark)."),
    ] = None,
    wait: Annotated[float, typer.Option(min=0, help="Seconds to wait for a running predict.")] = 0.0,
    engine: Annotated[
        str, typer.Option("--engine", help="local (this process) or spark (score on the Spark executors).")
    ] = "local",
    master: MasterOption = None,
) -> None:
    """Predict pending comments into one prediction log (apply it with `threekcal apply`)."""
    from threekcal.pipeline.predict import DEFAULT_CHUNK_SIZE, predict_pending
    from threekcal.pipeline.runids import check_run_id
    from threekcal.pipeline.spark_predict import DEFAULT_SPARK_CHUNK

    _setup_logging()
    settings = get_settings()
    try:
        run_id = check_run_id(run_id) if run_id else None
    except ValueError as exc:
        raise _fail(str(exc), 2) from None
    classifier = _classifier_for(engine, model, backend, master)
    if chunk_size is None:
        chunk_size = DEFAULT_SPARK_CHUNK if engine == "spark" else DEFAULT_CHUNK_SIZE
    with _database_errors(), _progress("predicting") as bar:
        task = bar.add_task("predicting", total=None)
        result = predict_pending(
            settings,
            classifier,
            run_id=run_id,
            limit=limit,
            chunk_size=chunk_size,
            details={"engine": engine},
            lock_timeout=wait,
            on_total=lambda total: bar.update(task, total=total),
            progress=lambda done: bar.advance(task, done),
        )
    console.print(escape(result.summary()), highlight=False, soft_wrap=True)
    if result.status == "busy":
        raise typer.Exit(EXIT_BUSY)


@app.command("apply")
def apply_command(
    engine: EngineOption = "local",
    master: MasterOption = None,
    chunk_size: Annotated[
        int | None,
        typer.Option(min=1, help="Records per transaction (local engine; default: THREEKCAL_CHUNK_ROWS)."),
    ] = None,
    wait: Annotated[float, typer.Option(min=0, help="Seconds to wait for a running apply.")] = 0.0,
) -> None:
    """Apply every prediction log not applied yet to the database."""
    from threekcal.pipeline.apply import apply_logs

    _setup_logging()
    _check_engine(engine)
    settings = get_settings()
    with _database_errors(), _progress("applying") as bar:
        tasks: dict[str, Any] = {}

        def advance(run_id: str, done: int, total: int) -> None:
            if run_id not in tasks:
                tasks[run_id] = bar.add_task(f"applying {run_id}", total=total)
            bar.update(tasks[run_id], completed=done)

        report = apply_logs(
            settings, engine=engine, master=master, chunk_size=chunk_size, lock_timeout=wait, progress=advance
        )
    for batch in report.batches:
        console.print(escape(batch.summary()), highlight=False, soft_wrap=True)
    console.print(escape(report.summary()), highlight=False, soft_wrap=True)
    if report.busy:
        raise typer.Exit(EXIT_BUSY)


@app.command()
def worker(
    model: Annotated[
        str | None,
        typer.Option("--model", help="Model id or directory (default: the registry's active version)."),
    ] = None,
    backend: BackendOption = None,
    interval: Annotated[
        float | None,
        typer.Option(min=0.05, help="Seconds between cycles (default: THREEKCAL_WORKER_INTERVAL)."),
    ] = None,
    once: Annotated[bool, typer.Option(help="Run one cycle and exit.")] = False,
    limit: Annotated[int, typer.Option(min=1, help="Most comments predicted per cycle.")] = 20_000,
    apply_chunk_size: Annotated[
        int | None, typer.Option(min=1, help="Records per apply transaction (default: THREEKCAL_CHUNK_ROWS).")
    ] = None,
) -> None:
    """Predict and apply in a loop (local engine): the embedded pipeline of `make run`."""
    from threekcal.pipeline.model_jobs import launch_queued_job
    from threekcal.pipeline.worker import StopFlag, run_worker

    _setup_logging()
    stop = StopFlag()
    stop.install()  # before the slow model load, so Ctrl-C during it is a clean stop too
    settings = get_settings()
    # A model that cannot load exits EX_CONFIG: `threekcal up` does not restart a worker for that.
    classifier = (
        _load_classifier(model, backend, code=os.EX_CONFIG)
        if model
        else _active_classifier(settings, backend)
    )
    raise typer.Exit(
        run_worker(
            settings,
            classifier,
            interval=interval,
            once=once,
            predict_limit=limit,
            apply_chunk_size=apply_chunk_size,
            stop=stop,
            between_cycles=None if model else lambda: launch_queued_job(settings),
        )
    )


def _active_classifier(settings: Settings, backend: str | None) -> ActiveClassifier:
    """The registry's active version, re-read every cycle; loaded once now so a bad model fails fast."""
    from threekcal.db.registry import RegistryError
    from threekcal.model import ModelError
    from threekcal.pipeline.active_model import ActiveClassifier

    source = ActiveClassifier(settings, backend=backend)
    try:
        with _database_errors(), errors.status("loading the active model…"):
            source.current()
    except ModelError as exc:
        raise _fail(str(exc), os.EX_CONFIG) from None
    except RegistryError as exc:
        raise _fail(str(exc)) from None
    return source


@app.command()
def status(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Pending comments, the last predict and apply runs, logs waiting, lines quarantined."""
    from threekcal.pipeline.status import pipeline_status

    with _database_errors():
        state = pipeline_status(get_settings())
    if as_json:
        console.print_json(json.dumps(state))
        return
    table = Table(title="ThreeKcal pipeline", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    table.add_row("pending comments", str(state["pending"]))
    table.add_row("logs waiting to be applied", str(state["unapplied_logs"]))
    table.add_row("quarantined lines", str(state["quarantined_lines"]))
    last_predict, last_apply = state["last_predict"], state["last_apply"]
    if last_predict:
        seconds = last_predict["predict_seconds"] or 0.0
        table.add_row(
            "last predict",
            escape(
                f"{last_predict['run_id']} ({last_predict['kind']}) at {last_predict['created_at']}: "
                f"{last_predict['records']} records in {seconds:.2f} s, model {last_predict['model_version']}"
            ),
        )
    else:
        table.add_row("last predict", "never")
    if last_apply:
        seconds = last_apply["apply_seconds"] or 0.0
        table.add_row(
            "last apply",
            escape(
                f"{last_apply['run_id']} ({last_apply['engine']}) at {last_apply['applied_at']}: "
                f"{last_apply['applied_rows']} rows, {last_apply['unknown_nums']} unknown, "
                f"{last_apply['quarantined']} quarantined in {seconds:.2f} s"
            ),
        )
    else:
        table.add_row("last apply", "never")
    console.print(table)


def _parse_time(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _fail(f"{option}: {value!r} is not an ISO 8601 date or time", 2) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@app.command()
def backfill(
    model: Annotated[
        str | None,
        typer.Option("--model", help="Model id or directory to score with (default: the active version)."),
    ] = None,
    backend: BackendOption = None,
    user: Annotated[str | None, typer.Option("--user", help="Only this request_user's comments.")] = None,
    since: Annotated[str | None, typer.Option(help="Only comments requested at or after (ISO 8601).")] = None,
    until: Annotated[str | None, typer.Option(help="Only comments requested before (ISO 8601).")] = None,
    predicted_only: Annotated[bool, typer.Option(help="Only comments that have a prediction.")] = False,
    limit: Annotated[int | None, typer.Option(min=1, help="Most comments to score.")] = None,
    engine: Annotated[
        str, typer.Option("--engine", help="local, or spark: score on the executors and apply with Spark.")
    ] = "local",
    master: MasterOption = None,
) -> None:
    """Score comments again (the active version, or --model), through the same log + apply path."""
    from threekcal.pipeline.backfill import BackfillFilter, run_backfill
    from threekcal.pipeline.predict import DEFAULT_CHUNK_SIZE
    from threekcal.pipeline.spark_predict import DEFAULT_SPARK_CHUNK

    _setup_logging()
    _check_engine(engine)
    if user is not None:
        try:
            user = clean_name(user, "--user")
        except InvalidInput as error:
            raise _fail(str(error), 2) from None
    selection = BackfillFilter(
        request_user=user,
        since=_parse_time(since, "--since"),
        until=_parse_time(until, "--until"),
        predicted_only=predicted_only,
    )
    classifier = _classifier_for(engine, model, backend, master)
    with _database_errors(), _progress("re-scoring") as bar:
        task = bar.add_task("re-scoring", total=None)
        result, report = run_backfill(
            get_settings(),
            classifier,
            selection,
            limit=limit,
            chunk_size=DEFAULT_SPARK_CHUNK if engine == "spark" else DEFAULT_CHUNK_SIZE,
            engine=engine,
            master=master,
            on_total=lambda total: bar.update(task, total=total),
            progress=lambda done: bar.advance(task, done),
        )
    console.print(escape(result.summary()), highlight=False, soft_wrap=True)
    if report is not None:
        console.print(escape(report.summary()), highlight=False, soft_wrap=True)
    if result.status == "busy":
        raise typer.Exit(EXIT_BUSY)
