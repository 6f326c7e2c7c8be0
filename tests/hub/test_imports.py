"""The hub uses only the protocol and the schema loader, never the gateway's store or pipeline."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_hub_imports_only_the_protocol_and_the_schema_loader() -> None:
    code = "import json, sys; import hub.cli, hub.app; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    ours = {
        m for m in json.loads(out.stdout) if m.split(".")[0] in ("gateway", "connectors", "dags", "plugins")
    }
    assert ours, "the hub should use gateway.transfer"
    assert all(m == "gateway" or m.startswith(("gateway.transfer", "gateway.schema")) for m in ours), ours
