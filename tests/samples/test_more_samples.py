"""The three exports of samples/make_more_samples.py: reproducible, recognised without a word of configuration
beyond their mappings, with exactly the intended row rejected, and stored records the hub's schema accepts."""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import select

from gateway.delivery.render import RenderRow, render_batch
from gateway.ids import uscc
from gateway.ingest import ingest_file
from gateway.intake import open_source
from gateway.schema import load_record_types
from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.tables import CURRENT_VERSION, record, record_version
from samples import make_more_samples

INBOX = Path(make_more_samples.__file__).resolve().parent / "inbox"


@dataclass(frozen=True)
class Expected:
    department: str
    file: Path
    mapping: str
    record_type: str
    accepted: int
    rejected_row: int
    rejected_field: str
    rejected_code: str


EXPECTED = [
    Expected(
        "xz_emergency",
        make_more_samples.EMERGENCY_FILE,
        "national_penalty_action",
        "penalty_action",
        accepted=6,
        rejected_row=8,
        rejected_field="supervise_item_implement_code",
        rejected_code="E_TOO_SHORT",
    ),
    Expected(
        "xz_amr_enforcement",
        make_more_samples.ENFORCEMENT_FILE,
        "national_coercion_action",
        "coercion_action",
        accepted=5,
        rejected_row=7,
        rejected_field="force_measure_type",
        rejected_code="E_MEASURE_TYPE",
    ),
    Expected(
        "xz_12345",
        make_more_samples.HOTLINE_FILE,
        "xz_12345_complaints",
        "complaint",
        accepted=7,
        rejected_row=8,
        rejected_field="统一社会信用代码",
        rejected_code="E_LEGAL_USCC",
    ),
]


def test_regenerating_gives_the_committed_bytes(tmp_path: Path) -> None:
    written = make_more_samples.write_all(tmp_path)
    assert [p.relative_to(tmp_path) for p in written] == [e.file for e in EXPECTED]
    for path in written:
        committed = INBOX / path.relative_to(tmp_path)
        assert path.read_bytes() == committed.read_bytes(), f"{committed} is stale: run the generator"


def test_every_written_uscc_is_valid_and_the_planned_errors_are_the_only_ones() -> None:
    """The exports carry no accidental identifier errors: every 18-character code has its check character."""
    for expected in EXPECTED:
        text = (
            (INBOX / expected.file)
            .read_bytes()
            .decode("gb18030" if expected.file.suffix == ".csv" else "utf-8")
        )
        codes = set(re.findall(r"(?<![0-9A-Z])[0-9A-Z]{18}(?![0-9A-Z])", text))
        assert codes, expected.file
        assert all(uscc.is_valid(code) for code in codes), sorted(c for c in codes if not uscc.is_valid(c))


@pytest.mark.parametrize("expected", EXPECTED, ids=[e.department for e in EXPECTED])
def test_ingest_accepts_all_but_the_planned_row(settings: Settings, expected: Expected) -> None:
    result = ingest_file(settings, INBOX / expected.file, expected.department)
    receipt = result.receipt
    assert (receipt.status, receipt.mapping, receipt.record_type) == (
        "partial",
        expected.mapping,
        expected.record_type,
    )
    assert (receipt.rows, receipt.accepted, receipt.rejected, receipt.new) == (
        expected.accepted + 1,
        expected.accepted,
        1,
        expected.accepted,
    )
    assert [(e["row"], e["field"], e["code"]) for e in receipt.errors] == [
        (expected.rejected_row, expected.rejected_field, expected.rejected_code)
    ]
    assert receipt.rejected / receipt.rows < 0.2  # well inside the default bad-row threshold
    with engine_for(settings.database_url).connect() as conn:
        stored = conn.execute(select(record.c.record_type, record.c.attach_method)).all()
    assert stored == [(expected.record_type, "uscc")] * expected.accepted


