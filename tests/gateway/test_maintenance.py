"""Retention jobs on real files and a real database: what goes, what stays whatever its age, a run killed
half-way and its rerun; vacuum on SQLite and PostgreSQL; the daily summary; settings and the CLI."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select, text, update
from typer.testing import CliRunner

from connectors.department_files import process_file
from connectors.drop_folder import DropFolder
from gateway import maintenance
from gateway.cli import app
from gateway.ingest import ingest_file
from gateway.landing import land_pull, process_landed
from gateway.maintenance import (
    JobReport,
    daily_summary,
    day_cutoff,
    purge_landing,
    purge_outbox,
    purge_receipts,
    run_all,
    summary_text,
    vacuum,
)
from gateway.settings import Settings
from gateway.store.db import engine_for, migrate
from gateway.store.tables import audit, delivery_batch, resolution_queue, source_file
from tests.gateway.test_landing import MAPPING, FakePull, row
from tests.paths import REPO_ROOT

SAMPLES = REPO_ROOT / "samples" / "inbox"
PENALTIES = SAMPLES / "xz_amr" / "2026年10月行政处罚信息.csv"
INSPECTIONS = SAMPLES / "xz_inspection" / "检查记录导出.csv"
ECOLOGY = SAMPLES / "xz_ecology" / "环境行政处罚台账.csv"
# 10:30 in Xinzhou. With 90 days the oldest day kept is 2026-09-02, from 2026-09-01 16:00 UTC.
NOW = datetime(2026, 12, 1, 2, 30, tzinfo=UTC)
FIRST_KEPT = datetime(2026, 9, 1, 16, 0, tzinfo=UTC)


class Crash(RuntimeError):
    """The process died here."""


def crash_after(monkeypatch: pytest.MonkeyPatch, removals: int) -> list[Path]:
    """Let ``removals`` files go, then kill the job at the next one; returns what went."""
    real = maintenance._remove_file
    gone: list[Path] = []

    def remove(path: Path) -> int | None:
        if len(gone) == removals:
            raise Crash(f"killed before removing {path.name}")
        gone.append(path)
        return real(path)

    monkeypatch.setattr(maintenance, "_remove_file", remove)
    return gone


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Settings]:
    """A gateway home on SQLite with the test API mapping beside the shipped ones."""
    mappings = tmp_path / "mappings"
    shutil.copytree(REPO_ROOT / "mappings", mappings)
    (mappings / "test_api_penalty.yaml").write_text(MAPPING, encoding="utf-8")
    made = Settings.from_env({"GATEWAY_HOME": str(tmp_path / "var"), "GATEWAY_SETTLE_SECONDS": "0"})
    made = made.with_overrides(mappings_dir=mappings)
    made.ensure_dirs()
    migrate(made.database_url)
    yield made
    engine_for(made.database_url).dispose()


def set_column(settings: Settings, table: Any, key: Any, **values: object) -> None:
    with engine_for(settings.database_url).begin() as conn:
        conn.execute(update(table).where(key).values(**values))


def units(settings: Settings) -> dict[int, dict[str, Any]]:
    with engine_for(settings.database_url).connect() as conn:
        return {r.id: r._asdict() for r in conn.execute(select(source_file).order_by(source_file.c.id))}


def ingested(settings: Settings, sample: Path, department: str, received: datetime) -> int:
    result = ingest_file(settings, sample, department)
    assert result.source_file_id is not None and result.receipt.status in {"accepted", "partial"}
    set_column(settings, source_file, source_file.c.id == result.source_file_id, received_at=received)
    return result.source_file_id


def pulled(settings: Settings, rows: list[list[str | None]], received: datetime, *, process: bool) -> int:
    unit = land_pull(settings, FakePull(rows, None, f"c{received:%j}"))
    assert unit is not None
    if process:
        process_landed(settings, unit.id)
    set_column(settings, source_file, source_file.c.id == unit.id, received_at=received)
    return unit.id


# ---------------------------------------------------------------------------------------------- landing


@pytest.fixture
def landed(home: Settings) -> dict[str, int]:
    """Department files either side of the first day kept, and a pulled source's units: two processed (the
    newest of them is the source's current state) and one not processed yet, all older than the retention."""
    return {
        "old_file": ingested(home, PENALTIES, "xz_amr", FIRST_KEPT - timedelta(seconds=1)),
        "older_file": ingested(home, ECOLOGY, "xz_ecology", datetime(2026, 3, 1, tzinfo=UTC)),
        "kept_file": ingested(home, INSPECTIONS, "xz_inspection", FIRST_KEPT),
        "old_unit": pulled(home, [row(1)], datetime(2026, 6, 1, tzinfo=UTC), process=True),
        "newest_unit": pulled(home, [row(2)], datetime(2026, 7, 1, tzinfo=UTC), process=True),
        "unprocessed": pulled(home, [row(3)], datetime(2026, 8, 1, tzinfo=UTC), process=False),
    }


