"""How long the dag-processor spends importing each file in dags/, each in a fresh interpreter.

Airflow re-parses DAG files constantly, so the file's own import time is what matters: it is measured after
``airflow.sdk`` is already imported (the dag-processor has it loaded), and the interpreter's whole start-up
is reported beside it for reference.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

PROBE = """
import json, runpy, sys, time
start = time.perf_counter()
import airflow.sdk  # noqa: F401 - what the dag-processor has loaded before it parses a file
sdk = time.perf_counter() - start
sys.path.insert(0, sys.argv[2])
start = time.perf_counter()
runpy.run_path(sys.argv[1])
print(json.dumps({"sdk_s": sdk, "file_s": time.perf_counter() - start}))
"""


def measure(dags: Path) -> dict[str, dict[str, float]]:
    out = {}
    for path in sorted(dags.glob("*.py")):
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", PROBE, str(path), str(dags)], capture_output=True, text=True, check=True
        )
        total = time.perf_counter() - start
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        out[path.name] = {**figures, "interpreter_s": total}
    return out
