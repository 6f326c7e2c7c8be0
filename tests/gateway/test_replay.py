"""Replaying units from the landing area (gateway.replay), on SQLite and PostgreSQL: the sample exports and
realistic department files dropped as they come, a court feed pulled through run_pull, processed again with
today's mappings — unchanged data stores nothing, a changed mapping updates exactly what it changes."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, select, update

from connectors.pulled import run_pull
from gateway import processing
from gateway.ingest import ingest_file
from gateway.landing import land_pull, pending_units, process_landed, process_pending
from gateway.maintenance import purge_landing
from gateway.mapping.spec import load_mappings
from gateway.receipts import IntakeReceipt
from gateway.replay import ReplayError, replay_unit, select_units
from gateway.settings import Settings
from gateway.source_units import IngestResult
from gateway.store.db import engine_for
from gateway.store.tables import audit, outbox, record, record_version, source_file
from tests import real_exports as x
from tests.connectors.connections import Connection
from tests.gateway.test_landing import MAPPING, FakePull
from tests.hostile import builders as b
from tests.paths import REPO_ROOT

INBOX = REPO_ROOT / "samples" / "inbox"
FEED = REPO_ROOT / "samples" / "feeds" / "judicial"
ECOLOGY = INBOX / "xz_ecology" / "环境行政处罚台账.csv"


@pytest.fixture
def replay_settings(settings: Settings, tmp_path: Path) -> Settings:
    """Settings over a copy of the mappings, which a test may edit as an engineer fixing one would."""
    mappings = tmp_path / "mappings"
    shutil.copytree(REPO_ROOT / "mappings", mappings)
    return settings.with_overrides(mappings_dir=mappings)


def edit_mapping(settings: Settings, name: str, old: str, new: str) -> None:
    path = settings.mappings_dir / f"{name}.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def stored(settings: Settings) -> tuple[int, int]:
    """How many versions and outbox rows the store holds."""
    with engine_for(settings.database_url).connect() as conn:
        versions = conn.execute(select(func.count()).select_from(record_version)).scalar_one()
        queued = conn.execute(select(func.count()).select_from(outbox)).scalar_one()
    return versions, queued


def rows_of(settings: Settings) -> dict[int, dict[str, Any]]:
    with engine_for(settings.database_url).connect() as conn:
        return {row.id: row._asdict() for row in conn.execute(select(source_file).order_by(source_file.c.id))}


def ingest_samples(settings: Settings) -> dict[str, IngestResult]:
    """Every sample export, dropped in its department's inbox."""
    return {
        path.name: ingest_file(settings, path, path.parent.name)
        for path in sorted(INBOX.rglob("*"))
        if path.is_file()
    }


def replay_all(settings: Settings, **filters: Any) -> list[IngestResult]:
    return [replay_unit(settings, unit.id) for unit in select_units(settings, **filters)]


def changes(result: IngestResult) -> tuple[int, int, int]:
    return result.receipt.new, result.receipt.updated, result.receipt.withdrawn


# ------------------------------------------------------------------------------------- unchanged data