def test_the_cutoff_is_local_midnight_of_the_oldest_day_kept(home: Settings) -> None:
    assert day_cutoff(home, NOW, 90) == FIRST_KEPT
    # 23:30 UTC is already the next day in Xinzhou: the cutoff moves with the local date, not the UTC one.
    assert day_cutoff(home, datetime(2026, 11, 30, 23, 30, tzinfo=UTC), 90) == FIRST_KEPT


def test_landing_removes_processed_units_past_the_retention_and_keeps_the_rest(
    home: Settings, landed: dict[str, int]
) -> None:
    before = units(home)
    paths = {name: Path(before[unit_id]["landing_path"]) for name, unit_id in landed.items()}
    assert all(path.is_file() for path in paths.values())
    going = ("old_file", "older_file", "old_unit")
    size = sum(paths[name].stat().st_size for name in going)

    preview = purge_landing(home, now=NOW, dry_run=True)
    assert (preview.files, preview.bytes, preview.rows) == (3, size, 3)
    assert units(home) == before and all(path.is_file() for path in paths.values())

    report = purge_landing(home, now=NOW)
    assert (report.files, report.bytes, report.rows) == (3, size, 3)
    assert report.detail == {"kept_unprocessed": 1, "kept_newest_of_source": 1}
    after = units(home)
    for name, unit_id in landed.items():
        if name in going:
            assert not paths[name].exists(), name
            assert after[unit_id]["landing_path"] is None and after[unit_id]["landing_purged_at"] is not None
        else:
            assert paths[name].is_file(), name
            assert (
                after[unit_id]["landing_path"] == str(paths[name])
                and after[unit_id]["landing_purged_at"] is None
            )
    # Nothing else about a unit changes: its receipt still answers the same bytes dropped again.
    for unit_id in landed.values():
        assert {k: v for k, v in after[unit_id].items() if "landing" not in k} == {
            k: v for k, v in before[unit_id].items() if "landing" not in k
        }
    again = purge_landing(home, now=NOW)
    assert (again.files, again.rows) == (0, 0)


