from __future__ import annotations

import json
from pathlib import Path

import pytest

from hub.validate import BatchValidator, Verdict

from .conftest import COMPANY, SENDER, BatchWriter, Rec


def _check(validator: BatchValidator, path: Path) -> Verdict:
    return validator.check(path, batch_id="b-1", sender=SENDER, seq=1)


def test_a_valid_batch_passes_and_its_records_are_read(
    validator: BatchValidator, batch_writer: BatchWriter, tmp_path: Path
) -> None:
    path = batch_writer(tmp_path / "b.xml", batch_id="b-1", seq=1, records=[Rec("i"), Rec("d")])
    verdict = _check(validator, path)
    assert verdict.ok and verdict.count == 2 and verdict.record_type == "admin_penalty"
    records = list(validator.records(path, verdict.record_type))
    assert [(r.idx, r.op, r.record_id, r.version, r.entity) for r in records] == [
        (0, "i", "r0", 1, COMPANY),
        (1, "d", "r1", 1, COMPANY),
    ]
    payload = json.loads(records[1].payload)
    assert payload["CF_WSH"] == "忻市监罚〔2024〕2号" and payload["CF_NR_FK"] == "0.5"
    assert records[1].natural_key == "11140900MB0000000X|忻市监罚〔2024〕2号"


def test_an_empty_batch_is_valid(
    validator: BatchValidator, batch_writer: BatchWriter, tmp_path: Path
) -> None:
    path = batch_writer(tmp_path / "b.xml", batch_id="b-1", seq=1, records=[])
    verdict = _check(validator, path)
    assert verdict.ok and verdict.count == 0
    assert list(validator.records(path, "admin_penalty")) == []


def test_another_record_type_inside_the_batch_is_refused(
    validator: BatchValidator, batch_writer: BatchWriter, tmp_path: Path
) -> None:
    path = batch_writer(
        tmp_path / "b.xml", batch_id="b-1", seq=1, records=[Rec(), Rec()], record_type="admin_license"
    )
    text = path.read_text("utf-8").replace('recordType="admin_license"', 'recordType="admin_penalty"')
    path.write_text(text, "utf-8")
    verdict = _check(validator, path)
    assert not verdict.ok
    assert [r.index for r in verdict.rejections] == [0, 1]
    assert "AdminLicense" in verdict.rejections[0].message


def test_xsd_errors_are_mapped_to_records_with_their_keys(
    validator: BatchValidator, batch_writer: BatchWriter, tmp_path: Path
) -> None:
    bad = Rec("i", (("CF_JDRQ", "2024-13-45"),))
    path = batch_writer(tmp_path / "b.xml", batch_id="b-1", seq=1, records=[Rec(), Rec(), bad])
    verdict = _check(validator, path)
    assert verdict.problem is not None and verdict.problem.code == "invalid_xml"
    (rejection,) = verdict.rejections
    assert (rejection.index, rejection.key) == (2, "11140900MB0000000X|忻市监罚〔2024〕3号")
    assert rejection.message.startswith("CF_JDRQ")


def test_duplicate_record_ids_are_a_batch_error(
    validator: BatchValidator, batch_writer: BatchWriter, tmp_path: Path
) -> None:
    path = batch_writer(tmp_path / "b.xml", batch_id="b-1", seq=1, records=[Rec(), Rec()])
    path.write_text(path.read_text("utf-8").replace('id="r1"', 'id="r0"'), "utf-8")
    verdict = _check(validator, path)
    assert verdict.problem is not None
    assert "RecordIdUnique" in verdict.problem.message + "".join(r.message for r in verdict.rejections)


@pytest.mark.parametrize(
    "document",
    [
        b'<?xml version="1.0"?><!DOCTYPE Batch [<!ENTITY x "xxxxxxxx">]><Batch>&x;</Batch>',
        b'<?xml version="1.0"?><!DOCTYPE Batch SYSTEM "http://example.invalid/b.dtd"><Batch/>',
        b"<Batch><Record>",
        b"",
    ],
)
def test_unsafe_or_broken_xml_is_refused(validator: BatchValidator, tmp_path: Path, document: bytes) -> None:
    path = tmp_path / "b.xml"
    path.write_bytes(document)
    verdict = _check(validator, path)
    assert verdict.problem is not None and verdict.problem.code == "invalid_xml"
    assert verdict.rejections == []


