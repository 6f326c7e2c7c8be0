"""`python -m gateway.credit.lookup …`: the same commands as `gateway lookup …` once gateway/cli.py mounts
gateway.credit.lookup.cli.app (the benchmark starts the server this way)."""

from gateway.credit.lookup.cli import app

app(prog_name="gateway lookup")
