"""The protocol package stands alone: the hub and a second implementation depend on that."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
HEAVY = {"airflow", "sqlalchemy", "pyarrow", "numpy", "fastapi", "xmlschema", "yaml"}


def test_gateway_transfer_imports_nothing_else_of_ours() -> None:
    code = "import json, sys; import gateway.transfer; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    modules = json.loads(out.stdout)
    ours = {m for m in modules if m.split(".")[0] in ("gateway", "hub", "connectors", "dags", "plugins")}
    assert ours == {"gateway"} | {m for m in ours if m.startswith("gateway.transfer.")} | {"gateway.transfer"}
    assert {m.split(".")[0] for m in modules} & HEAVY == set()
