"""Rendered batches must validate against schemas/batch.xsd (libxml2, the engine of xmllint)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from gateway.delivery.render import RenderRow, render_batch
from gateway.schema import load_record_types

PENALTY = {
    "CF_XDR_MC": '忻州市<晋北>&商贸"有限"公司',
    "CF_XDR_LB": "法人及非法人组织",
    "CF_XDR_SHXYM": "91140902MA0K2B3C30",
    "CF_FRDB": "王建国",
    "CF_WSH": "忻市监罚〔2026〕101号",
    "CF_WFXW": "销售过期食品",
    "CF_SY": "事实 ]]> 描述",
    "CF_YJ": "《食品安全法》",
    "CF_CFLB": "罚款",
    "CF_NR": "罚款",
    "CF_NR_FK": "0.5",
    "CF_JDRQ": "2026-10-08",
    "CF_YXQ": "2027-10-08",
    "CF_CFJG": "忻州市市场监督管理局",
    "CF_CFJGDM": "11140900MB1950016E",
    "CF_SJLY": "忻州市市场监督管理局",
    "CF_SJLYDM": "11140900MB1950016E",
}


@pytest.fixture(scope="module")
def xsd(schemas_dir: Path) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(schemas_dir / "batch.xsd")))


def render(schemas_dir: Path, rows: list[RenderRow]) -> bytes:
    rtype = load_record_types(schemas_dir)["admin_penalty"]
    out = io.BytesIO()
    render_batch(
        out,
        rtype=rtype,
        batch_id="20261128-000001-admin_penalty",
        seq=1,
        sender="XZ140900",
        created_at=datetime(2026, 11, 28, 2, 0, tzinfo=UTC),
        count=len(rows),
        rows=rows,
    )
    return out.getvalue()


def test_rendered_batch_is_valid_and_escapes_markup(schemas_dir: Path, xsd: etree.XMLSchema) -> None:
    rows = [
        RenderRow(
            "i",
            1,
            "11140900MB1950016E|忻市监罚〔2026〕101号",
            1,
            json.dumps(PENALTY, ensure_ascii=False),
            entity="91140902MA0K2B3C30",
            attach="uscc",
            source_sha256="a" * 64,
            source_row=2,
        ),
        RenderRow("u", 2, "k2", 2, json.dumps({**PENALTY, "CF_WSH": "2号"}, ensure_ascii=False)),
    ]
    document = etree.fromstring(render(schemas_dir, rows))
    xsd.assertValid(document)
    ns = {"g": "urn:cn:xinzhou:gateway:1"}
    assert document.findtext("g:Record/g:AdminPenalty/g:CF_XDR_MC", namespaces=ns) == PENALTY["CF_XDR_MC"]
    assert [r.get("op") for r in document.findall("g:Record", ns)] == ["i", "u"]


def test_empty_batch_is_valid(schemas_dir: Path, xsd: etree.XMLSchema) -> None:
    xsd.assertValid(etree.fromstring(render(schemas_dir, [])))


def test_count_mismatch_is_refused(schemas_dir: Path) -> None:
    rtype = load_record_types(schemas_dir)["admin_penalty"]
    with pytest.raises(ValueError, match="header says 3"):
        render_batch(
            io.BytesIO(),
            rtype=rtype,
            batch_id="b",
            seq=1,
            sender="s",
            created_at=datetime.now(UTC),
            count=3,
            rows=[],
        )


def test_characters_xml_cannot_carry_are_dropped(schemas_dir: Path, xsd: etree.XMLSchema) -> None:
    payload = json.dumps({**PENALTY, "BZ": "备注\x01\x1f结束"}, ensure_ascii=False)
    document = etree.fromstring(render(schemas_dir, [RenderRow("i", 1, "k", 1, payload)]))
    xsd.assertValid(document)
    assert document.findtext(".//{urn:cn:xinzhou:gateway:1}BZ") == "备注结束"


def test_one_batch_may_carry_several_versions_of_a_record(schemas_dir: Path, xsd: etree.XMLSchema) -> None:
    """A court export that lists and then removes a debtor yields v1 (i) and v2 (d) in one delivery."""
    payload = json.dumps(PENALTY, ensure_ascii=False)
    rows = [RenderRow("i", 7, "k", 1, payload), RenderRow("d", 7, "k", 2, payload)]
    xsd.assertValid(etree.fromstring(render(schemas_dir, rows)))
    with pytest.raises(etree.DocumentInvalid):
        xsd.assertValid(etree.fromstring(render(schemas_dir, [rows[0], rows[0]])))


def test_a_withdrawal_the_gateway_decided_names_its_reason(schemas_dir: Path, xsd: etree.XMLSchema) -> None:
    payload = json.dumps(PENALTY, ensure_ascii=False)
    rows = [
        RenderRow("d", 7, "k", 2, payload, reason="publicity_expired"),
        RenderRow("d", 8, "k8", 3, payload),
    ]
    document = etree.fromstring(render(schemas_dir, rows))
    xsd.assertValid(document)
    found = [r.get("reason") for r in document.findall("{urn:cn:xinzhou:gateway:1}Record")]
    assert found == ["publicity_expired", None]  # a source's own withdrawal carries none