def _payloads(settings: Settings, record_type: str) -> dict[str, dict[str, str]]:
    with engine_for(settings.database_url).connect() as conn:
        rows = conn.execute(
            select(record.c.natural_key, record_version.c.payload)
            .join(record_version, CURRENT_VERSION)
            .where(record.c.record_type == record_type)
        ).all()
    return {key: json.loads(payload) for key, payload in rows}


def test_words_and_json_numbers_become_the_national_codes(settings: Settings) -> None:
    for expected in EXPECTED:
        ingest_file(settings, INBOX / expected.file, expected.department)
    emergency = make_more_samples.EMERGENCY[1]
    penalties = _payloads(settings, "penalty_action")
    heard = penalties[f"{emergency}|XZYJ-CF-2026-0035"]
    assert {k: heard[k] for k in ("administrative_cp_na", "administrative_cp_ce_type", "is_hearing")} == {
        "administrative_cp_na": "2",  # 法人
        "administrative_cp_ce_type": "001",  # 统一社会信用代码
        "is_hearing": "1",  # 是
    }
    assert penalties[f"{emergency}|XZYJ-CF-2026-0036"]["administrative_cp_na"] == "3"  # a 个体工商户
    # 元 stay 元: "30,000.00" is thirty thousand, not three hundred million.
    assert penalties[f"{emergency}|XZYJ-CF-2026-0032"]["fine_amount"] == "30000"
    assert "fine_amount" not in penalties[f"{emergency}|XZYJ-CF-2026-0033"]  # a warning only

    seized = _payloads(settings, "coercion_action")[f"{make_more_samples.AMR[1]}|XZSJ-QZ-2026-0017"]
    assert (seized["administrative_cp_na"], seized["measure_start_date"]) == ("2", "2026-09-18")

    complaints = _payloads(settings, "complaint")
    shop = complaints["11140900MB1950788K|12345-1409-20261011-0342"]
    assert (shop["target_category"], shop["accept_date"], shop["finish_date"]) == (
        "个体工商户",
        "2026-10-11",
        "2026-10-16",
    )


def test_stored_records_render_to_batches_the_hub_schema_accepts(
    settings: Settings, schemas_dir: Path
) -> None:
    for expected in EXPECTED:
        ingest_file(settings, INBOX / expected.file, expected.department)
    xsd = etree.XMLSchema(etree.parse(str(schemas_dir / "batch.xsd")))
    record_types = load_record_types(schemas_dir)
    for expected in EXPECTED:
        payloads = _payloads(settings, expected.record_type)
        out = io.BytesIO()
        render_batch(
            out,
            rtype=record_types[expected.record_type],
            batch_id=f"20261128-000001-{expected.record_type}",
            seq=1,
            sender="XZ140900",
            created_at=datetime(2026, 11, 28, 2, 0, tzinfo=UTC),
            count=len(payloads),
            rows=[
                RenderRow(op="i", record_id=n, key=key, version=1, payload=json.dumps(payload))
                for n, (key, payload) in enumerate(sorted(payloads.items()), start=1)
            ],
        )
        document = etree.fromstring(out.getvalue())
        assert xsd.validate(document), (expected.record_type, xsd.error_log.last_error)


def test_the_hotline_export_says_nothing_about_the_caller() -> None:
    with open_source(INBOX / make_more_samples.HOTLINE_FILE) as source:
        headers = list(source.headers)
        cells = [
            value
            for batch in source.batches()
            for column in batch.columns
            if column.type == "string"
            for value in column.to_pylist()
            if value
        ]
    assert not [h for h in headers if re.search("投诉人|举报人|来电人|姓名|电话|手机|身份证|联系", h)]
    # No telephone numbers (mobile or landline with area code) and no ID numbers anywhere in the cells.
    assert not [v for v in cells if re.search(r"1[3-9]\d{9}|0\d{2,3}-?\d{7,8}|\d{17}[\dXx]", v)]
