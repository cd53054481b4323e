"""``threekcal api``, ``threekcal ui`` and ``threekcal up`` (API, worker and web app: ``make run``)."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from threekcal.cli.app import app
from threekcal.cli.supervisor import Child, Supervisor

if TYPE_CHECKING:
    from threekcal.settings import Settings

console = Console()
err_console = Console(stderr=True)

HostOption = Annotated[str, typer.Option(help="Interface to listen on (0.0.0.0 for every interface).")]


class PortInUse(RuntimeError):
    pass


def connect_host(host: str) -> str:
    """Where a client on this machine reaches a server listening on ``host``."""
    return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host


def url_host(host: str) -> str:
    host = connect_host(host)
    return f"[{host}]" if ":" in host else host


def ensure_port_free(host: str, port: int, what: str, option: str) -> None:
    """Fail with a message that says what to do, instead of a server's bind traceback."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # Same option the servers set, so a port in TIME_WAIT from a previous run counts as free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise PortInUse(
                f"Port {port} on {host} is already in use ({exc.strerror}), so the {what} cannot start "
                f"there. Stop the program that holds it (is ThreeKcal already running?) or choose "
                f"another port with {option}."
            ) from None


def _fail(message: str, code: int = 2) -> typer.Exit:
    err_console.print(f"[bold red]Error:[/bold red] {message}", highlight=False)
    return typer.Exit(code)


def _load_settings() -> Settings:
    from pydantic import ValidationError

    from threekcal.settings import Settings, SettingsError

    try:
        return Settings()
    except (SettingsError, ValidationError) as exc:
        raise _fail(f"the configuration cannot be used: {exc}") from None


# ------------------------------------------------------------------------------------ api and ui
@app.command()
def api(
    host: HostOption = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the API.")] = 8000,
) -> None:
    """Serve the HTTP API (uvicorn, factory threekcal.api:create_app)."""
    import uvicorn

    settings = _load_settings()  # a bad configuration is reported here, not as an app-factory traceback
    try:
        ensure_port_free(host, port, "API", "--port")
    except PortInUse as exc:
        raise _fail(str(exc)) from None
    if settings.admin_token is None:  # development: generated once, kept in var/admin-token
        token = settings.admin_token_value()
        console.print(f"Admin token (development; kept in {settings.var_dir / 'admin-token'}): {token}")
    uvicorn.run("threekcal.api:create_app", factory=True, host=host, port=port, log_level="info")


def streamlit_command(host: str, port: int) -> list[str]:
    import threekcal.ui
    from threekcal.ui.config import STREAMLIT_OPTIONS

    app_path = Path(threekcal.ui.__file__).with_name("app.py")
    options = {**STREAMLIT_OPTIONS, "server.address": host, "server.port": str(port)}
    flags = [part for name, value in options.items() for part in (f"--{name}", value)]
    return [sys.executable, "-m", "streamlit", "run", str(app_path), *flags]


@app.command()
def ui(
    host: HostOption = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the web app.")] = 8501,
    api_url: Annotated[
        str | None, typer.Option(help="Where the web app finds the API (default: THREEKCAL_API_URL).")
    ] = None,
) -> None:
    """Serve the Streamlit web app; it talks to the API only."""
    from threekcal.ui.config import ui_settings

    try:
        ensure_port_free(host, port, "web app", "--port")
    except PortInUse as exc:
        raise _fail(str(exc)) from None
    env = {**os.environ, "THREEKCAL_API_URL": api_url or ui_settings().api_url}
    command = streamlit_command(host, port)
    sys.stdout.flush()
    sys.stderr.flush()
    # Streamlit becomes this process: signals and the exit status are its own.
    os.execve(command[0], command, env)


# ------------------------------------------------------------------------------------------- up
def _first_admin_password(settings: Settings) -> str | None:
    """Development only: a generated password for the account ``admin`` when no admin can sign in yet."""
    if settings.env != "development":
        return None  # production creates nothing by itself: `threekcal users add NAME --role admin`
    from threekcal.db import accounts
    from threekcal.db.session import session_factory

    with session_factory(settings.database_url)() as session:
        return accounts.ensure_first_admin(session)


def worker_command_exists() -> bool:
    from typer.main import get_command

    group = get_command(app)
    return "worker" in getattr(group, "commands", {})


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "threekcal.cli", *args]


