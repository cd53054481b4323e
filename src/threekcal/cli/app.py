"""The Typer application that every command module registers on."""

import typer

app = typer.Typer(
    name="threekcal",
    help="ThreeKcal: collect comments, predict their emotion, label them, measure the model.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
