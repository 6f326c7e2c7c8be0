"""Where the shipped defaults — the record schemas (schemas/) and the mappings (mappings/) — are found.

The repository keeps them at its top level, beside dags/ (a fixed layout: they are data that operators and
departments read, not code). The wheel carries the same folders as package data under ``gateway/_data/``
(pyproject.toml maps them there), so an installed gateway finds its defaults without a checkout. A
deployment points at its own folders with ``GATEWAY_SCHEMAS_DIR`` / ``GATEWAY_MAPPINGS_DIR``
(gateway.settings); these are only the defaults.

>>> bundled_dir("mappings").joinpath("defaults.yaml").is_file()
True
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

BundledName = Literal["schemas", "mappings"]
_PACKAGE = Path(__file__).resolve().parent


def bundled_dir(name: BundledName) -> Path:
    """The shipped folder ``name``: inside the installed package, or — in a checkout, where the package is
    used in place (an editable install, the tests) — at the repository's top level. Setuptools' editable
    installs do not map data folders into the package, hence the second place."""
    for candidate in (_PACKAGE / "_data" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"the gateway's default {name}/ folder is missing from {_PACKAGE}: reinstall the package, "
        f"or set GATEWAY_{name.upper()}_DIR to a folder of your own"
    )
