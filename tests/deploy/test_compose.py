"""docker-compose.yml and the Dockerfile, checked without Docker (which cannot run on this machine).

The compose file must be valid Compose (the specification's JSON schema, vendored beside this file from
compose-spec/compose-spec: see its ``$comment``), and everything it asks of the image must exist there:
each service's command and health check parses with the installed Airflow, gateway and hub command lines,
each environment variable is one that Airflow (core or the Celery provider) or the gateway reads, the
paths it names are put in place by the Dockerfile, and the Dockerfile installs from the hash-pinned lock
files and copies folders that exist and are not left out of the build context.
"""

from __future__ import annotations

import fnmatch
import importlib
import importlib.util
import json
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import typer
import yaml
from typer.main import get_command

from samples.stack import AIRFLOW
from tests.paths import REPO_ROOT

COMPOSE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"
SCHEMA = Path(__file__).with_name("compose-spec.json")
# What an operator puts in .env (docs/deployment.md); the values only have to be well-formed.
SECRETS = {
    "POSTGRES_PASSWORD": "pg-secret",
    "AIRFLOW_FERNET_KEY": "f" * 43 + "=",
    "AIRFLOW_JWT_SECRET": "jwt-secret",
    "AIRFLOW_API_SECRET_KEY": "api-secret",
    "GATEWAY_KEY_PASSPHRASE": "gateway-passphrase",
    "HUB_KEY_PASSPHRASE": "hub-passphrase",
}
AIRFLOW_SERVICES = (
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
)
SERVICES = {"postgres", "redis", "hub", *AIRFLOW_SERVICES}
# Documented by the postgres image (its docker-entrypoint.sh); nothing installed here reads them.
POSTGRES_IMAGE_VARIABLES = {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"}
# Commands of the third-party images, in their own services only.
IMAGE_TOOLS = {"pg_isready": "postgres", "redis-cli": "redis"}
# `python -m X` and console scripts → the module holding their command line.
ENTRY_MODULES = {"hub": "hub.cli", "gateway": "gateway.cli"}
REGISTRY_WORDS = ("index-url", "extra-index", "find-links", "pypi", "pythonhosted", "trusted-host")
_VARIABLE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


# ---------------------------------------------------------------------------------------- helpers
def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Compose's interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, $$."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1) or match.group(4)
        op, arg = match.group(2), match.group(3) or ""
        value = env.get(name)
        unset = value is None or (op is not None and op.startswith(":") and value == "")
        if op in (":-", "-"):
            return arg if unset else str(value)
        if op in (":?", "?"):
            if unset:
                raise KeyError(f"{name}: {arg}")
            return str(value)
        return "" if value is None else value

    return _VARIABLE.sub(one, text)


def resolved(node: Any, env: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [resolved(item, env) for item in node]
    if isinstance(node, dict):
        return {key: resolved(value, env) for key, value in node.items()}
    return node


def argv_list(value: str | list[str]) -> list[str]:
    return shlex.split(value) if isinstance(value, str) else [str(v) for v in value]


def commands_of(service: Mapping[str, Any]) -> Iterator[list[str]]:
    """Every command line a service runs: its command (each line of a ``bash -c`` script) and its health
    check."""
    entrypoint = argv_list(service.get("entrypoint") or [])
    command = argv_list(service.get("command") or [])
    if entrypoint[:1] == ["/bin/bash"] and entrypoint[1:] == ["-c"]:
        for line in command[0].splitlines():
            words = shlex.split(line, comments=True)
            if words and words[0] != "set":
                yield words
    elif command:
        yield entrypoint + command
    test = (service.get("healthcheck") or {}).get("test")
    if test:
        kind, *rest = argv_list(test)
        yield shlex.split(rest[0]) if kind == "CMD-SHELL" else rest


def click_command(module_name: str) -> Any:
    """The (click) command of a typer program: its ``app``, or a ``main`` that ``typer.run`` runs. Typer
    carries its own copy of click, so groups are told apart by what they can do, not by class."""
    module = importlib.import_module(ENTRY_MODULES.get(module_name, module_name))
    app = getattr(module, "app", None)
    if isinstance(app, typer.Typer):
        return get_command(app)
    wrapper = typer.Typer()
    wrapper.command()(module.main)
    return get_command(wrapper)


def parse_click(command: Any, args: list[str]) -> None:
    """Parse ``args`` as the program would, down to the sub-command, without running anything."""
    name = command.name or "command"
    while hasattr(command, "get_command"):
        name, *args = args
        sub = command.get_command(command.context_class(command), name)
        assert sub is not None, f"no sub-command {name!r}"
        command = sub
    command.make_context(name, list(args))


def _probe_env(env: Mapping[str, str], tmp_path: Path) -> dict[str, str]:
    """A service's environment for a local child: a scratch AIRFLOW_HOME, and Airflow's own SQLite there
    instead of the compose network's PostgreSQL (parsing and --help never connect, but stay safe)."""
    child = {k: v for k, v in env.items() if not k.startswith("AIRFLOW__DATABASE__")}
    child.update({"AIRFLOW_HOME": str(tmp_path / "airflow"), "PATH": str(Path(AIRFLOW).parent)})
    return child


def airflow_probe(env: Mapping[str, str], tmp_path: Path, payload: dict[str, Any]) -> dict[str, Any]:
    """In a child with ``env`` (a service's environment) and a scratch AIRFLOW_HOME: parse each Airflow
    command line with Airflow's own parser, ask each sub-command for its --help, import each dotted
    attribute, and list the configuration options Airflow and its providers know."""
    script = """
import importlib, json, sys
payload = json.loads(sys.argv[1])
from airflow.configuration import conf
conf.load_providers_configuration()
from airflow.cli.cli_parser import get_parser
parser = get_parser()
for args in payload["argv"]:
    parser.parse_args(args)
for sub in payload["help"]:
    try:
        parser.parse_args([*sub, "--help"])
    except SystemExit as exc:
        assert exc.code in (0, None), (sub, exc.code)
    else:
        raise AssertionError(f"airflow {' '.join(sub)} --help did not answer")
for dotted in payload["attributes"]:
    module, _, name = dotted.rpartition(".")
    try:
        getattr(importlib.import_module(module), name)
    except Exception as exc:
        raise SystemExit(f"cannot import {dotted}, which a service runs: {exc!r}") from exc
options = {s: sorted(d.get("options", {})) for s, d in conf.configuration_description.items()}
print("PROBE " + json.dumps(options))
"""
    result = subprocess.run(
        [sys.executable, "-c", script, json.dumps(payload)],
        env=_probe_env(env, tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (line,) = [x for x in result.stdout.splitlines() if x.startswith("PROBE ")]
    return dict(json.loads(line.removeprefix("PROBE ")))


def source_text(*folders: str) -> str:
    return "\n".join(
        path.read_text(encoding="utf-8")
        for folder in folders
        for path in sorted((REPO_ROOT / folder).rglob("*.py"))
    )


# --------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services as Compose runs them with the secrets of an .env file in place."""
    return dict(resolved(compose, SECRETS)["services"])


# ------------------------------------------------------------------------------------------ tests
def test_the_file_is_valid_compose(compose: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    errors = [
        f"{list(e.absolute_path)}: {e.message}"
        for e in jsonschema.Draft7Validator(schema).iter_errors(compose)
    ]
    assert errors == []
    assert set(compose["services"]) == SERVICES


def test_secrets_are_required_never_defaulted() -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    for name in SECRETS:
        uses = re.findall(r"\$\{" + name + r"([^}]*)\}", text)
        assert uses, f"{name} is not used"
        assert all(use.startswith(":?") for use in uses), f"{name} must be required (${{{name}:?…}}): {uses}"
    with pytest.raises(KeyError, match="POSTGRES_PASSWORD"):
        resolved(yaml.safe_load(text), {k: v for k, v in SECRETS.items() if k != "POSTGRES_PASSWORD"})


def test_airflow_components_agree_on_what_airflow_3_needs(services: dict[str, dict[str, Any]]) -> None:
    shared = (
        "AIRFLOW__CORE__EXECUTOR",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        "AIRFLOW__CELERY__BROKER_URL",
        "AIRFLOW__CELERY__RESULT_BACKEND",
        "AIRFLOW__CORE__FERNET_KEY",
        "AIRFLOW__API_AUTH__JWT_SECRET",
        "AIRFLOW__API__SECRET_KEY",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
        "GATEWAY_DATABASE_URL",
    )
    envs = {name: services[name]["environment"] for name in AIRFLOW_SERVICES}
    for key in shared:
        values = {name: env.get(key) for name, env in envs.items()}
        assert len(set(values.values())) == 1 and None not in values.values(), f"{key}: {values}"
    worker = envs["airflow-worker"]
    assert worker["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert worker["AIRFLOW__API_AUTH__JWT_SECRET"] == SECRETS["AIRFLOW_JWT_SECRET"]
    assert worker["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql")
    # The execution API is the api-server's, at the port its command serves on.
    api = services["airflow-apiserver"]
    port = argv_list(api["command"])[argv_list(api["command"]).index("--port") + 1]
    assert worker["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == f"http://airflow-apiserver:{port}/execution/"
    assert worker["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:")
    assert "@postgres:5432/" in worker["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    # Migrations, the pool and the keys come first.
    for name in (*AIRFLOW_SERVICES[1:], "hub"):
        assert services[name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"


def test_workers_scale(services: dict[str, dict[str, Any]]) -> None:
    worker = services["airflow-worker"]
    assert worker["deploy"]["replicas"] >= 1
    # A fixed container name or a published host port would stop `--scale airflow-worker=N`.
    assert "container_name" not in worker and "ports" not in worker
    assert argv_list(worker["command"]) == ["airflow", "celery", "worker"]


def _mounts(service: Mapping[str, Any]) -> dict[str, str]:
    """Mount target → source (a named volume or a host path)."""
    mounts = {}
    for spec in service.get("volumes", []):
        source, target, *_ = spec.split(":")
        mounts[target] = source
    return mounts


def test_drop_folders_landing_and_keys_are_shared(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    declared = set(compose["volumes"])
    for name in ("airflow-worker", "airflow-triggerer", "airflow-init"):
        env, mounts = services[name]["environment"], _mounts(services[name])
        # The triggerer's inbox watcher and the workers see the same drop zone the gateway's settings name.
        assert mounts[env["GATEWAY_DROPZONE"]] == "./var/dropzone"
        assert mounts[env["GATEWAY_LANDING_DIR"]] == "landing"
        assert mounts[env["GATEWAY_KEYS_DIR"]] == "keys"
        assert mounts[env["GATEWAY_HOME"]] == "gateway-home"
        for path in (
            env["GATEWAY_HUB_VERIFY"],
            env["GATEWAY_HUB_CLIENT_CERT"],
            env["GATEWAY_HUB_CLIENT_KEY"],
        ):
            assert str(Path(path).parent) in mounts
    hub = _mounts(services["hub"])
    assert hub["/srv/keys"] == "keys"
    named = {source for service in services.values() for source in _mounts(service).values()}
    assert {s for s in named if not s.startswith(".")} <= declared


def test_every_command_exists_and_parses(services: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    airflow_argv: list[list[str]] = []
    attributes: list[str] = []
    checked = []
    for name, service in services.items():
        for argv in commands_of(service):
            program = argv[0]
            checked.append(f"{name}: {' '.join(argv[:3])}")
            if program == "airflow":
                airflow_argv.append(argv[1:])
            elif program == "python" and argv[1] == "-m":
                assert importlib.util.find_spec(argv[2]) is not None, argv
                parse_click(click_command(argv[2]), argv[3:])
            elif program == "python" and argv[1] == "-c":
                compile(argv[2], f"<{name} health check>", "exec")
            elif program == "gateway":
                parse_click(click_command("gateway"), argv[1:])
            elif program == "celery":
                assert (Path(AIRFLOW).parent / "celery").exists()
                attributes.append(argv[argv.index("--app") + 1])
            else:
                assert IMAGE_TOOLS.get(program) == name, f"{name} runs {program!r}, which nothing here checks"
    # Each Airflow sub-command answers --help, as an operator would try it (in the same child).
    help_for = sorted({tuple(a[: 2 if a[0] in ("celery", "db", "jobs") else 1]) for a in airflow_argv})
    airflow_probe(
        services["airflow-worker"]["environment"],
        tmp_path,
        {"argv": airflow_argv, "attributes": attributes, "help": [list(sub) for sub in help_for]},
    )
    assert len(checked) >= 12


def test_environment_variables_are_ones_that_are_read(
    services: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    options = airflow_probe(
        services["airflow-worker"]["environment"], tmp_path, {"argv": [], "attributes": [], "help": []}
    )
    gateway_source = source_text("gateway", "connectors", "dags", "hub")
    hub_source = source_text("hub", "gateway/transfer")
    unknown = []
    for name, service in services.items():
        for key in service.get("environment", {}):
            if key.startswith("AIRFLOW__"):
                section, option = key.removeprefix("AIRFLOW__").lower().split("__", 1)
                known = option in options.get(section, [])
            elif key.startswith("GATEWAY_"):
                known = f'"{key}"' in gateway_source or f'"{key.removesuffix("_FILE")}"' in gateway_source
            elif key.startswith("HUB_"):
                known = f'"{key}"' in hub_source
            else:
                known = name == "postgres" and key in POSTGRES_IMAGE_VARIABLES
            if not known:
                unknown.append(f"{name}: {key}")
    assert unknown == []


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def _ignored(path: str) -> bool:
    patterns = [
        p.strip()
        for p in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if p.strip() and not p.startswith("#")
    ]
    return any(fnmatch.fnmatch(path, p) or fnmatch.fnmatch(path.split("/")[0], p) for p in patterns)


def test_the_dockerfile_builds_from_the_locks_and_existing_files() -> None:
    instructions = _dockerfile_instructions()
    assert next(arg for op, arg in instructions if op == "FROM").startswith("python:3.11-slim")
    copied_to: list[str] = []
    for op, arg in instructions:
        if op != "COPY":
            continue
        *sources, target = arg.split()
        copied_to.append(target.rstrip("/"))
        if sources[0].startswith("--from="):
            continue
        for source in sources:
            assert (REPO_ROOT / source).exists(), f"COPY {source}: no such path"
            assert not _ignored(source.rstrip("/")), f"COPY {source}: left out by .dockerignore"
    # Install steps: uv from the bootstrap lock, the dependencies from the runtime lock, the project alone.
    steps = [step.strip() for op, arg in instructions if op == "RUN" for step in arg.split("&&")]
    runs = " ".join(steps)
    for lock in ("bootstrap.lock", "runtime.lock"):
        (step,) = [s for s in steps if s.endswith(f"/src/requirements/{lock}")]
        assert "--require-hashes" in step.split(), step
    (step,) = [s for s in steps if s.endswith("/dist/*.whl")]
    assert "--no-deps" in step.split(), step
    # The build backend the awk program takes from main.lock: setuptools alone, with its hashes.
    (program,) = re.findall(r"awk '([^']+)' /src/requirements/main.lock", runs)
    picked = subprocess.run(
        ["awk", program, str(REPO_ROOT / "requirements" / "main.lock")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert re.findall(r"^([a-z0-9-]+)==", picked, re.MULTILINE) == ["setuptools"]
    assert picked.count("--hash=sha256:") >= 1
    # What the compose file expects inside the image.
    env = dict(
        item.split("=", 1) for op, arg in instructions if op == "ENV" for item in arg.split() if "=" in item
    )
    for path in (
        "/opt/airflow/dags",
        "/opt/airflow/plugins",
        "/opt/gateway/schemas",
        "/opt/gateway/mappings",
    ):
        assert path in copied_to
    assert env["GATEWAY_SCHEMAS_DIR"] == "/opt/gateway/schemas"
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == "/opt/airflow/dags"
    assert "/opt/gateway/schemas" in argv_list(
        yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]["hub"]["command"]
    )


def test_no_package_index_is_named() -> None:
    for path in (DOCKERFILE, COMPOSE, DOCKERIGNORE):
        text = path.read_text(encoding="utf-8").lower()
        assert [word for word in REGISTRY_WORDS if word in text] == [], path.name