def test_a_replay_of_the_unchanged_sample_files_stores_nothing(settings: Settings) -> None:
    first = ingest_samples(settings)
    landed = {r.source_file_id for r in first.values() if r.receipt.status != "rejected"}
    before_rows, before = rows_of(settings), stored(settings)

    units = select_units(settings)
    assert {unit.id for unit in units} == landed  # the PDF posing as a CSV was rejected: nothing landed
    assert [unit.id for unit in units] == sorted(landed)  # oldest first
    by_id = {r.source_file_id: r.receipt for r in first.values()}
    for unit in units:
        result = replay_unit(settings, unit.id)
        receipt, original = result.receipt, by_id[unit.id]
        assert changes(result) == (0, 0, 0), unit.label
        assert (receipt.status, receipt.rows, receipt.rejected) == (
            original.status if not original.parts else original.parts[0]["status"],
            original.rows,
            original.rejected,
        ), unit.label
        assert receipt.unchanged == receipt.accepted == original.accepted, unit.label
        assert [(e["row"], e["code"]) for e in receipt.errors] == [
            (e["row"], e["code"]) for e in original.errors
        ], unit.label
    assert stored(settings) == before  # no version, no outbox row

    after = rows_of(settings)
    replays = {uid: row for uid, row in after.items() if uid not in before_rows}
    assert sorted(row["replay_of"] for row in replays.values()) == sorted(landed)
    for row in replays.values():
        assert (row["kind"], row["landing_path"], row["archived_path"]) == ("replay", None, None)
        original = before_rows[row["replay_of"]]
        assert (row["source_id"], row["sha256"], row["part"]) == (
            original["source_id"],
            original["sha256"],
            original["part"],
        )
        assert json.loads(row["receipt"])["status"] == row["status"]  # its own receipt, in its row
    assert {uid: after[uid] for uid in before_rows} == before_rows  # the originals are untouched
    with engine_for(settings.database_url).connect() as conn:
        audited = conn.execute(
            select(audit.c.subject_id, audit.c.action, audit.c.detail).where(audit.c.actor == "replay")
        ).all()
    assert sorted(int(a.subject_id) for a in audited) == sorted(replays)
    assert {json.loads(a.detail)["replay_of"] for a in audited} == landed
    assert [unit.id for unit in select_units(settings)] == [unit.id for unit in units]  # replays not offered


def test_titles_notes_footers_and_malformed_rows_are_read_as_the_first_time(
    settings: Settings, tmp_path: Path
) -> None:
    """The landing copy keeps every row of the file; the row rules of its format skip the template's marker,
    example, note and footer rows again, and the row whose cells overflowed the header is refused again."""
    good = [b.penalty(n) for n in range(1, 6)]
    overflowing = [*x.rows_of([b.penalty(6)])[0], "", "多出的一格"]
    body = [x.MARKERS, *x.rows_of([x.EXAMPLE]), x.NOTE, *x.rows_of(good), overflowing, *x.FOOTERS]
    csv_file = b.write(tmp_path, "处罚.csv", x.csv_export(body, above=[[x.TITLE], []]))
    book = x.workbook()
    book.create_sheet("填报说明").append(["1. 带*的列为必填项"])
    x.two_row_header_sheet(book, "行政处罚", [b.penalty(n) for n in range(11, 15)])
    bad = [
        *x.rows_of([b.penalty(n) for n in range(21, 25)]),
        *x.rows_of([b.penalty(25, 处罚决定日期="下周")]),
    ]
    x.sheet_with(book, "二季度", [*bad, *x.FOOTERS], title_row=x.TITLE)
    xlsx_file = b.write(tmp_path, "2026年处罚.xlsx", x.xlsx(book))

    csv_receipt = ingest_file(settings, csv_file, "xz_test").receipt
    assert (csv_receipt.status, csv_receipt.rows, csv_receipt.rejected, csv_receipt.skipped) == (
        "partial",
        6,
        1,
        6,
    )
    assert [e["code"] for e in csv_receipt.errors] == ["E_ROW_SHAPE"]
    book_receipt = ingest_file(settings, xlsx_file, "xz_test").receipt
    assert [(p["sheet"], p["status"], p["rows"], p["skipped"]) for p in book_receipt.parts] == [
        ("行政处罚", "accepted", 4, 0),
        ("二季度", "partial", 5, 3),
    ]
    firsts = {
        (row["file_name"], row["part"]): row for row in rows_of(settings).values() if row["kind"] == "file"
    }
    before = stored(settings)

    for unit in select_units(settings, source_id="xz_test"):
        receipt = replay_unit(settings, unit.id).receipt
        first = firsts[(unit.file_name, unit.part)]
        original = IntakeReceipt.from_json(first["receipt"])
        errors = [e for e in original.errors if e.get("sheet", unit.part or None) == (unit.part or None)]
        skipped = [
            r for r in original.skipped_rows if r.get("sheet", unit.part or None) == (unit.part or None)
        ]
        assert receipt.format == first["format"]
        assert (receipt.rows, receipt.accepted, receipt.unchanged) == (
            first["rows_total"],
            first["rows_accepted"],
            first["rows_accepted"],
        ), unit.label
        assert [(e["row"], e["code"]) for e in receipt.errors] == [(e["row"], e["code"]) for e in errors]
        assert [(r["row"], r["kind"]) for r in receipt.skipped_rows] == [
            (r["row"], r["kind"]) for r in skipped
        ]
        assert receipt.new == receipt.updated == 0
    assert stored(settings) == before


