"""What the figures were measured on: CPU, memory, load, Python and the libraries that do the work.

Benchmark figures mean nothing without the machine; the JSON carries this next to them, and the load average
before and after a run says how busy the (shared) machine was while it ran.
"""

from __future__ import annotations

import os
import platform
import re
import sqlite3
import subprocess
from importlib import metadata
from pathlib import Path

PACKAGES = (
    "pyarrow",
    "numpy",
    "sqlalchemy",
    "psycopg",
    "frictionless",
    "python-calamine",
    "openpyxl",
    "lxml",
    "xmlschema",
    "cryptography",
    "fastapi",
    "uvicorn",
    "requests",
    "apache-airflow",
)


def _lscpu() -> dict[str, str]:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    wanted = ("Model name", "CPU(s)", "Thread(s) per core", "Hypervisor vendor", "L2 cache", "L3 cache")
    found = {}
    for line in out.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in wanted:
            found[key.strip()] = value.strip()
    return found


def _mem_total_gib() -> float | None:
    try:
        text = Path("/proc/meminfo").read_text()
    except OSError:
        return None
    match = re.search(r"MemTotal:\s+(\d+) kB", text)
    return round(int(match.group(1)) / 2**20, 1) if match else None


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def describe(postgres_version: str | None) -> dict[str, object]:
    return {
        "cpu": _lscpu(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "memory_gib": _mem_total_gib(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": postgres_version,
        "packages": {name: _version(name) for name in PACKAGES},
    }
