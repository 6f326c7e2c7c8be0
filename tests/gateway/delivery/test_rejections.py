"""The hub's per-record refusals: marked on the versions, written for the department, the rest resent."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.delivery import admin, ledger, states
from gateway.delivery.policy import DeliveryPolicy
from gateway.delivery.rejections import safe_message
from gateway.delivery.service import build_pending, deliver_all
from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.tables import record, record_version
from gateway.transfer import Sender
from hub.validate import BatchValidator

from .conftest import ClientFactory, HubFactory, hub_copies, outbound_versions

# The strict hub allows at most 10 characters of 违法行为类型; two sample penalties have more.
LONG_WFXW = {"未按规定进行特种设备定期检验", "特种设备作业人员无证上岗"}


@pytest.fixture
def strict_validator(schemas_dir: Path, tmp_path: Path) -> BatchValidator:
    strict = tmp_path / "strict-schemas"
    shutil.copytree(schemas_dir, strict)
    xsd = strict / "admin_penalty.xsd"
    text = xsd.read_text(encoding="utf-8")
    start = text.index('<xs:element name="CF_WFXW"')
    head, tail = text[:start], text[start:]
    xsd.write_text(
        head + tail.replace('<xs:maxLength value="2000"/>', '<xs:maxLength value="10"/>', 1), "utf-8"
    )
    return BatchValidator.from_dir(strict)


def _refused(settings: Settings) -> dict[str, tuple[str, str, str]]:
    stmt = (
        select(
            record.c.natural_key,
            record_version.c.hub_code,
            record_version.c.hub_message,
            record_version.c.payload,
        )
        .join(record, record.c.id == record_version.c.record_id)
        .where(record_version.c.hub_code.is_not(None))
    )
    with engine_for(settings.database_url).connect() as conn:
        return {
            key: (code, message, json.loads(payload)["CF_WFXW"])
            for key, code, message, payload in conn.execute(stmt)
        }


def test_refused_records_are_marked_reported_to_the_department_and_the_others_delivered(
    world: Settings,
    hub: HubFactory,
    client_for: ClientFactory,
    sender: Sender,
    policy: DeliveryPolicy,
    strict_validator: BatchValidator,
) -> None:
    client = client_for(hub(validator=strict_validator))
    built = build_pending(world)
    first = deliver_all(world, built, client=client, sender=sender, policy=policy)
    assert (first["rejected"], first["hub_rejected_records"]) == (2, 2)

    refused = _refused(world)
    assert {wfxw for _code, _message, wfxw in refused.values()} == LONG_WFXW
    assert {code for code, _message, _wfxw in refused.values()} == {"invalid_record"}
    assert all("CF_WFXW" in message for _code, message, _wfxw in refused.values())
    rejected = ledger.batches(world, (states.REJECTED,))
    assert [b.hub_rejected for b in rejected] == [1, 1]
    assert all(b.last_code == "invalid_xml" for b in rejected)
    assert first["requeued"] == sum(b.records for b in rejected) - 2

    # The department that sent them finds the refusals next to its archived file, in Chinese and as JSON.
    archived = next((world.dropzone / "xz_amr" / "processed").glob("*2026年10月行政处罚信息.csv"))
    text = archived.with_name(archived.name + ".hub-receipt.txt").read_text(encoding="utf-8")
    assert "省级平台拒收了本文件中的 2 条记录" in text
    assert "「违法行为类型」" in text  # the hub's field code, shown as the column's label
    assert re.search(r"第 \d+ 行（11140900MB1950016E\|忻市监罚〔2026〕102号", text)
    document = json.loads(archived.with_name(archived.name + ".hub-receipt.json").read_text(encoding="utf-8"))
    assert sorted(item["key"] for item in document["rejected"]) == sorted(refused)
    assert {item["batch_id"] for item in document["rejected"]} == {b.batch_id for b in rejected}
    assert all(item["row"] > 1 for item in document["rejected"])

    # The records the hub did not name went back to the outbox and travel in new batches.
    second = deliver_all(world, build_pending(world), client=client, sender=sender, policy=policy)
    assert second["acknowledged"] >= 1 and second["rejected"] == 0
    copies = hub_copies(world)
    delivered = outbound_versions(world)
    assert len(copies) == len(delivered) - 2 and set(copies) < delivered
    assert set(copies.values()) == {1}

    listed = admin.hub_refusals(world)
    assert {r["natural_key"] for r in listed} == set(refused)
    assert {r["file_name"] for r in listed} == {"2026年10月行政处罚信息.csv"}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_retrying_a_refused_batch_resends_the_records_the_hub_did_not_name(
    world: Settings,
    hub: HubFactory,
    client_for: ClientFactory,
    sender: Sender,
    policy: DeliveryPolicy,
    strict_validator: BatchValidator,
) -> None:
    client = client_for(hub(validator=strict_validator))
    deliver_all(world, build_pending(world), client=client, sender=sender, policy=policy)
    refused = ledger.batches(world, (states.REJECTED,))[0]
    retried = admin.retry(world, refused.batch_id)
    # Its other records were already sent back automatically: nothing left to requeue, and it stays final.
    assert (retried.status, retried.requeued) == (states.REJECTED, 0)
    with pytest.raises(admin.RetryError, match="只有 dead 或 rejected"):
        admin.retry(world, ledger.batches(world, (states.ACKNOWLEDGED,))[0].batch_id)
    with pytest.raises(admin.RetryError, match="没有批次"):
        admin.retry(world, "no-such-batch")


@pytest.mark.parametrize(
    ("message", "shown"),
    [
        ("value '11010519491231002X' is not valid", "value '110105********002X' is not valid"),
        ("legacy 110105491231002 too", "legacy 110105******002 too"),
        ("USCC 91140902MA0K2B3C30 and 2026-10-08 stay", "USCC 91140902MA0K2B3C30 and 2026-10-08 stay"),
    ],
)
def test_resident_id_numbers_in_hub_messages_are_masked(message: str, shown: str) -> None:
    assert safe_message(message) == shown