# ------------------------------------------------------------------------------------- changed mappings

GIST = "gistUnit: {from: gistUnit}"
GIST_RENAMED = (
    'gistUnit: {from: gistUnit, transforms: [trim, {regex_replace: {pattern: "^忻州市忻府区人民法院$", '
    'replacement: "山西省忻州市忻府区人民法院"}}]}'
)


def test_a_changed_mapping_updates_exactly_the_records_it_changes_and_once(replay_settings: Settings) -> None:
    settings = replay_settings
    unit = ingest_file(settings, ECOLOGY, "xz_ecology").source_file_id
    assert unit is not None
    before = stored(settings)
    # 违法类型 大气污染 (two of the four rows) is now to be sent as 大气污染防治.
    edit_mapping(
        settings,
        "xz_ecology_penalty",
        "CF_WFXW: {from: 违法类型}",
        'CF_WFXW: {from: 违法类型, transforms: [trim, {regex_replace: {pattern: "^大气污染$", '
        'replacement: "大气污染防治"}}]}',
    )

    result = replay_unit(settings, unit)
    assert changes(result) == (0, 2, 0)
    assert (result.receipt.unchanged, result.receipt.status) == (2, "accepted")
    with engine_for(settings.database_url).connect() as conn:
        updated = conn.execute(
            select(record.c.status, record_version.c.payload, record_version.c.source_file_id)
            .join(record, record.c.id == record_version.c.record_id)
            .where(record_version.c.version == 2)
        ).all()
    assert {json.loads(v.payload)["CF_WFXW"] for v in updated} == {"大气污染防治"}
    assert {v.source_file_id for v in updated} == {result.source_file_id}  # lineage: the replay's row
    # Each new version of an attached record goes to the province; the one waiting for its entity waits.
    attached = sum(1 for v in updated if v.status == "active")
    assert attached == 1 and result.receipt.queued == 1
    assert stored(settings) == (before[0] + 2, before[1] + attached)

    again = replay_unit(settings, unit)  # twice in a row: nothing the second time
    assert changes(again) == (0, 0, 0) and again.receipt.unchanged == 4
    assert stored(settings) == (before[0] + 2, before[1] + attached)


def feed_run(settings: Settings, share: Path) -> None:
    """The court share's two sample exports pulled as the DAG pulls them, then processed."""
    run = run_pull(
        settings,
        load_mappings(settings.mappings_dir)["court_debtors"],
        Connection("fs", extra={"path": str(share), "settle_seconds": 0}),
    )
    assert [unit.rows for unit in run.landed] == [6, 2]
    assert [r.receipt.status for r in process_pending(settings)] == ["accepted", "accepted"]


@pytest.fixture
def share(tmp_path: Path) -> Path:
    root = tmp_path / "share"
    shutil.copytree(FEED, root / "judicial")
    return root


