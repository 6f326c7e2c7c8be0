"""gateway/'s layers: its dependencies point one way, the store at the bottom.

Read from the source with ``ast``: every import of every module under gateway/, at the top of a file or
inside a function (a lazy import is an import all the same), relative ones made absolute.

* gateway is a library: it never imports Airflow, the connectors, the DAGs, the reference hub or the samples.
* The store is at the bottom. gateway.store imports nothing of gateway but gateway.store itself, the
  settings, the private-file helpers (gateway.transfer.private_files) and the values it stores: a record type
  (gateway.schema.model, and gateway.schema.conditions, which picks out a record type's withdrawals) and a row
  error (gateway.row_errors). Nothing it reaches that way imports the store again, so entities, validation,
  ingest, resolution and delivery build on the store and never the other way round.
* Delivery builds on the store and the protocol, not on what fills the outbox: nothing gateway.delivery
  reaches is ingest (ingest, processing, landing, workbook_ingest, source_units), entities or resolution.
  Settling the resolution queue before batching is gateway.outbound's, above both.
* Credit supervision (gateway.credit) sits on top: it reads the store and nothing of the gateway's flow
  reaches it — not intake, not the store, not delivery — so the internal risk class cannot find its way into a
  batch for the province; and it never reaches delivery or ingest itself.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

GATEWAY = Path(__file__).resolve().parents[2] / "gateway"
NEVER = ("airflow", "connectors", "dags", "hub", "samples")
STORE_MAY_USE = (
    "gateway.store",
    "gateway.settings",
    "gateway.transfer.private_files",
    "gateway.schema.model",
    "gateway.schema.conditions",
    "gateway.row_errors",
    "gateway.arrow_bytes",  # a leaf: byte scans of Arrow text columns, shared with validation
)
NOT_FOR_DELIVERY = (
    "gateway.ingest",
    "gateway.processing",
    "gateway.landing",
    "gateway.workbook_ingest",
    "gateway.source_units",
    "gateway.entities",
    "gateway.resolution",
    "gateway.resolution_queue",
    "gateway.outbound",
)


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


@cache
def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(GATEWAY.rglob("*.py")):
        parts = path.relative_to(GATEWAY.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


@cache
def _imports(module: str) -> frozenset[str]:
    """The modules ``module`` imports; ``from package import name`` counts package.name when it is one."""
    path = _modules()[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            names.add(base)
            names.update(f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in _modules())
    return frozenset(names)


def _ours(module: str) -> set[str]:
    return {name for name in _imports(module) if _within(name, ("gateway",))}


def _reached(start: str) -> set[str]:
    """Every module of gateway that ``start`` imports, directly or through others."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        for name in _ours(todo.pop()):
            if name not in seen and name in _modules():
                seen.add(name)
                todo.append(name)
    return seen


def _in(package: str) -> list[str]:
    return [m for m in _modules() if _within(m, (package,))]


def test_the_walk_sees_gateway_and_resolves_its_imports() -> None:
    assert {"gateway.store.records", "gateway.delivery.service", "gateway.ingest"} <= set(_modules())
    assert "gateway.store.tables" in _imports("gateway.store.records")
    assert "gateway.delivery.ledger" in _imports("gateway.delivery.service")  # from gateway.delivery import …
    assert "gateway.outbound" in _imports("gateway.cli")  # imported inside a command


def test_gateway_never_imports_airflow_connectors_dags_hub_or_samples() -> None:
    found = {
        f"{module} imports {name}"
        for module in _modules()
        for name in _imports(module)
        if name.split(".")[0] in NEVER
    }
    assert found == set()


def test_the_store_imports_only_itself_the_settings_and_the_values_it_stores() -> None:
    found = {
        f"{module} imports {name}"
        for module in _in("gateway.store")
        for name in _ours(module)
        if not _within(name, STORE_MAY_USE)
    }
    assert found == set()


def test_nothing_the_store_reaches_imports_the_store_again() -> None:
    below = {name for module in _in("gateway.store") for name in _reached(module)}
    found = {
        f"{name} imports {other}"
        for name in below
        if not _within(name, ("gateway.store",))
        for other in _ours(name)
        if _within(other, ("gateway.store",))
    }
    assert found == set()


def test_delivery_reaches_neither_ingest_nor_entities_nor_resolution() -> None:
    found = {
        f"{module} reaches {name}"
        for module in _in("gateway.delivery")
        for name in _reached(module)
        if _within(name, NOT_FOR_DELIVERY)
    }
    assert found == set()


# What feeds the province and what fills the store: none of it may reach the credit package.
FLOW = (
    "gateway.store",
    "gateway.delivery",
    "gateway.outbound",
    "gateway.ingest",
    "gateway.processing",
    "gateway.transfer",
    "gateway.entities",
    "gateway.resolution",
)


def test_nothing_of_the_flow_reaches_the_credit_package() -> None:
    found = {
        f"{module} reaches {name}"
        for module in _modules()
        if _within(module, FLOW)
        for name in _reached(module)
        if _within(name, ("gateway.credit",))
    }
    assert found == set()


def test_the_credit_package_reaches_neither_delivery_nor_ingest() -> None:
    found = {
        f"{module} reaches {name}"
        for module in _in("gateway.credit")
        for name in _reached(module)
        if _within(name, ("gateway.delivery", "gateway.outbound", *NOT_FOR_DELIVERY[:5]))
    }
    assert found == set()
