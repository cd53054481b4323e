"""Command line: ``threekcal --help`` lists every command. Each module registers its own commands."""

from threekcal.cli import bulk, db, model, models, pipeline, server, stats, users  # noqa: F401  (registers commands)
from threekcal.cli.app import app

__all__ = ["app"]
