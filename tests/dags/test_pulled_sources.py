"""Pulled-source DAGs end to end: the stand-in credit/disclosure API, a 前置库 and the court share, through
dag.test() and deliver_to_province to the reference hub — first run, a second run that sends nothing, then an
update and withdrawals reaching the hub as operations u and d."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import datetime

import pytest

from gateway.settings import Settings
from hub.server import ServerThread
from samples.demo import hub_report, source_connections
from samples.staging.make_staging import change_row, create, delete_row
from samples.standins.credit_api import BEIJING, create_app
from tests.dags.dagrun import outbox_events, run
from tests.paths import REPO_ROOT

pytestmark = pytest.mark.e2e
FEEDS = REPO_ROOT / "samples" / "feeds" / "judicial"
# The stand-in serves the data as it stood at this moment: before the later removals of the sample data.
EARLY = datetime(2025, 6, 1, tzinfo=BEIJING)


@pytest.fixture(scope="module")
def standin() -> Iterator[tuple[str, object]]:
    app = create_app(as_of=EARLY)
    with ServerThread(app) as url:
        yield url, app.state.standin


@pytest.fixture
def sources(gateway_env: Settings, standin: tuple[str, object], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The demo's AIRFLOW_CONN_* for the four pulled families, pointing at the stand-ins, so that the
    Connections the demo and the docs describe are the ones the connectors are tested with."""
    settings = gateway_env
    staging = settings.home / "staging" / "xz_amr_staging.db"
    if not staging.exists():
        create(staging)
    feed = settings.home / "feeds" / "judicial"
    feed.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(FEEDS / "judicial_20261101T0800_0001.xml", feed / "judicial_20261101T0800_0001.xml")
    for name, value in source_connections(settings, standin[0]).items():
        monkeypatch.setenv(name, value)
    return settings


def record_types(settings: Settings) -> dict[str, dict[str, int]]:
    report = hub_report(settings)
    return report["senders"].get(settings.sender_id, {}).get("record_types", {})


PULLED = (
    "enterprise_disclosure",
    "credit_platform",
    "judicial_feed",
    "staging_tables",
    "deliver_to_province",
)


def test_every_pulled_family_reaches_the_hub(sources: Settings) -> None:
    for dag_id in PULLED:
        run(dag_id)
    types = record_types(sources)
    assert {
        "market_entity",
        "abnormal_operation",
        "spot_check",
        "serious_dishonesty",
        "credit_commitment",
        "credit_repair",
        "judicial_judgment",
        "dishonest_debtor",
        "inspection_action",
    } <= set(types)
    assert types["inspection_action"]["i"] == 30
    assert types["judicial_judgment"]["i"] == 5
    assert hub_report(sources)["batches"]["rejected"] == 0


def landed_files(settings: Settings) -> list[str]:
    return sorted(
        str(p.relative_to(settings.landing_dir)) for p in settings.landing_dir.rglob("*") if p.is_file()
    )


def test_unchanged_sources_stay_green_and_quiet_run_after_run(sources: Settings) -> None:
    """The second and third runs against sources that have not changed (the first is the test above): every
    task succeeds, nothing lands (no unit, no file), no outbox event wakes delivery, and the hub is unchanged.
    (Before, the third pull of every REST source failed on the landed unit's unique content hash.)"""
    before, files, events = hub_report(sources), landed_files(sources), outbox_events()
    for _ in range(2):
        for dag_id in PULLED[:-1]:
            states = run(dag_id)
            assert set(states["pull"]) == {"success"}, (dag_id, states)
            assert states["announce_outbox"] == ["skipped"], (dag_id, states)
        run("deliver_to_province")
    after = hub_report(sources)
    assert after["records"] == before["records"] and after["batches"] == before["batches"]
    assert landed_files(sources) == files
    assert outbox_events() == events


def test_updates_and_withdrawals_reach_the_hub(sources: Settings, standin: tuple[str, object]) -> None:
    staging = sources.home / "staging" / "xz_amr_staging.db"
    change_row(staging, 7)
    delete_row(staging, 12)
    feed = sources.home / "feeds" / "judicial"
    shutil.copyfile(FEEDS / "judicial_20261115T0800_0002.xml", feed / "judicial_20261115T0800_0002.xml")
    standin[1].as_of = None  # type: ignore[attr-defined]  # the lists' later removals become visible
    events = outbox_events()
    for dag_id in PULLED[:-1]:
        assert run(dag_id)["announce_outbox"] == ["success"], dag_id  # each family changed something
    assert outbox_events() == events + len(PULLED) - 1
    run("deliver_to_province")
    types = record_types(sources)
    assert (types["inspection_action"]["u"], types["inspection_action"]["d"]) == (1, 1)
    assert types["dishonest_debtor"]["u"] >= 1 and types["dishonest_debtor"]["d"] == 1
    assert types["abnormal_operation"]["d"] >= 1  # 移出经营异常名录
    assert types["serious_dishonesty"]["d"] >= 1  # 移出严重违法失信名单
    assert hub_report(sources)["batches"]["rejected"] == 0
