"""The package stands alone: the built wheel, installed into a fresh virtual environment with only the
runtime dependencies (requirements/runtime.lock, no dev extras) and used from a folder outside the checkout,
imports every module of gateway/, connectors/ and hub/, finds its shipped schemas and mappings, checks a
department's file with `gateway check`, and starts `python -m hub --help`.

This is what catches a runtime import that is only a dev dependency, a package left out of pyproject.toml's
list, data that does not ship, or code that finds its files through the checkout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
UV = REPO / ".tools" / "bin" / "uv"
SAMPLE = REPO / "samples" / "inbox" / "xz_ecology" / "环境行政处罚台账.csv"

# Run inside the fresh environment: import every module of the three packages, from the installed copy.
IMPORT_ALL = """
import importlib, json, pkgutil, sys
names = []
for top in ("gateway", "connectors", "hub"):
    package = importlib.import_module(top)
    names.append(top)
    for info in pkgutil.walk_packages(package.__path__, top + "."):
        if not info.name.endswith(".__main__"):  # runs its command line when imported
            names.append(info.name)
failed = {}
for name in names:
    try:
        importlib.import_module(name)
    except Exception as exc:  # reported, not raised: the test lists every module that fails
        failed[name] = f"{type(exc).__name__}: {exc}"
import gateway, gateway.bundled
print(json.dumps({
    "modules": names,
    "failed": failed,
    "gateway_file": gateway.__file__,
    "schemas": str(gateway.bundled.bundled_dir("schemas")),
    "mappings": str(gateway.bundled.bundled_dir("mappings")),
    "samples_importable": importlib.util.find_spec("samples") is not None,
}))
"""


def _run(cmd: list[str | Path], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in cmd], capture_output=True, text=True, timeout=600, check=False, **kwargs
    )  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the runtime lock and the wheel built from a copy of the tracked files."""
    base = tmp_path_factory.mktemp("wheel")
    source = base / "source"
    # What a clean clone would hold, plus files not committed yet (not the ignored venvs and var/).
    tracked = _run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO)
    assert tracked.returncode == 0, tracked.stderr
    for name in filter(None, tracked.stdout.split("\0")):
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    dist = base / "dist"
    built = _run(
        [UV, "build", "--quiet", "--wheel", "--no-build-isolation", "--python", sys.executable, "-o", dist],
        cwd=source,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = dist.glob("*.whl")
    venv = base / "venv"
    env = {**os.environ, "UV_NO_CONFIG": "1"}
    for step in (
        [UV, "venv", "--quiet", "--python", sys.executable, venv],
        [UV, "pip", "install", "--quiet", "--python", venv / "bin" / "python", "--require-hashes", "-r",
         REPO / "requirements" / "runtime.lock"],
        [UV, "pip", "install", "--quiet", "--python", venv / "bin" / "python", "--no-deps", wheel],
    ):  # fmt: skip
        done = _run(step, env=env)
        assert done.returncode == 0, f"{step}: {done.stderr}"
    return venv


def _outside_env(tmp_path: Path) -> dict[str, str]:
    """No GATEWAY_*, AIRFLOW_* or PYTHONPATH from the test run: the installed package on its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GATEWAY_", "AIRFLOW", "PYTHONPATH"))}
    return {**env, "GATEWAY_HOME": str(tmp_path / "home")}


def test_every_module_imports_from_the_wheel(installed: Path, tmp_path: Path) -> None:
    run = _run([installed / "bin" / "python", "-c", IMPORT_ALL], cwd=tmp_path, env=_outside_env(tmp_path))
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["failed"] == {}
    site = str(installed)
    assert report["gateway_file"].startswith(site)
    # Every module of the checkout's packages is in the wheel (a package missing from pyproject's list).
    in_checkout = {
        ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        for top in ("gateway", "connectors", "hub")
        for path in (REPO / top).rglob("*.py")
        if "migrations" not in path.parts and path.name != "__main__.py"
    }
    assert in_checkout <= set(report["modules"])
    for name in ("schemas", "mappings"):
        assert report[name].startswith(site) and report[name].endswith(f"gateway/_data/{name}")
    assert not report["samples_importable"]  # the demo is not part of the package


def test_shipped_defaults_match_the_checkout(installed: Path) -> None:
    (data,) = installed.glob("lib/python*/site-packages/gateway/_data")
    for name, pattern in (("schemas", "**/*.xsd"), ("mappings", "*.yaml")):
        shipped = {p.relative_to(data / name): p.read_bytes() for p in (data / name).glob(pattern)}
        checkout = {p.relative_to(REPO / name): p.read_bytes() for p in (REPO / name).glob(pattern)}
        assert shipped == checkout


def test_gateway_check_runs_on_a_sample(installed: Path, tmp_path: Path) -> None:
    run = _run(
        [installed / "bin" / "gateway", "check", SAMPLE, "--department", "xz_ecology"],
        cwd=tmp_path,
        env=_outside_env(tmp_path),
    )
    assert run.returncode in {0, 1}, run.stdout + run.stderr
    receipt = json.loads(run.stdout)
    assert receipt["department"] == "xz_ecology"
    assert receipt["rows"] > 0 and receipt["accepted"] > 0
    assert receipt["mapping"] == "xz_ecology_penalty"


def test_the_hub_starts_from_the_wheel(installed: Path, tmp_path: Path) -> None:
    run = _run(
        [installed / "bin" / "python", "-m", "hub", "--help"], cwd=tmp_path, env=_outside_env(tmp_path)
    )
    assert run.returncode == 0, run.stderr
    assert "serve" in run.stdout and "openapi" in run.stdout