def test_the_wrong_root_element_is_refused(validator: BatchValidator, tmp_path: Path) -> None:
    path = tmp_path / "b.xml"
    path.write_text('<Other xmlns="urn:cn:xinzhou:gateway:1"/>', "utf-8")
    verdict = _check(validator, path)
    assert verdict.problem is not None and "根元素" in verdict.problem.message


def test_rejections_are_capped(schemas_dir: Path, batch_writer: BatchWriter, tmp_path: Path) -> None:
    capped = BatchValidator.from_dir(schemas_dir, max_rejections=2)
    bad = Rec("i", (("CF_NR_FK", "-1"),))
    path = batch_writer(tmp_path / "b.xml", batch_id="b-1", seq=1, records=[bad] * 5)
    verdict = capped.check(path, batch_id="b-1", sender=SENDER, seq=1)
    assert len(verdict.rejections) == 2
    assert verdict.problem is not None and "5 处错误，涉及 5 条记录" in verdict.problem.message


def _xmlschema_must_not_run(*_args: object, **_kwargs: object) -> None:
    raise AssertionError("xmlschema ran although libxml2 found the batch valid")


def test_a_valid_batch_is_passed_by_libxml2_alone(
    validator: BatchValidator, batch_writer: BatchWriter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = batch_writer(tmp_path / "b.xml", batch_id="b-1", seq=1, records=[Rec(), Rec(), Rec("d")])
    monkeypatch.setattr(validator.schema, "iter_errors", _xmlschema_must_not_run)
    verdict = _check(validator, path)
    assert verdict.ok and verdict.count == 3


def test_a_batch_libxml2_refuses_is_refused_even_when_xmlschema_finds_nothing(
    validator: BatchValidator, batch_writer: BatchWriter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The two validators disagreeing is simulated by silencing xmlschema: libxml2's verdict still stands.
    bad = Rec("i", (("CF_JDRQ", "2024-13-45"),))
    path = batch_writer(tmp_path / "b.xml", batch_id="b-1", seq=1, records=[Rec(), bad])
    monkeypatch.setattr(validator.schema, "iter_errors", lambda *_a, **_k: iter(()))
    verdict = _check(validator, path)
    assert verdict.problem is not None and verdict.problem.code == "invalid_xml"
    assert "libxml2" in verdict.problem.message and "CF_JDRQ" in verdict.problem.message
    assert verdict.rejections == []


def test_a_withdrawal_reason_is_read_with_its_record(
    validator: BatchValidator, schemas_dir: Path, tmp_path: Path
) -> None:
    import io
    from datetime import UTC, datetime

    from gateway.delivery.render import RenderRow, render_batch
    from gateway.schema import load_record_types

    from .conftest import _PENALTY

    rtype = load_record_types(schemas_dir)["admin_penalty"]
    payload = json.dumps({**_PENALTY, "CF_WSH": "忻市监罚〔2024〕1号"}, ensure_ascii=False)
    out = io.BytesIO()
    rows = [
        RenderRow("d", 1, "k1", 2, payload, reason="credit_repaired"),
        RenderRow("i", 2, "k2", 1, payload),
    ]
    render_batch(
        out,
        rtype=rtype,
        batch_id="b-1",
        seq=1,
        sender=SENDER,
        created_at=datetime(2026, 11, 28, tzinfo=UTC),
        count=2,
        rows=rows,
    )
    path = tmp_path / "b.xml"
    path.write_bytes(out.getvalue())
    verdict = _check(validator, path)
    assert verdict.ok, verdict
    assert [(r.op, r.reason) for r in validator.records(path, "admin_penalty")] == [
        ("d", "credit_repaired"),
        ("i", None),
    ]


def test_a_hub_database_from_before_reasons_gains_the_column(tmp_path: Path) -> None:
    import sqlite3

    from hub.db import open_engine

    path = tmp_path / "hub.db"
    with sqlite3.connect(path) as old:  # the record table as an earlier hub made it
        old.execute("CREATE TABLE record (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)")
    engine = open_engine(path)
    with engine.connect() as conn:
        columns = {row[1] for row in conn.exec_driver_sql("PRAGMA table_info(record)")}
    engine.dispose()
    assert "reason" in columns