def _masked(database_url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(database_url).render_as_string(hide_password=True)


def _ready_panel(rows: Sequence[tuple[str, str]], notes: Sequence[str]) -> Panel:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for name, value in rows:
        table.add_row(name, value)
    for note in notes:
        table.add_row("", note)
    return Panel(
        table, title="[bold green]ThreeKcal is running[/bold green]", subtitle="Ctrl-C stops everything"
    )


@app.command()
def up(
    host: HostOption = "127.0.0.1",
    api_port: Annotated[int, typer.Option(help="Port of the API.")] = 8000,
    ui_port: Annotated[int, typer.Option(help="Port of the web app.")] = 8501,
    worker: Annotated[bool, typer.Option(help="Run the embedded prediction worker.")] = True,
    startup_timeout: Annotated[
        float, typer.Option(help="Seconds to wait for the servers to answer.")
    ] = 120.0,
) -> None:
    """Migrate the database, then run the API, the worker and the web app until Ctrl-C."""
    settings = _load_settings()
    for port, what, option in ((api_port, "API", "--api-port"), (ui_port, "web app", "--ui-port")):
        try:
            ensure_port_free(host, port, what, option)
        except PortInUse as exc:
            raise _fail(str(exc)) from None
    if api_port == ui_port:
        raise _fail("--api-port and --ui-port must differ")

    from threekcal.db import migrate
    from threekcal.settings import SettingsError

    console.print(f"Migrating the database {_masked(settings.database_url)} …", highlight=False)
    try:
        migrate.upgrade(settings.database_url)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    except Exception as exc:
        raise _fail(f"cannot migrate the database {_masked(settings.database_url)}: {exc}", code=1) from None
    try:
        token = settings.admin_token_value()
    except SettingsError as exc:
        raise _fail(str(exc)) from None
    admin_password = _first_admin_password(settings)

    api_url = f"http://{url_host(host)}:{api_port}"
    ui_url = f"http://{url_host(host)}:{ui_port}"
    env = {
        **os.environ,
        "THREEKCAL_ADMIN_TOKEN": token,
        "THREEKCAL_API_URL": api_url,
        "PYTHONUNBUFFERED": "1",
    }
    children = [Child("api", _cli("api", "--host", host, "--port", str(api_port)), f"{api_url}/health")]
    notes = []
    if not worker:
        notes.append("worker: off (--no-worker); comments wait for a prediction")
    elif worker_command_exists():
        children.append(Child("worker", _cli("worker"), essential=False))
    else:
        notes.append("worker: not available in this installation (no `threekcal worker` command)")
    children.append(
        Child(
            "ui",
            _cli("ui", "--host", host, "--port", str(ui_port), "--api-url", api_url),
            f"{ui_url}/_stcore/health",
        )
    )
    for note in notes:
        console.print(f"[yellow]{note}[/yellow]")

    supervisor = Supervisor(children, env=env)
    supervisor.install_signal_handlers()
    supervisor.start()
    console.print("Starting " + ", ".join(child.name for child in children) + " …")
    try:
        dead = supervisor.wait_healthy(startup_timeout)
    except TimeoutError as exc:
        supervisor.stop()
        raise _fail(str(exc), code=1) from None
    if dead is None and not supervisor.stop_requested.is_set():
        rows = [
            ("Web app", ui_url),
            ("API", api_url),
            ("API docs", f"{api_url}/docs"),
            ("Service token", f"{token}  (bearer token of the account admin)"),
            ("Database", _masked(settings.database_url)),
        ]
        if admin_password is not None:
            rows.insert(3, ("Admin login", "admin (password below, shown once)"))
        console.print(_ready_panel(rows, notes))
        if admin_password is not None:  # one unwrapped line, so it can be copied (and read by tests)
            console.print(
                f"Admin login (development, shown once): admin / {admin_password}  "
                "(manage accounts with `threekcal users`)",
                soft_wrap=True,
                highlight=False,
                markup=False,
            )
        dead = supervisor.supervise()
    if dead is not None:
        code = dead.returncode
        console.print(f"[bold red]{dead.name} exited with status {code}; stopping the others.[/bold red]")
        supervisor.stop()
        raise _fail(f"{dead.name} stopped unexpectedly (exit status {code})", code=1)
    console.print("Stopping …")
    statuses = supervisor.stop()
    console.print("Stopped: " + ", ".join(f"{name} ({status})" for name, status in statuses.items()))
