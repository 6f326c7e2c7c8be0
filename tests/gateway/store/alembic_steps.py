"""Move a test database to one revision, up or down, as an operator's `alembic` would."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from gateway.store.db import MIGRATIONS, engine_for


def step(url: str, action: str, revision: str) -> None:
    """``action``: "upgrade" or "downgrade"; ``revision``: an id, or "head"."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine_for(url).begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, action)(config, revision)
