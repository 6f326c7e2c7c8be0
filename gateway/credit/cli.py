"""`gateway credit`: the risk classes' commands at its top (classify, show, runs, model), the early
warnings under `gateway credit warnings`, the double-random draws under `gateway credit draws`, publicity
periods, repairs and objections under `gateway credit publicity`, `… repairs` and `… objections`. Each part
keeps its own commands in its own package; this is where they are put together, and gateway/cli.py mounts
the result."""

from __future__ import annotations

import typer

from gateway.credit.draws.cli import app as draws_app
from gateway.credit.objections.cli import app as objections_app
from gateway.credit.publicity.cli import app as publicity_app
from gateway.credit.repairs_cli import app as repairs_app
from gateway.credit.risk.cli import app as risk_app
from gateway.credit.warnings.cli import app as warnings_app

app = typer.Typer(
    help="信用监管 credit-based supervision: risk classes (internal, never published), early warnings, "
    "double-random draws.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(risk_app)  # no name: classify, show, runs and model are `gateway credit …` themselves
app.add_typer(warnings_app, name="warnings")
app.add_typer(draws_app, name="draws")
app.add_typer(repairs_app, name="repairs")
app.add_typer(objections_app, name="objections")
app.add_typer(publicity_app, name="publicity")