def test_a_pulled_source_replays_without_a_repull_and_never_puts_older_data_back(
    replay_settings: Settings, share: Path
) -> None:
    """The second export updates one debtor and takes another off the list. Replaying both units, oldest
    first, stores nothing; after a mapping change it updates each changed debtor once, never flipping the
    two the newer export changed back to the older export's content."""
    settings = replay_settings
    feed_run(settings, share)
    shutil.rmtree(share)  # no re-pull: the share is not even there any more
    before = stored(settings)

    older, newer = replay_all(settings, source_id="court_debtors")
    assert changes(older) == changes(newer) == (0, 0, 0)
    assert (older.receipt.unchanged, newer.receipt.unchanged) == (6, 2)
    assert any("2 行的记录在该单元之后已被更新的数据改过" in w for w in older.receipt.warnings)
    assert stored(settings) == before

    edit_mapping(settings, "court_debtors", GIST, GIST_RENAMED)
    older, newer = replay_all(settings, source_id="court_debtors")
    # 忻府区 debtors: cases 123, 156 and 201 in the first export, 123 again (updated) in the second.
    assert changes(older) == (0, 2, 0)  # 156 and 201; 123 is the second export's now
    assert changes(newer) == (0, 1, 0)  # 123, as the second export has it
    assert stored(settings) == (before[0] + 3, before[1] + 3)
    with engine_for(settings.database_url).connect() as conn:
        current = {
            key.split("|")[1]: (status, json.loads(payload))
            for key, status, payload in conn.execute(
                select(record.c.natural_key, record.c.status, record_version.c.payload).join(
                    record_version,
                    (record_version.c.record_id == record.c.id)
                    & (record_version.c.version == record.c.version),
                )
            )
        }
    assert current["（2026）晋0981执78号"][0] == "withdrawn"  # still off the list
    assert current["（2026）晋0902执123号"][1]["performance"] == "部分未履行"  # the second export's content
    assert current["（2026）晋0902执123号"][1]["gistUnit"] == "山西省忻州市忻府区人民法院"

    assert [changes(r) for r in replay_all(settings, source_id="court_debtors")] == [(0, 0, 0)] * 2
    assert stored(settings) == (before[0] + 3, before[1] + 3)


def api_row(n: int) -> list[str]:
    return ["忻州市晋北商贸有限公司", "91140902MA0K2B3C30", "王建国", f"忻市监罚〔2026〕{n}号", "2026-10-08"]


def test_a_rejected_pulled_unit_is_stored_once_its_mapping_is_fixed(replay_settings: Settings) -> None:
    settings = replay_settings
    broken = MAPPING.replace("CF_WSH: {from: docNo}", "CF_WSH: {from: decisionNo}")  # a misspelt field
    (settings.mappings_dir / "test_api_penalty.yaml").write_text(broken, encoding="utf-8")
    landed = land_pull(settings, FakePull([api_row(1), api_row(2)], None, "c1"))
    assert landed is not None
    assert process_landed(settings, landed.id).receipt.status == "rejected"
    before = stored(settings)
    assert before[0] == 0

    (settings.mappings_dir / "test_api_penalty.yaml").write_text(MAPPING, encoding="utf-8")
    result = replay_unit(settings, landed.id)
    assert (result.receipt.status, *changes(result)) == ("accepted", 2, 0, 0)
    assert result.receipt.format == "parquet" and result.receipt.department == "test_api"
    assert stored(settings) == (2, 2)
    assert rows_of(settings)[landed.id]["status"] == "rejected"  # the unit keeps its own verdict

    # A replay that today's mappings cannot read is recorded as a rejected replay, with the reason.
    (settings.mappings_dir / "test_api_penalty.yaml").write_text(broken, encoding="utf-8")
    refused = replay_unit(settings, landed.id)
    assert refused.receipt.status == "rejected" and refused.receipt.file_error is not None
    assert refused.receipt.file_error["code"] == "E_HEADERS"
    assert rows_of(settings)[refused.source_file_id]["kind"] == "replay"  # type: ignore[index]
    assert stored(settings) == (2, 2)


# ------------------------------------------------------------------------------------------- filters


def at_local(day: str, clock: str) -> datetime:
    """A moment given as a Shanghai wall-clock time, in UTC as the database keeps it."""
    return datetime.fromisoformat(f"{day}T{clock}+08:00").astimezone(UTC)