def test_landing_killed_half_way_finishes_on_the_rerun(
    home: Settings, landed: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    before = units(home)
    gone = crash_after(monkeypatch, 1)
    with pytest.raises(Crash):
        purge_landing(home, now=NOW)
    assert len(gone) == 1 and not gone[0].exists()
    marked = {i for i, u in units(home).items() if u["landing_purged_at"] is not None}
    assert marked == {landed["old_file"], landed["older_file"], landed["old_unit"]}
    # Every marked unit still names its file until the removal is done: none points at nothing unmarked.
    assert all(units(home)[i]["landing_path"] is not None for i in marked)

    monkeypatch.undo()
    rerun = purge_landing(home, now=NOW)
    assert (rerun.files, rerun.rows) == (2, 0)  # the two left, nothing twice, nothing marked again
    after = units(home)
    for unit_id in marked:
        assert after[unit_id]["landing_path"] is None
        assert not Path(before[unit_id]["landing_path"]).exists()
    for name in ("kept_file", "newest_unit", "unprocessed"):
        assert Path(after[landed[name]]["landing_path"]).is_file()


def test_a_landing_retention_of_keep_removes_nothing(home: Settings, landed: dict[str, int]) -> None:
    report = purge_landing(home.with_overrides(landing_retention_days=None), now=NOW)
    assert (report.files, report.rows) == (0, 0)
    assert all(Path(u["landing_path"]).is_file() for u in units(home).values())


# ----------------------------------------------------------------------------------------------- outbox

STATES = ("acknowledged", "acknowledged", "sent", "sealed", "built", "dead", "rejected")


@pytest.fixture
def batches(home: Settings) -> dict[str, list[Path]]:
    """One batch per state, each with two renderings of its XML and two envelopes on disk; the first
    acknowledged two days ago, the second an hour ago, every other one two days ago."""
    files: dict[str, list[Path]] = {}
    with engine_for(home.database_url).begin() as conn:
        for seq, status in enumerate(STATES, start=1):
            batch_id = f"20261129-{seq:06d}-admin_penalty"
            changed = NOW - (timedelta(hours=1) if seq == 2 else timedelta(days=2))
            conn.execute(
                insert(delivery_batch),
                [
                    {
                        "batch_id": batch_id,
                        "seq": seq,
                        "record_type": "admin_penalty",
                        "records": 3,
                        "status": status,
                        "xml_path": str(home.outbox_dir / f"{batch_id}.q{seq + 10}.xml"),
                        "envelope_path": str(home.outbox_dir / f"{batch_id}.s2.gwenv"),
                        "attempts": 1,
                        "created_at": changed - timedelta(minutes=5),
                        "updated_at": changed,
                        "dead_at": changed if status == "dead" else None,
                    }
                ],
            )
            names = (
                f"{batch_id}.xml",
                f"{batch_id}.q{seq + 10}.xml",
                f"{batch_id}.s1.gwenv",
                f"{batch_id}.s2.gwenv",
            )
            files[batch_id] = []
            for name in names:
                path = home.outbox_dir / name
                path.write_bytes(os.urandom(100 + seq))
                files[batch_id].append(path)
    (home.outbox_dir / "notes.txt").write_text("not the delivery's", encoding="utf-8")
    return files


def batch_row(settings: Settings, batch_id: str) -> dict[str, Any]:
    with engine_for(settings.database_url).connect() as conn:
        return (
            conn.execute(select(delivery_batch).where(delivery_batch.c.batch_id == batch_id)).one()._asdict()
        )


def test_outbox_removes_acknowledged_plaintext_after_the_grace_and_keeps_envelopes(
    home: Settings, batches: dict[str, list[Path]]
) -> None:
    home = home.with_overrides(plaintext_retention_hours=24)  # a grace of a day, which some batches are in
    first, *others = batches
    plaintext = [p for p in batches[first] if p.suffix == ".xml"]
    before = {b: batch_row(home, b) for b in batches}

    preview = purge_outbox(home, now=NOW, dry_run=True)
    assert (preview.files, preview.rows) == (2, 1)
    assert all(p.exists() for paths in batches.values() for p in paths)

    report = purge_outbox(home, now=NOW)
    assert (report.files, report.rows, report.bytes) == (2, 1, 2 * 101)
    assert report.detail == {"plaintext_batches_marked": 1, "plaintext_files": 2}
    assert not any(p.exists() for p in plaintext)
    assert all(p.exists() for p in batches[first] if p.suffix == ".gwenv")  # envelopes: kept by default
    for batch_id in others:  # within the grace, or not acknowledged: untouched
        assert all(p.exists() for p in batches[batch_id]), batch_row(home, batch_id)["status"]
        assert batch_row(home, batch_id) == before[batch_id]
    row_ = batch_row(home, first)
    assert row_["plaintext_purged_at"] is not None and row_["envelopes_purged_at"] is None
    assert row_["updated_at"] == before[first]["updated_at"]  # the acknowledgement time stays what it was
    assert (home.outbox_dir / "notes.txt").exists()
    assert purge_outbox(home, now=NOW).files == 0


def test_outbox_removes_envelopes_when_their_retention_is_set(
    home: Settings, batches: dict[str, list[Path]]
) -> None:
    home = home.with_overrides(plaintext_retention_hours=24)
    first = next(iter(batches))
    report = purge_outbox(home.with_overrides(envelope_retention_days=1), now=NOW)
    assert report.detail["envelope_files"] == 2 and report.files == 4
    assert not any(p.exists() for p in batches[first])
    assert batch_row(home, first)["envelopes_purged_at"] is not None
    # Later: the recent batch's grace is over, and its envelopes' day too.
    later = purge_outbox(home.with_overrides(envelope_retention_days=1), now=NOW + timedelta(days=2))
    assert later.files == 4 and later.rows == 2
    for batch_id, paths in list(batches.items())[2:]:
        assert all(p.exists() for p in paths), batch_id


def test_outbox_killed_half_way_finishes_on_the_rerun(
    home: Settings, batches: dict[str, list[Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = home.with_overrides(envelope_retention_days=1, plaintext_retention_hours=24)
    first = next(iter(batches))
    crash_after(monkeypatch, 3)
    with pytest.raises(Crash):
        purge_outbox(settings, now=NOW)
    assert sum(p.exists() for p in batches[first]) == 1
    monkeypatch.undo()
    rerun = purge_outbox(settings, now=NOW)
    assert (rerun.files, rerun.rows) == (1, 0)
    assert not any(p.exists() for p in batches[first])
    assert all(p.exists() for paths in list(batches.values())[1:] for p in paths)


# --------------------------------------------------------------------------------------------- receipts


@pytest.fixture
def archives(home: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Files archived by the drop folder itself, on a day past the retention and on the first day kept; a
    refused folder with a link out of the drop zone; things that are not dated archive folders."""
    days = iter(["2025-11-30", "2025-12-01"])
    archived = {}
    for sample, department in ((PENALTIES, "xz_amr"), (INSPECTIONS, "xz_inspection")):
        day = next(days)
        monkeypatch.setattr(DropFolder, "_today", lambda self, day=day: day)
        inbox = home.dropzone / department / "inbox"
        inbox.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(sample, inbox / sample.name)
        assert process_file(home, department, str(inbox / sample.name))["status"] in {"accepted", "partial"}
        archived[day] = max(units(home))
    monkeypatch.undo()
    outside = tmp_path / "outside.txt"
    outside.write_text("somebody else's", encoding="utf-8")
    refused = home.dropzone / "xz_amr" / "rejected" / "2025-06-01" / "ab12cd34-文件夹"
    refused.mkdir(parents=True)
    (refused / "a.csv").write_text("x", encoding="utf-8")
    (refused / "link").symlink_to(outside)
    (refused.parent / "ab12cd34-文件夹.receipt.json").write_text("{}", encoding="utf-8")
    notes = home.dropzone / "xz_amr" / "processed" / "notes"
    notes.mkdir()
    elsewhere = tmp_path / "elsewhere" / "processed" / "2020-01-01"
    elsewhere.mkdir(parents=True)
    (home.dropzone / "linked").symlink_to(elsewhere.parent.parent)
    with engine_for(home.database_url).begin() as conn:
        conn.execute(
            insert(audit),
            [
                {"at": at, "actor": "test", "action": "x", "subject_type": "t", "subject_id": "1"}
                for at in (datetime(2023, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))
            ],
        )
    return {"ids": archived, "outside": outside, "notes": notes, "elsewhere": elsewhere}


def test_receipts_removes_dated_archive_folders_past_the_retention(
    home: Settings, archives: dict[str, Any]
) -> None:
    old_folder = home.dropzone / "xz_amr" / "processed" / "2025-11-30"
    refused_folder = home.dropzone / "xz_amr" / "rejected" / "2025-06-01"
    kept_folder = home.dropzone / "xz_inspection" / "processed" / "2025-12-01"
    old_files = sorted(p for p in old_folder.iterdir())
    assert len(old_files) == 4  # the export and its three receipts
    size = sum(p.stat().st_size for p in old_files)
    size += sum(p.lstat().st_size for p in refused_folder.rglob("*") if not p.is_dir() or p.is_symlink())

    report = purge_receipts(home, now=NOW)
    assert (report.folders, report.files, report.bytes) == (2, 7, size)
    assert report.detail == {"archive_rows_marked": 1, "audit_rows": 1}
    assert not old_folder.exists() and not refused_folder.exists()
    assert kept_folder.is_dir() and len(list(kept_folder.iterdir())) == 4
    assert archives["outside"].read_text(encoding="utf-8") == "somebody else's"  # the link was not followed
    assert archives["notes"].is_dir() and archives["elsewhere"].is_dir()
    rows = units(home)
    old_id, kept_id = archives["ids"]["2025-11-30"], archives["ids"]["2025-12-01"]
    assert rows[old_id]["archive_purged_at"] is not None
    assert rows[old_id]["archived_path"] is not None and rows[old_id]["archived_at"] is not None
    assert rows[kept_id]["archive_purged_at"] is None
    with engine_for(home.database_url).connect() as conn:
        years = sorted(
            r.year for r in conn.execute(select(audit.c.at).where(audit.c.actor == "test")).scalars()
        )
    assert years == [2026]
    assert purge_receipts(home, now=NOW).files == 0


def test_the_same_export_dropped_again_is_still_a_duplicate_after_its_archive_went(
    home: Settings, archives: dict[str, Any]
) -> None:
    purge_receipts(home, now=NOW)
    again = ingest_file(home, PENALTIES, "xz_amr")
    assert again.replayed and again.receipt.status == "duplicate"


def test_receipts_killed_half_way_finishes_on_the_rerun(
    home: Settings, archives: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    crash_after(monkeypatch, 2)
    with pytest.raises(Crash):
        purge_receipts(home, now=NOW)
    monkeypatch.undo()
    rerun = purge_receipts(home, now=NOW)
    assert rerun.files == 7 - 2 and rerun.folders == 2
    assert rerun.detail.get("archive_rows_marked", 0) == 0  # marked once, by the run that died
    assert not (home.dropzone / "xz_amr" / "processed" / "2025-11-30").exists()
    assert len(list((home.dropzone / "xz_inspection" / "processed" / "2025-12-01").iterdir())) == 4


# ------------------------------------------------------------------------------------------------- vacuum


def test_vacuum_gives_space_back_outside_a_transaction(settings: Settings) -> None:
    engine = engine_for(settings.database_url)
    with engine.begin() as conn:
        conn.execute(
            insert(audit),
            [
                {
                    "at": NOW,
                    "actor": "t",
                    "action": "a",
                    "subject_type": "s",
                    "subject_id": str(n),
                    "detail": "x" * 2000,
                }
                for n in range(3000)
            ],
        )
    with engine.begin() as conn:
        conn.execute(audit.delete())
    report = vacuum(settings)
    assert report.detail["size_before"] > 0 and report.detail["size_after"] > 0
    if engine.dialect.name == "sqlite":
        assert report.detail["size_after"] < report.detail["size_before"] - 3_000_000
        assert report.bytes == report.detail["size_before"] - report.detail["size_after"]
        return
    with engine.connect() as conn:  # PostgreSQL: the table was vacuumed and analysed, just now
        seen = conn.execute(
            text("SELECT last_vacuum, last_analyze FROM pg_stat_user_tables WHERE relname = 'audit'")
        ).one()
    assert seen.last_vacuum is not None and seen.last_analyze is not None


def test_a_dry_run_of_every_job_changes_nothing(home: Settings, landed: dict[str, int]) -> None:
    before = units(home)
    reports = run_all(home, now=NOW, dry_run=True)
    assert [r.job for r in reports] == ["landing", "outbox", "receipts", "vacuum"]
    assert all(r.dry_run for r in reports) and reports[0].files == 3
    assert units(home) == before
    with pytest.raises(ValueError, match="unknown maintenance job"):
        run_all(home, ["landing", "everything"])


# ------------------------------------------------------------------------------------------------ summary


def test_the_daily_summary_counts_the_last_day(home: Settings) -> None:
    now = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)
    for sample, department in (
        (PENALTIES, "xz_amr"),
        (ECOLOGY, "xz_ecology"),
        (INSPECTIONS, "xz_inspection"),
    ):
        ingest_file(home, sample, department)
    ingested(home, SAMPLES / "xz_12345" / "投诉举报工单.csv", "xz_12345", now - timedelta(days=2))
    pulled(home, [row(1), row(2)], now - timedelta(hours=1), process=True)
    with engine_for(home.database_url).begin() as conn:
        for seq, (status, at) in enumerate(
            [
                ("acknowledged", now - timedelta(hours=2)),
                ("sent", now - timedelta(hours=30)),
                ("dead", now - timedelta(minutes=10)),
            ],
            start=1,
        ):
            conn.execute(
                insert(delivery_batch),
                [
                    {
                        "batch_id": f"b{seq}",
                        "seq": seq,
                        "record_type": "admin_penalty",
                        "records": 1,
                        "status": status,
                        "attempts": 1,
                        "created_at": at - timedelta(minutes=1),
                        "updated_at": at,
                        "sent_at": at,
                        "dead_at": at if status == "dead" else None,
                    }
                ],
            )
        queued = conn.execute(
            select(func.count()).select_from(resolution_queue).where(resolution_queue.c.resolved_at.is_(None))
        ).scalar_one()
    summary = daily_summary(home, now=now)
    departments = {d["department"]: d for d in summary["departments"]}
    assert set(departments) == {"xz_amr", "xz_ecology", "xz_inspection"}  # xz_12345's file is two days old
    assert departments["xz_amr"]["received"] == 1
    assert sum(d["accepted"] + d["partial"] + d["rejected"] for d in departments.values()) == 3
    assert summary["pulled"] == [{"source": "test_api", "units": 1, "rows": 2, "rows_rejected": 0}]
    assert summary["records"]["stored"] == summary["records"]["new"] > 0
    assert summary["batches"] == {
        "sent": 2,  # b1 and b3; b2 was first pushed before the day began
        "acknowledged": 1,
        "rejected": 0,
        "dead": 1,
        "open_now": 1,
        "dead_now": 1,
    }
    oldest = summary["oldest_unacknowledged"]
    assert oldest["batch_id"] == "b2" and oldest["status"] == "sent" and oldest["age_hours"] == 30.0
    assert summary["unresolved_queue"] == queued > 0
    assert json.loads(json.dumps(summary)) == summary  # an XCom value as it is
    words = summary_text(summary)
    assert "网关每日摘要 / Gateway daily summary" in words
    assert "xz_amr: 收到 1 个 received" in words and "b2 (sent)" in words and "30.0 小时 hours" in words
    assert f"待关联主体 / waiting for an entity: {queued}" in words


# ---------------------------------------------------------------------------------------- settings, CLI


def test_retentions_come_from_the_environment(tmp_path: Path) -> None:
    defaults = Settings.from_env({"GATEWAY_HOME": str(tmp_path)})
    assert (defaults.landing_retention_days, defaults.plaintext_retention_hours) == (90, 0)
    assert (defaults.envelope_retention_days, defaults.archive_retention_days) == (None, 365)
    assert defaults.audit_retention_days == 1095
    chosen = Settings.from_env(
        {
            "GATEWAY_HOME": str(tmp_path),
            "GATEWAY_LANDING_RETENTION_DAYS": "30",
            "GATEWAY_PLAINTEXT_RETENTION_HOURS": "0",
            "GATEWAY_ENVELOPE_RETENTION_DAYS": "400",
            "GATEWAY_ARCHIVE_RETENTION_DAYS": "keep",
            "GATEWAY_AUDIT_RETENTION_DAYS": " KEEP ",
        }
    )
    assert chosen.landing_retention_days == 30 and chosen.plaintext_retention_hours == 0
    assert chosen.envelope_retention_days == 400
    assert chosen.archive_retention_days is None and chosen.audit_retention_days is None
    with pytest.raises(ValueError, match="GATEWAY_LANDING_RETENTION_DAYS"):
        Settings.from_env({"GATEWAY_HOME": str(tmp_path), "GATEWAY_LANDING_RETENTION_DAYS": "-1"})


def test_the_command_line(home: Settings, landed: dict[str, int], monkeypatch: pytest.MonkeyPatch) -> None:
    # Dated against the real clock, which the command uses: three processed units well past the retention.
    real_now = datetime.now(UTC)
    for name, unit_id in landed.items():
        age = timedelta(days=1 if name == "kept_file" else 200)
        set_column(home, source_file, source_file.c.id == unit_id, received_at=real_now - age)
    monkeypatch.setenv("GATEWAY_HOME", str(home.home))
    monkeypatch.setenv("GATEWAY_MAPPINGS_DIR", str(home.mappings_dir))
    runner = CliRunner()
    preview = runner.invoke(app, ["maintenance", "run", "--dry-run", "--only", "landing", "--json"])
    assert preview.exit_code == 0, preview.output
    (report,) = json.loads(preview.output)
    assert report["job"] == "landing" and report["dry_run"] is True
    assert report["rows"] == 3 and report["detail"] == {"kept_unprocessed": 1, "kept_newest_of_source": 1}
    wrong = runner.invoke(app, ["maintenance", "run", "--only", "everything"])
    assert wrong.exit_code == 2 and "everything" in wrong.output
    done = runner.invoke(app, ["maintenance", "run", "--only", "landing", "--only", "vacuum"])
    assert done.exit_code == 0 and "landing" in done.output and "vacuum" in done.output
    assert sum(u["landing_purged_at"] is not None for u in units(home).values()) == 3
    summary = runner.invoke(app, ["maintenance", "summary"])
    assert summary.exit_code == 0 and "网关每日摘要" in summary.output
    as_json = runner.invoke(app, ["maintenance", "summary", "--json", "--hours", "1"])
    assert json.loads(as_json.output)["records"]["held"] > 0


def test_reports_read_well() -> None:
    report = JobReport("landing", files=2, bytes=3 * 1024 * 1024, rows=2, detail={"kept_unprocessed": 1})
    assert report.describe() == "landing: removed 2 files (3.0 MiB); 2 rows; kept_unprocessed 1"


# ------------------------------------------------------------------ plaintext at rest (issue 15's default)


def test_plaintext_goes_at_the_first_run_after_the_acknowledgement_and_envelopes_stay_by_default(
    home: Settings, batches: dict[str, list[Path]]
) -> None:
    """The issue's default: the plaintext removed once acknowledged (a retention of 0 hours: at the next
    run), the envelope kept (no envelope retention unless one is set)."""
    assert home.envelope_retention_days is None
    settings = home.with_overrides(plaintext_retention_hours=0)
    acknowledged = [b for b in batches if batch_row(home, b)["status"] == "acknowledged"]
    assert len(acknowledged) == 2  # one acknowledged two days ago, one an hour ago
    report = purge_outbox(settings, now=NOW)
    assert report.detail == {"plaintext_batches_marked": 2, "plaintext_files": 4}
    for batch_id, paths in batches.items():
        for path in paths:
            gone = batch_id in acknowledged and path.suffix == ".xml"
            assert path.exists() is not gone, path.name
    for batch_id in acknowledged:
        row_ = batch_row(home, batch_id)
        assert row_["plaintext_purged_at"] is not None and row_["envelopes_purged_at"] is None
    assert purge_outbox(settings, now=NOW).files == 0  # a second run finds nothing more to remove
