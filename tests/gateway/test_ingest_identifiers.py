"""Identifiers as people type them: invisible characters cannot make a second entity, and a personal ID
number typed into the wrong column is never echoed whole."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from sqlalchemy import select

from gateway.ingest import ingest_file
from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.tables import entity
from tests.hostile import builders as b

USCC_HEADER = b.HEADERS[2]


def _csv(path: Path, rows: list[b.Row]) -> Path:
    out = io.StringIO()
    writer = csv.DictWriter(out, b.HEADERS)
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def test_a_soft_hyphen_in_a_uscc_is_removed_and_said_not_a_second_entity(
    settings: Settings, tmp_path: Path
) -> None:
    hidden = b.SUBJECT_USCC[:4] + "\u00ad" + b.SUBJECT_USCC[4:] + "\u200b"
    rows = b.around([b.penalty(9, **{USCC_HEADER: hidden})])
    result = ingest_file(settings, _csv(tmp_path / "处罚.csv", rows), "xz_test")
    assert (result.receipt.status, result.receipt.rejected) == ("accepted", 0)
    with engine_for(settings.database_url).connect() as conn:
        assert list(conn.execute(select(entity.c.uscc)).scalars()) == [b.SUBJECT_USCC]
    assert any(f"「{USCC_HEADER}」列有 1 个代码按标准写法入库" in w for w in result.receipt.warnings)


def test_a_bidirectional_override_in_a_uscc_is_refused(settings: Settings, tmp_path: Path) -> None:
    spoofed = b.SUBJECT_USCC[:9] + "\u202e" + b.SUBJECT_USCC[9:]
    rows = b.around([b.penalty(9, **{USCC_HEADER: spoofed})])
    result = ingest_file(settings, _csv(tmp_path / "处罚.csv", rows), "xz_test")
    assert [(e["row"], e["field"], e["code"]) for e in result.receipt.errors] == [
        (10, USCC_HEADER, "E_FORMAT_CHAR")
    ]
    assert "不可见的格式字符" in str(result.receipt.errors[0]["message"])


def test_a_resident_id_in_the_uscc_column_is_masked_in_every_receipt_form(
    settings: Settings, tmp_path: Path
) -> None:
    typed = "110105194912310021"  # an ID number (wrong check digit even as one) in the USCC column
    rows = b.around([b.penalty(9, **{USCC_HEADER: typed})])
    result = ingest_file(settings, _csv(tmp_path / "处罚.csv", rows), "xz_test")
    receipt = result.receipt
    assert [(e["row"], e["code"], e["value"]) for e in receipt.errors] == [
        (10, "E_USCC", "110105********0021")
    ]
    for form in (receipt.to_json(), receipt.to_csv(), receipt.to_text().encode()):
        assert typed.encode() not in form
