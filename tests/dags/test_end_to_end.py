"""Both DAGs with dag.test() against the reference hub on a loopback port: files in, verified receipts out."""

from __future__ import annotations

import csv
import io
import shutil

import pytest
from lxml import etree
from rich.console import Console

from gateway.settings import Settings
from samples.demo import hub_report
from tests.dags.dagrun import run
from tests.paths import REPO_ROOT

pytestmark = pytest.mark.e2e
SAMPLES = REPO_ROOT / "samples" / "inbox"


def drop_all_samples(settings: Settings) -> None:
    for folder in SAMPLES.iterdir():
        inbox = settings.dropzone / folder.name / "inbox"
        inbox.mkdir(parents=True, exist_ok=True)
        for sample in folder.iterdir():
            shutil.copyfile(sample, inbox / sample.name)


def test_first_run_delivers_every_attached_record(gateway_env: Settings) -> None:
    settings = gateway_env
    drop_all_samples(settings)
    assert run("department_files")["announce_outbox"] == ["success"]
    run("deliver_to_province")
    report = hub_report(settings)
    types = report["senders"][settings.sender_id]["record_types"]
    # 10 penalties from the market regulator, 3 of 4 from ecology (one waits for an entity), 5 licences.
    assert types["admin_penalty"]["i"] == 13
    assert types["admin_license"]["i"] == 5
    # 9 of 11 inspections are valid; the 个人 among them is sent without an entity.
    assert types["inspection_action"]["i"] == 9
    # The 互联网+监管 penalty and coercive actions and the 12345 complaints: all but one row of each file.
    assert (types["penalty_action"]["i"], types["coercion_action"]["i"], types["complaint"]["i"]) == (6, 5, 7)
    assert report["batches"]["rejected"] == 0
    received = sorted((settings.home / "hub" / "received").rglob("*.xml"))
    assert len(received) == report["batches"]["accepted"] >= 2
    schema = etree.XMLSchema(etree.parse(str(settings.schemas_dir / "batch.xsd")))
    for path in received:
        schema.assertValid(etree.parse(str(path)))
    receipts = list(settings.dropzone.rglob("*.receipt.txt"))
    assert len(receipts) == 8


def test_second_run_sends_nothing_new(gateway_env: Settings) -> None:
    settings = gateway_env
    before = hub_report(settings)
    drop_all_samples(settings)
    # Every file is answered as a duplicate: nothing stored, so delivery is not woken.
    assert run("department_files")["announce_outbox"] == ["skipped"]
    run("deliver_to_province")
    assert hub_report(settings)["records"] == before["records"]
    assert hub_report(settings)["batches"] == before["batches"]


def test_a_corrected_row_reaches_the_hub_as_an_update(gateway_env: Settings) -> None:
    settings = gateway_env
    original = (SAMPLES / "xz_ecology" / "环境行政处罚台账.csv").read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(original)))
    rows[2][11] = "25000"  # 河曲县黄河人家: the fine was 20000 元, corrected to 25000
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    inbox = settings.dropzone / "xz_ecology" / "inbox"
    (inbox / "更正.csv").write_text(out.getvalue(), encoding="utf-8-sig")
    run("department_files")
    run("deliver_to_province")
    types = hub_report(settings)["senders"][settings.sender_id]["record_types"]
    assert types["admin_penalty"]["u"] == 1
    assert types["admin_penalty"]["i"] == 13


def test_demo_summary_reads_the_same_state(gateway_env: Settings) -> None:
    from datetime import UTC, datetime

    from samples.demo import summarize

    console = Console(record=True, width=200)
    summarize(gateway_env, datetime(2000, 1, 1, tzinfo=UTC), console)
    text = console.export_text()
    assert "环境行政处罚台账.csv" in text and "acknowledged" in text and "admin_license" in text
