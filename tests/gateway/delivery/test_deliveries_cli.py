"""`gateway deliveries list | retry` (gateway/deliveries_cli.py) on a gateway with a dead batch."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from gateway.deliveries_cli import app
from gateway.delivery import ledger, states
from gateway.delivery.policy import DeliveryPolicy
from gateway.delivery.service import DeliveryFailed, build_pending, deliver_all
from gateway.settings import Settings
from gateway.transfer import Sender

from .conftest import ClientFactory, HubFactory, free_port_url

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def cli_env(world: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("GATEWAY_HOME", str(world.home))
    monkeypatch.setenv("GATEWAY_DATABASE_URL", world.database_url)
    monkeypatch.setenv("COLUMNS", "240")  # rich tables would wrap batch ids at the runner's 80 columns
    return world


def test_list_shows_the_dead_batch_and_retry_reopens_it(
    cli_env: Settings, hub: HubFactory, client_for: ClientFactory, sender: Sender
) -> None:
    policy = DeliveryPolicy(max_attempts=1, backoff_base=timedelta(0))
    built = build_pending(cli_env)
    with pytest.raises(DeliveryFailed):
        deliver_all(cli_env, built, client=client_for(free_port_url()), sender=sender, policy=policy)
    runner = CliRunner()

    listed = runner.invoke(app, ["list", "--status", "dead", "--json"])
    assert listed.exit_code == 0, listed.output
    data = json.loads(listed.output)
    assert [b["batch_id"] for b in data["batches"]] == [built[0]]
    assert data["batches"][0]["last_code"] == "hub_unavailable"
    assert data["counts"]["dead"] == 1 and data["counts"]["built"] == len(built) - 1

    table = runner.invoke(app, ["list"])
    assert table.exit_code == 0 and "1 dead batches" in table.output and built[0] in table.output

    assert runner.invoke(app, ["list", "--status", "lost"]).exit_code != 0
    assert runner.invoke(app, ["retry"]).exit_code != 0
    assert runner.invoke(app, ["retry", built[1]]).exit_code == 1  # built, not dead: nothing to retry

    retried = runner.invoke(app, ["retry", "--all-dead"])
    assert retried.exit_code == 0 and f"{built[0]}: dead → sent" in retried.output
    assert ledger.load(cli_env, built[0]).status == states.SENT
    summary = deliver_all(cli_env, [], client=client_for(hub()), sender=sender, policy=policy)
    assert summary["acknowledged"] == len(built) and summary["dead"] == []
    assert "no dead batches" in runner.invoke(app, ["retry", "--all-dead"]).output


class _Recorder:
    """A gateway.progress observer that keeps what it is told."""

    def __init__(self) -> None:
        self.begun: list[tuple[str, int | None]] = []
        self.advanced: list[tuple[str, int]] = []

    def begin(self, stage: str, total: int | None) -> None:
        self.begun.append((stage, total))

    def advance(self, stage: str, amount: int) -> None:
        self.advanced.append((stage, amount))


def test_a_delivery_run_reports_each_batch_to_the_progress_bars(
    cli_env: Settings,
    hub: HubFactory,
    client_for: ClientFactory,
    sender: Sender,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from gateway import progress
    from gateway.cli import app as gateway_app

    built = build_pending(cli_env)
    recorder = _Recorder()
    url = hub()
    with progress.observed_by(recorder):
        summary = deliver_all(cli_env, built, client=client_for(url), sender=sender)
    assert recorder.begun == [(progress.BATCHES, len(built))]
    assert recorder.advanced == [(progress.BATCHES, 1)] * len(built) and summary["acknowledged"] == len(built)

    # `gateway deliver` wraps the same run in bars, drawn only on a terminal: here stdout holds the summary.
    monkeypatch.setenv("GATEWAY_HUB_URL", url)
    result = CliRunner().invoke(gateway_app, ["deliver"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("built 0 batches;") and result.stderr == ""
