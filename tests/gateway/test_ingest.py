"""A department file through read → map → validate → attach → store, against SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gateway.ingest import ingest_file, mark_archived
from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.tables import (
    CURRENT_VERSION,
    entity,
    outbox,
    record,
    record_version,
    resolution_queue,
    source_file,
)
from tests.hostile.builders import HEADERS  # the 19 national-template columns both corpora write
from tests.paths import REPO_ROOT

SAMPLES = REPO_ROOT / "samples" / "inbox"
AMR_FILE = SAMPLES / "xz_amr" / "2026年10月行政处罚信息.csv"
ECOLOGY_FILE = SAMPLES / "xz_ecology" / "环境行政处罚台账.csv"
TRANSPORT_FILE = SAMPLES / "xz_transport" / "行政许可信息-2026年10月.xlsx"
AUTHORITY = ("忻州市市场监督管理局", "11140900MB1950016E")


def penalty_row(
    n: int,
    *,
    uscc: str = "91140902MA0K2B3C30",
    name: str = "忻州市晋北商贸有限公司",
    fine: str = "0.5",
    kind: str = "法人及非法人组织",
    id_type: str = "",
    id_no: str = "",
    facts: str = "销售过期食品。",
) -> list[str]:
    return [
        name,
        kind,
        uscc,
        "王建国" if kind != "自然人" else "",
        id_type,
        id_no,
        f"忻市监罚〔2026〕{n}号",
        "销售过期食品",
        facts,
        "《食品安全法》第一百二十四条",
        "罚款",
        "罚款",
        fine,
        "2026-10-08",
        "2027-10-08",
        *AUTHORITY,
        *AUTHORITY,
    ]


def write_csv(
    path: Path, rows: list[list[str]], *, encoding: str = "utf-8", headers: list[str] = HEADERS
) -> Path:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(headers)
    writer.writerows(rows)
    path.write_bytes(out.getvalue().encode(encoding))
    return path


def count(settings: Settings, table, *where) -> int:  # type: ignore[no-untyped-def]
    with engine_for(settings.database_url).connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


def test_national_template_in_gbk_is_recognised_and_bad_rows_named(settings: Settings) -> None:
    result = ingest_file(settings, AMR_FILE, "xz_amr")
    receipt = result.receipt
    assert (receipt.status, receipt.encoding, receipt.mapping) == ("partial", "gbk", "national_admin_penalty")
    assert (receipt.rows, receipt.accepted, receipt.rejected, receipt.new) == (12, 10, 2, 10)
    errors = {(e["row"], e["code"]): e for e in receipt.errors}
    assert set(errors) == {(6, "E_USCC"), (7, "E_FINE_AMOUNT")}
    # The field is the header exactly as the department wrote it, full-width brackets and all.
    assert errors[(6, "E_USCC")]["field"] == "行政相对人代码_1（统一社会信用代码）"
    assert errors[(7, "E_FINE_AMOUNT")]["field"] == "罚款金额(万元)"
    assert count(settings, record) == 10
    assert count(settings, outbox) == 10
    # The row with a full-width, lower-case USCC was normalised and attached to the same entity as row 9.
    with engine_for(settings.database_url).connect() as conn:
        methods = dict(
            conn.execute(select(record.c.attach_method, func.count()).group_by(record.c.attach_method)).all()
        )
        amounts = conn.execute(
            select(record_version.c.payload)
            .join(record, CURRENT_VERSION)
            .where(record.c.natural_key.like("%107号"))
        ).scalar_one()
    assert methods == {"uscc": 9, "natural_person": 1}
    assert json.loads(amounts)["CF_XDR_SHXYM"] == "91140981MA0K8H9J8Y"
    assert json.loads(amounts)["CF_NR_WFFF"] == "0.35"


def test_same_file_again_is_a_duplicate_and_stores_nothing(settings: Settings, tmp_path: Path) -> None:
    first = ingest_file(settings, AMR_FILE, "xz_amr")
    assert first.source_file_id is not None
    mark_archived(settings, first.source_file_id, tmp_path / "archived.csv")
    copy = shutil.copy(AMR_FILE, tmp_path / "renamed.csv")
    again = ingest_file(settings, Path(copy), "xz_amr")
    assert again.replayed and again.receipt.status == "duplicate" and again.outcome == "rejected"
    assert again.receipt.first_processed_at == first.receipt.received_at
    assert count(settings, record_version) == 10
    assert count(settings, source_file) == 1


def test_crash_after_commit_reissues_the_original_receipt(settings: Settings) -> None:
    first = ingest_file(settings, AMR_FILE, "xz_amr")
    # The process died before the drop folder archived the file: it is still in the inbox next run.
    again = ingest_file(settings, AMR_FILE, "xz_amr")
    assert again.replayed and again.receipt == first.receipt
    assert count(settings, record_version) == 10


def test_changed_row_is_a_new_version_and_unchanged_rows_are_no_ops(
    settings: Settings, tmp_path: Path
) -> None:
    rows = [penalty_row(1), penalty_row(2, fine="1")]
    ingest_file(settings, write_csv(tmp_path / "a.csv", rows), "dept")
    rows[1] = penalty_row(2, fine="1.5")
    result = ingest_file(settings, write_csv(tmp_path / "b.csv", rows), "dept")
    assert (result.receipt.new, result.receipt.updated, result.receipt.unchanged) == (0, 1, 1)
    with engine_for(settings.database_url).connect() as conn:
        versions = conn.execute(
            select(record_version.c.version, record_version.c.operation).order_by(record_version.c.id)
        ).all()
    assert [tuple(v) for v in versions] == [(1, "i"), (1, "i"), (2, "u")]
    assert count(settings, outbox) == 3


def test_too_many_bad_rows_rejects_the_whole_file(settings: Settings, tmp_path: Path) -> None:
    rows = [penalty_row(1), penalty_row(2, uscc="91140902MA0K2B3C3X"), penalty_row(3, fine="")]
    result = ingest_file(settings, write_csv(tmp_path / "bad.csv", rows), "dept")
    assert result.outcome == "rejected" and result.receipt.status == "rejected"
    assert result.receipt.file_error is not None and result.receipt.file_error["code"] == "E_THRESHOLD"
    assert result.receipt.accepted == 0 and result.receipt.rejected == 3
    assert len(result.receipt.errors) == 2  # the rows are still explained one by one
    assert count(settings, record) == 0 and count(settings, entity) == 0 and count(settings, outbox) == 0


def test_unknown_headers_get_a_receipt_that_says_what_is_missing(settings: Settings, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "odd.csv", [["a", "b"]], headers=["企业", "金额"])
    result = ingest_file(settings, path, "dept")
    assert result.receipt.file_error is not None
    assert result.receipt.file_error["code"] == "E_HEADERS"
    assert "缺少必填列" in result.receipt.file_error["message"]


def test_department_mapping_converts_yuan_and_chinese_dates(settings: Settings) -> None:
    result = ingest_file(settings, ECOLOGY_FILE, "xz_ecology")
    assert (result.receipt.status, result.receipt.mapping, result.receipt.encoding) == (
        "accepted",
        "xz_ecology_penalty",
        "utf-8-sig",
    )
    with engine_for(settings.database_url).connect() as conn:
        payload = json.loads(
            conn.execute(
                select(record_version.c.payload)
                .join(record, CURRENT_VERSION)
                .where(record.c.natural_key == "11140900MB19500324|忻环罚〔2026〕31号")
            ).scalar_one()
        )
    assert payload["CF_NR_FK"] == "5"  # 50,000.00 元 = 5 万元
    assert payload["CF_JDRQ"] == "2026-10-12"
    assert payload["CF_CFJG"] == "忻州市生态环境局"  # a constant of the mapping


def test_legacy_codes_attach_through_the_registry_and_the_rest_waits(settings: Settings) -> None:
    ingest_file(settings, AMR_FILE, "xz_amr")  # row 3 teaches the registry 140900200001233
    ecology = ingest_file(settings, ECOLOGY_FILE, "xz_ecology")
    transport = ingest_file(settings, TRANSPORT_FILE, "xz_transport")
    assert ecology.receipt.queued == 1  # 140932200009876 is nobody the registry knows
    with engine_for(settings.database_url).connect() as conn:
        by_key = dict(conn.execute(select(record.c.natural_key, record.c.attach_method)).all())
        waiting = (
            conn.execute(
                select(record.c.natural_key).join(
                    resolution_queue, resolution_queue.c.record_id == record.c.id
                )
            )
            .scalars()
            .all()
        )
    assert by_key["11140900MB19500324|忻环罚〔2026〕31号"] == "reg_no"
    assert by_key["11140900MB19500249|忻交运许〔2026〕202号"] == "org_code"
    assert waiting == ["11140900MB19500324|忻环罚〔2026〕33号"]
    assert count(settings, outbox) == 10 + 3 + 5
    assert transport.receipt.rejected == 1


def test_duplicate_keys_in_one_file_keep_the_first(settings: Settings, tmp_path: Path) -> None:
    rows = [penalty_row(n) for n in range(1, 9)] + [penalty_row(3, fine="9")]
    result = ingest_file(settings, write_csv(tmp_path / "dup.csv", rows), "dept")
    assert result.receipt.status == "partial"
    (error,) = result.receipt.errors
    assert (error["row"], error["code"]) == (10, "E_DUPLICATE_KEY")
    assert "第 4 行" in str(error["message"])
    assert count(settings, record) == 8


def test_personal_id_numbers_are_masked_in_receipts(settings: Settings, tmp_path: Path) -> None:
    rows = [penalty_row(n) for n in range(1, 6)] + [
        penalty_row(9, kind="自然人", uscc="", name="张某", id_type="身份证", id_no="110105194912310021")
    ]
    result = ingest_file(settings, write_csv(tmp_path / "person.csv", rows), "dept")
    (error,) = result.receipt.errors
    assert error["code"] == "E_PERSON_ID_NUMBER"
    assert "110105194912310021" not in result.receipt.to_json().decode()
    assert error["value"] == "110105********0021"


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8-sig"])
def test_encodings_are_detected(settings: Settings, tmp_path: Path, encoding: str) -> None:
    facts = "在䶮字号招牌下经营。" if encoding == "gb18030" else "销售过期食品。"
    path = write_csv(tmp_path / "enc.csv", [penalty_row(1, facts=facts)], encoding=encoding)
    result = ingest_file(settings, path, "dept")
    assert result.receipt.status == "accepted"
    assert result.receipt.encoding == encoding
    with engine_for(settings.database_url).connect() as conn:
        payload = json.loads(
            conn.execute(select(record_version.c.payload).join(record, CURRENT_VERSION)).scalar_one()
        )
    assert payload["CF_SY"] == facts


def test_check_mode_stores_nothing(settings: Settings) -> None:
    result = ingest_file(settings, AMR_FILE, "xz_amr", dry_run=True)
    assert result.receipt.accepted == 10
    assert count(settings, source_file) == 0
    assert not any(settings.landing_dir.rglob("*.parquet"))


def test_landing_copy_is_written_once_as_parquet(settings: Settings) -> None:
    import pyarrow.parquet as pq

    result = ingest_file(settings, AMR_FILE, "xz_amr")
    landed = settings.landing_dir / "xz_amr" / f"{result.receipt.sha256}.parquet"
    table = pq.read_table(landed)
    assert table.num_rows == 12
    assert table.column("__row__").to_pylist()[0] == 2