def test_filters_by_source_unit_and_local_days_oldest_first(settings: Settings) -> None:
    landed = sorted(
        r.source_file_id for r in ingest_samples(settings).values() if r.receipt.status != "rejected"
    )
    # Units are taken in id order, which is the order they were received in: the times below follow it.
    first, second, third, *earlier = landed[::-1]
    first, second, third = sorted((first, second, third))
    moments = {
        first: at_local("2026-11-01", "23:30:00"),  # 15:30 UTC on the 1st
        second: at_local("2026-11-02", "00:30:00"),  # 16:30 UTC on the 1st, but the 2nd in Xinzhou
        third: at_local("2026-11-03", "10:00:00"),
    }
    with engine_for(settings.database_url).begin() as conn:
        conn.execute(update(source_file).values(received_at=at_local("2026-10-01", "12:00:00")))
        for unit, moment in moments.items():
            conn.execute(update(source_file).where(source_file.c.id == unit).values(received_at=moment))
    sources = {uid: row["source_id"] for uid, row in rows_of(settings).items()}

    def chosen(**filters: Any) -> list[int]:
        return [unit.id for unit in select_units(settings, **filters)]

    assert chosen(since=date(2026, 11, 2), until=date(2026, 11, 2)) == [second]
    assert chosen(since=date(2026, 11, 1), until=date(2026, 11, 1)) == [first]
    assert chosen(since=date(2026, 11, 1)) == [first, second, third]
    assert chosen(since=date(2026, 11, 2), source_id=sources[third]) == [third]
    assert chosen(source_id=sources[first]) == [first]
    assert chosen(unit_id=second) == [second]
    assert chosen(unit_id=second, source_id=sources[first]) == []
    assert chosen(until=date(2026, 10, 31)) == sorted(earlier)
    assert chosen() == landed
    with pytest.raises(ReplayError, match="empty"):
        select_units(settings, since=date(2026, 11, 3), until=date(2026, 11, 1))


def test_units_not_processed_replays_and_purged_units_are_not_offered(
    replay_settings: Settings, share: Path
) -> None:
    """A landed unit is the normal path's; a replay is not replayed; a unit whose rows the retention job
    removed cannot be. And the retention job still keeps the newest pulled unit of a source after it was
    replayed (the replay, newer, landed nothing)."""
    settings = replay_settings
    feed_run(settings, share)
    older, newer = (unit.id for unit in select_units(settings, source_id="court_debtors"))
    replay = replay_unit(settings, newer).source_file_id
    (settings.mappings_dir / "test_api_penalty.yaml").write_text(MAPPING, encoding="utf-8")
    pending = land_pull(settings, FakePull([api_row(1)], None, "c1"))
    assert pending is not None and pending_units(settings) == [pending.id]
    assert [u.id for u in select_units(settings, since=date(2000, 1, 1))] == [older, newer]
    with pytest.raises(ReplayError, match=f"unit {pending.id} .*not processed yet"):
        replay_unit(settings, pending.id)
    with pytest.raises(ReplayError, match=f"unit {replay} .*is a replay of unit {newer}"):
        replay_unit(settings, replay)  # type: ignore[arg-type]

    long_ago = datetime.now(UTC) - timedelta(days=400)
    with engine_for(settings.database_url).begin() as conn:
        conn.execute(update(source_file).values(received_at=long_ago))
    report = purge_landing(settings)
    assert report.rows == 1  # the older unit; the newest of the source stays, though its replay is newer
    rows = rows_of(settings)
    assert rows[older]["landing_path"] is None and rows[older]["landing_purged_at"] is not None
    assert Path(rows[newer]["landing_path"]).is_file()
    assert [u.id for u in select_units(settings, source_id="court_debtors")] == [newer]
    with pytest.raises(ReplayError, match=f"unit {older} .*removed by the retention job"):
        replay_unit(settings, older)
    assert changes(replay_unit(settings, newer)) == (0, 0, 0)


# -------------------------------------------------------------------------------------------- errors


