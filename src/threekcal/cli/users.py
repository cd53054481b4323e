"""``threekcal users add|list|disable|enable|reset-password|token|revoke-token``: accounts and tokens."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from threekcal.cli.app import app

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

console = Console()
errors = Console(stderr=True)
users_app = typer.Typer(help="Accounts (admin | annotator) and personal API tokens.", no_args_is_help=True)
app.add_typer(users_app, name="users")

NameArgument = Annotated[str, typer.Argument(help="The username.")]
PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin.")
]


def _fail(message: str, code: int = 1) -> typer.Exit:
    errors.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


@contextmanager
def _session() -> Iterator[Session]:
    from pydantic import ValidationError

    from threekcal.db.accounts import AccountError
    from threekcal.db.session import session_factory
    from threekcal.settings import SettingsError, get_settings
    from threekcal.validation import InputError

    try:
        url = get_settings().database_url
    except (SettingsError, ValidationError) as exc:
        raise _fail(f"the configuration cannot be used: {exc}", 2) from None
    with session_factory(url)() as session:
        try:
            yield session
        except (AccountError, InputError) as exc:
            session.rollback()
            raise _fail(str(exc)) from None


def _password(from_stdin: bool) -> tuple[str, bool]:
    """The password to set, and whether it was generated (then it is printed once)."""
    from threekcal.db.accounts import generate_password

    if not from_stdin:
        return generate_password(), True
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise _fail("--password-stdin given but stdin holds no password", 2)
    return line, False


def _show_password(username: str, password: str) -> None:
    console.print(f"Password of [bold]{escape(username)}[/bold] (shown once, not stored): ", end="")
    console.print(password, markup=False, highlight=False, soft_wrap=True)


@users_app.command("add")
def add(
    name: NameArgument,
    role: Annotated[str, typer.Option("--role", help="admin or annotator.")] = "annotator",
    password_stdin: PasswordStdin = False,
) -> None:
    """Create an account; without --password-stdin a password is generated and printed once."""
    from threekcal.db import accounts

    password, generated = _password(password_stdin)
    with _session() as session:
        user = accounts.create_user(session, name, role=role, password=password)
        console.print(f"[green]created[/green] {escape(user.username)} ({user.role})")
    if generated:
        _show_password(user.username, password)


@users_app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json", help="One JSON array.")] = False) -> None:
    """Accounts with their role, state, times and personal tokens."""
    from threekcal.db import accounts

    with _session() as session:
        rows = []
        for user in accounts.list_users(session):
            tokens = accounts.tokens_of(session, user.id)
            rows.append(
                {
                    "username": user.username,
                    "role": user.role,
                    "active": user.active,
                    "has_password": user.password_hash is not None,
                    "created_at": user.created_at.isoformat(),
                    "last_login_at": user.last_login_at.isoformat() if user.last_login_at else None,
                    "tokens": [
                        {
                            "id": token.id,
                            "label": token.label,
                            "created_at": token.created_at.isoformat(),
                            "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
                            "revoked": token.revoked_at is not None,
                        }
                        for token in tokens
                    ],
                }
            )
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table("username", "role", "active", "created", "last login", "tokens (id: label, last used)")
    for row in rows:
        tokens = ", ".join(
            f"{t['id']}: {t['label'] or '-'}{' (revoked)' if t['revoked'] else ''}"
            f" {t['last_used_at'] or 'never'}"
            for t in row["tokens"]
        )
        table.add_row(
            escape(row["username"]),
            row["role"],
            "yes" if row["active"] else "[red]no[/red]",
            row["created_at"][:19],
            (row["last_login_at"] or "never")[:19],
            escape(tokens),
        )
    console.print(table)


@users_app.command("disable")
def disable(name: NameArgument) -> None:
    """Disable an account: its logins, login tokens and personal tokens stop working at once."""
    from threekcal.db import accounts

    with _session() as session:
        accounts.set_active(session, name, False)
    console.print(f"[yellow]disabled[/yellow] {escape(name)}")


@users_app.command("enable")
def enable(name: NameArgument) -> None:
    """Enable a disabled account again."""
    from threekcal.db import accounts

    with _session() as session:
        accounts.set_active(session, name, True)
    console.print(f"[green]enabled[/green] {escape(name)}")


@users_app.command("reset-password")
def reset_password(name: NameArgument, password_stdin: PasswordStdin = False) -> None:
    """Set a new password (generated and printed once unless --password-stdin); `users enable` activates."""
    from threekcal.db import accounts

    password, generated = _password(password_stdin)
    with _session() as session:
        accounts.reset_password(session, name, password)
    console.print(f"[green]password changed[/green] for {escape(name)}")
    if generated:
        _show_password(name, password)


@users_app.command("token")
def token(
    name: NameArgument,
    label: Annotated[str | None, typer.Option("--label", help="What the token is for.")] = None,
) -> None:
    """Issue a personal API token (a bearer token); it is shown once and stored hashed."""
    from threekcal.db import accounts

    with _session() as session:
        issued = accounts.issue_token(session, name, label)
    console.print(f"Token {issued.id} of [bold]{escape(name)}[/bold] (shown once, not stored): ", end="")
    console.print(issued.token, markup=False, highlight=False, soft_wrap=True)


@users_app.command("revoke-token")
def revoke_token(token_id: Annotated[int, typer.Argument(help="The token's id (users list).")]) -> None:
    """Revoke a personal API token."""
    from threekcal.db import accounts

    with _session() as session:
        accounts.revoke_token(session, token_id)
    console.print(f"[yellow]revoked[/yellow] token {token_id}")