def test_a_missing_or_unreadable_landed_file_is_named_with_its_unit(settings: Settings) -> None:
    unit = ingest_file(settings, ECOLOGY, "xz_ecology").source_file_id
    path = Path(rows_of(settings)[unit]["landing_path"])  # type: ignore[index]
    before = (rows_of(settings), stored(settings))
    kept = path.read_bytes()

    path.unlink()
    with pytest.raises(ReplayError, match=f"unit {unit} \\(xz_ecology/环境行政处罚台账.csv\\).*is missing"):
        replay_unit(settings, unit)  # type: ignore[arg-type]
    path.write_bytes(b"PAR1 not a parquet file")
    with pytest.raises(ReplayError, match=f"unit {unit} .*cannot be read"):
        replay_unit(settings, unit)  # type: ignore[arg-type]
    chunk = pq.ParquetFile(pa.BufferReader(kept)).metadata.row_group(0).column(1)  # 企业名称
    start = chunk.dictionary_page_offset or chunk.data_page_offset
    damaged = bytearray(kept)
    damaged[start + 20 : start + chunk.total_compressed_size] = b"\x55" * (chunk.total_compressed_size - 20)
    path.write_bytes(bytes(damaged))
    assert pq.read_schema(path).metadata  # the footer is whole: the damage shows only while reading
    with pytest.raises(ReplayError, match=f"unit {unit} .*cannot be read"):
        replay_unit(settings, unit)  # type: ignore[arg-type]
    table = pq.read_table(pa.BufferReader(kept))
    pq.write_table(table.replace_schema_metadata(None), path)  # as department files were landed before
    with pytest.raises(ReplayError, match=f"unit {unit} .*does not name its columns"):
        replay_unit(settings, unit)  # type: ignore[arg-type]
    with pytest.raises(ReplayError, match="unit 999: there is no such unit"):
        replay_unit(settings, 999)
    assert (rows_of(settings), stored(settings)) == before  # nothing was recorded

    path.write_bytes(kept)
    assert changes(replay_unit(settings, unit)) == (0, 0, 0)  # type: ignore[arg-type]


def test_a_crash_during_a_replay_rolls_back_and_a_rerun_replays_again(
    replay_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = replay_settings
    unit = ingest_file(settings, ECOLOGY, "xz_ecology").source_file_id
    assert unit is not None
    edit_mapping(
        settings,
        "xz_ecology_penalty",
        "CF_SJLY: {value: 忻州市生态环境局}",
        "CF_SJLY: {value: 忻州市生态环境局执法支队}",
    )
    before = (rows_of(settings), stored(settings))

    def killed(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the worker was killed")

    monkeypatch.setattr(processing, "record_outcome", killed)  # dies after storing, before the commit
    with pytest.raises(RuntimeError, match="killed"):
        replay_unit(settings, unit)
    assert (rows_of(settings), stored(settings)) == before  # no replay row, no version, no outbox row
    monkeypatch.undo()

    result = replay_unit(settings, unit)
    assert changes(result) == (0, 4, 0)
    with engine_for(settings.database_url).connect() as conn:
        attached = conn.execute(select(func.count()).where(record.c.status == "active")).scalar_one()
    assert stored(settings) == (before[1][0] + 4, before[1][1] + attached)


def test_a_column_name_with_a_lone_surrogate_is_kept_and_replayed(settings: Settings, tmp_path: Path) -> None:
    """A JSON export's field name with a broken escape ("\\ud800") cannot be written as UTF-8: the landing
    file keeps it escaped, and the replay reads it back as it was."""
    records = b.json_records([b.penalty(n) for n in range(1, 5)])
    records[0]["备注\ud800"] = "导出工具写坏的列名"
    path = b.write(tmp_path, "强制措施导出.json", json.dumps(records, ensure_ascii=True).encode())
    first = ingest_file(settings, path, "xz_test")
    assert (first.receipt.status, first.receipt.new) == ("accepted", 4)
    result = replay_unit(settings, first.source_file_id)  # type: ignore[arg-type]
    assert changes(result) == (0, 0, 0) and result.receipt.unchanged == 4
    assert "列「备注\ud800」未对应任何字段，已忽略" in result.receipt.warnings
