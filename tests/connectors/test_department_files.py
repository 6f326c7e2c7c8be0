"""Drop folder → claim → ingest → archive with receipts: the crash windows between them, and an inbox that
holds hostile things — links, FIFOs, broken names and text, ID numbers in names, temporary files."""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import random
import shutil
import stat
from pathlib import Path

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import func, select

from connectors import department_files
from connectors.department_files import log_summary, process_file, scan_inboxes
from connectors.drop_folder import DropFolder
from gateway.ids.resident_id import calc_check, mask
from gateway.ingest import ingest_file
from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.tables import record, source_file
from tests.hostile import builders as b
from tests.paths import REPO_ROOT

SAMPLES = REPO_ROOT / "samples" / "inbox"


def drop(settings: Settings, department: str, sample: Path, name: str | None = None) -> Path:
    inbox = settings.dropzone / department / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copyfile(sample, inbox / (name or sample.name)))


def test_every_sample_gets_archived_with_a_receipt(settings: Settings) -> None:
    for folder in SAMPLES.iterdir():
        for sample in folder.iterdir():
            drop(settings, folder.name, sample)
    waiting = scan_inboxes(settings)
    assert len(waiting) == 8
    results = [process_file(settings, item["department"], item["path"]) for item in waiting]
    by_file = {r["file"]: r for r in results}
    assert by_file["处罚决定书扫描件.csv"]["status"] == "rejected"
    assert Path(str(by_file["处罚决定书扫描件.csv"]["archived"])).parent.parent.name == "rejected"
    for result in results:
        archived = Path(str(result["archived"]))
        assert archived.exists()
        receipt = json.loads(Path(f"{archived}.receipt.json").read_text(encoding="utf-8"))
        assert receipt["status"] == result["status"]
        assert Path(f"{archived}.receipt.csv").exists() and Path(f"{archived}.receipt.txt").exists()
    assert scan_inboxes(settings) == []
    totals = log_summary(results)
    # 9 of 11 inspections; then 6 of 7 penalty actions, 5 of 6 coercive actions, 7 of 8 complaints.
    assert totals["files"] == 8 and totals["accepted"] == 10 + 4 + 5 + 9 + 6 + 5 + 7


def test_second_drop_of_the_same_file_is_answered_as_duplicate(settings: Settings) -> None:
    sample = SAMPLES / "xz_ecology" / "环境行政处罚台账.csv"
    drop(settings, "xz_ecology", sample)
    (first,) = [process_file(settings, i["department"], i["path"]) for i in scan_inboxes(settings)]
    drop(settings, "xz_ecology", sample, "再次报送.csv")
    (second,) = [process_file(settings, i["department"], i["path"]) for i in scan_inboxes(settings)]
    assert first["status"] == "accepted" and first["new"] == 4
    assert second["status"] == "duplicate" and second["new"] == 0
    assert Path(str(second["archived"])).parent.parent.name == "rejected"
    original = json.loads(Path(f"{first['archived']}.receipt.json").read_text(encoding="utf-8"))
    assert original["status"] == "accepted"  # the first receipt is never overwritten
    text = Path(f"{second['archived']}.receipt.txt").read_text(encoding="utf-8")
    assert "重复提交" in text


def test_crash_between_commit_and_archive_finishes_on_the_next_run(settings: Settings) -> None:
    path = drop(settings, "xz_ecology", SAMPLES / "xz_ecology" / "环境行政处罚台账.csv")
    committed = ingest_file(settings, path, "xz_ecology")  # …and the process died before archiving
    (item,) = scan_inboxes(settings)
    rerun = process_file(settings, item["department"], item["path"])
    assert rerun["status"] == committed.receipt.status == "accepted"
    assert rerun["new"] == 4  # the original receipt, not a second ingestion
    archived = Path(str(rerun["archived"]))
    assert json.loads(Path(f"{archived}.receipt.json").read_text(encoding="utf-8"))["new"] == 4


# --- the inbox is hostile (issue #10) ---------------------------------------------------------------------

DEPARTMENT = "xz_amr"
MARKER = "外部文件的违法事实-不得出现在网关任何输出中"


def penalties(count: int, first: int = 1, **changes: str) -> bytes:
    """A national-template penalty CSV of ``count`` valid rows (tests.hostile.builders)."""
    return b.csv_bytes([b.penalty(n, **changes) for n in range(first, first + count)])


def resident_id(seed: int) -> str:
    """A valid resident ID number, different for each seed."""
    rng = random.Random(seed)
    body = f"140902{rng.randint(1950, 2005)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    body += f"{rng.randint(0, 999):03d}"
    return body + calc_check(body)


def put(settings: Settings, name: str | bytes, data: bytes, department: str = DEPARTMENT) -> Path:
    """Drop ``data`` under ``name`` (bytes: a name as a Windows client writes it, not valid UTF-8)."""
    inbox = settings.dropzone / department / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    raw = name if isinstance(name, bytes) else name.encode()
    path = Path(os.fsdecode(os.path.join(os.fsencode(inbox), raw)))
    path.write_bytes(data)
    return path


def receipt_of(result: dict[str, object]) -> dict[str, object]:
    return json.loads(Path(f"{result['archived']}.receipt.json").read_text(encoding="utf-8"))


def receipt_texts(result: dict[str, object]) -> str:
    """All three receipts as text (the CSV without its BOM): what the department reads."""
    base = str(result["archived"])
    return "\n".join(
        Path(base + suffix).read_bytes().decode("utf-8-sig")
        for suffix in (".receipt.json", ".receipt.csv", ".receipt.txt")
    )


def everything_written(settings: Settings) -> list[Path]:
    return sorted(p for p in settings.home.rglob("*") if p.is_file() and not p.is_symlink())


def stored_records(settings: Settings) -> int:
    with engine_for(settings.database_url).connect() as conn:
        return conn.execute(select(func.count()).select_from(record)).scalar_one()


def inbox_and_work(settings: Settings, department: str = DEPARTMENT) -> tuple[list[str], list[Path]]:
    base = settings.dropzone / department
    work = base / ".work"
    return (
        sorted(os.listdir(base / "inbox")),
        sorted(work.rglob("*")) if work.exists() else [],
    )


def test_a_file_swapped_for_a_symlink_after_listing_is_refused_and_its_target_never_read(
    settings: Settings, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.csv"
    secret_bytes = penalties(3, **{"违法事实": MARKER})
    secret.write_bytes(secret_bytes)
    path = put(settings, "处罚.csv", penalties(3))
    [item] = scan_inboxes(settings)
    path.unlink()
    path.symlink_to(secret)  # the swap, between listing and reading

    result = process_file(settings, item["department"], item["path"])

    assert (result["status"], result["code"]) == ("rejected", "E_SYMLINK")
    receipt = receipt_of(result)
    assert receipt["file_error"]["message"].startswith("「处罚.csv」是符号链接")
    assert "未读取它指向的内容，已删除该链接" in receipt["file_error"]["message"]
    assert (receipt["sha256"], receipt["size"]) == ("", 0)
    archived = Path(str(result["archived"]))
    assert archived.parent.parent == settings.dropzone / DEPARTMENT / "rejected"
    assert not archived.exists() and not archived.is_symlink()  # only its receipts
    assert inbox_and_work(settings) == ([], [])
    assert secret.read_bytes() == secret_bytes and secret.stat().st_nlink == 1  # not moved, not linked
    assert stored_records(settings) == 0
    assert not list(settings.landing_dir.rglob("*.parquet"))
    for written in everything_written(settings):
        assert MARKER.encode() not in written.read_bytes(), written


@pytest.mark.parametrize("kind", ["symlink", "hardlink", "fifo"])
def test_a_link_or_a_fifo_in_an_inbox_gets_a_refusal_receipt_and_leaves_it(
    settings: Settings, tmp_path: Path, kind: str
) -> None:
    secret = tmp_path / "secret.csv"
    secret.write_bytes(penalties(2, **{"违法事实": MARKER}))
    inbox = put(settings, "好.csv", penalties(4)).parent
    odd = inbox / "odd.csv"
    if kind == "symlink":
        odd.symlink_to(secret)
    elif kind == "hardlink":
        os.link(secret, odd)
    else:
        os.mkfifo(odd)  # opening it would block a reader forever
    results = {
        r["file"]: r
        for r in (process_file(settings, i["department"], i["path"]) for i in scan_inboxes(settings))
    }

    code, words = {
        "symlink": ("E_SYMLINK", "是符号链接"),
        "hardlink": ("E_HARDLINK", "是硬链接"),
        "fifo": ("E_NOT_A_FILE", "是管道（FIFO），不是普通文件：网关未读取，已将其移出收件箱"),
    }[kind]
    assert (results["odd.csv"]["status"], results["odd.csv"]["code"]) == ("rejected", code)
    assert f"「odd.csv」{words}" in receipt_texts(results["odd.csv"])
    assert (results["好.csv"]["status"], results["好.csv"]["new"]) == ("accepted", 4)  # the run went on
    assert inbox_and_work(settings) == ([], [])
    assert secret.exists() and secret.stat().st_nlink == 1
    assert stored_records(settings) == 4
    for written in everything_written(settings):
        assert MARKER.encode() not in written.read_bytes(), written


def test_json_with_a_lone_surrogate_gets_a_receipt_that_says_so(settings: Settings) -> None:
    records = b.json_records([b.penalty(n) for n in range(1, 11)])
    records[0]["备注\ud800"] = "导出工具写坏的列名"
    put(settings, "强制措施导出.json", json.dumps(records, ensure_ascii=True).encode())
    [item] = scan_inboxes(settings)

    result = process_file(settings, item["department"], item["path"])

    assert (result["status"], result["new"]) == ("accepted", 10)
    receipt = receipt_of(result)
    assert receipt["replaced_characters"] == 1
    assert "列「备注\ufffd」未对应任何字段，已忽略" in receipt["warnings"]
    text = Path(f"{result['archived']}.receipt.txt").read_text(encoding="utf-8")
    assert "提示：文件内容或文件名中有 1 个字符编码有误（孤立的代理码位）" in text
    assert "W_CHARS_REPLACED" in Path(f"{result['archived']}.receipt.csv").read_text(encoding="utf-8-sig")
    assert Path(str(result["archived"])).parent.parent.name == "processed"
    assert inbox_and_work(settings) == ([], [])


def test_json_with_a_lone_surrogate_in_a_value_costs_that_row_only(settings: Settings) -> None:
    records = b.json_records([b.penalty(n) for n in range(1, 11)])
    records[3]["违法事实"] = "坏\udc80字"
    data = json.dumps(records, ensure_ascii=True).encode()
    put(settings, "强制措施导出.json", data)
    [item] = scan_inboxes(settings)

    result = process_file(settings, item["department"], item["path"])

    assert (result["status"], result["new"], result["rejected"]) == ("partial", 9, 1)
    receipt = receipt_of(result)
    [error] = receipt["errors"]
    assert error["row"] == 5 and "孤立的代理码位" in error["message"]
    assert inbox_and_work(settings) == ([], [])
    assert stored_records(settings) == 9


def test_files_with_gbk_names_are_read_and_named_in_their_receipts(settings: Settings) -> None:
    data = penalties(5)
    put(settings, "行政处罚信息".encode("gbk") + b".csv", data)
    put(settings, "处罚决定书扫描件".encode("gbk") + b".pdf", b"%PDF-1.4\n" + data)
    results = {
        r["file"]: r
        for r in (process_file(settings, i["department"], i["path"]) for i in scan_inboxes(settings))
    }

    assert set(results) == {"行政处罚信息.csv", "处罚决定书扫描件.pdf"}
    csv_result, pdf_result = results["行政处罚信息.csv"], results["处罚决定书扫描件.pdf"]
    assert (csv_result["status"], csv_result["new"]) == ("accepted", 5)
    assert Path(str(csv_result["archived"])).name.endswith("-行政处罚信息.csv")
    assert Path(str(csv_result["archived"])).read_bytes() == data
    assert (pdf_result["status"], pdf_result["code"]) == ("rejected", "E_FORMAT")
    assert receipt_of(pdf_result)["file_error"]["message"].startswith(
        "文件“处罚决定书扫描件.pdf”的内容是PDF文档"
    )
    assert inbox_and_work(settings) == ([], [])


def test_an_unexpected_error_on_one_file_gives_an_internal_receipt_and_the_run_goes_on(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    number = resident_id(1)
    broken = penalties(3, first=1)
    put(settings, "坏.csv", broken)
    put(settings, "好.csv", penalties(3, first=10))

    def ingest_or_fail(settings: Settings, path: Path, department: str, **options: object) -> object:
        if path.name == "坏.csv":
            raise RuntimeError(f"bug near {number} while talking to postgresql://gw:s3cret-pw@db/gw")
        return ingest_file(settings, path, department, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(department_files, "ingest_file", ingest_or_fail)
    with caplog.at_level(logging.INFO):
        results = {
            r["file"]: r
            for r in (process_file(settings, i["department"], i["path"]) for i in scan_inboxes(settings))
        }

    bad, good = results["坏.csv"], results["好.csv"]
    assert (bad["status"], bad["code"]) == ("rejected", "E_INTERNAL")
    receipt = receipt_of(bad)
    reference = hashlib.sha256(broken).hexdigest()[:12]
    assert receipt["file_error"]["message"] == (
        "网关处理文件「坏.csv」时发生内部故障，本文件未入库。这是网关的问题，平台工程师已收到告警"
        f"（事件编号 {reference}），排除后会与贵单位联系，届时无须修改文件即可重新报送。"
    )
    assert (receipt["sha256"], receipt["size"]) == (hashlib.sha256(broken).hexdigest(), len(broken))
    texts = receipt_texts(bad)
    for leak in ("Traceback", "RuntimeError", "s3cret", number, "postgresql://"):
        assert leak not in texts
    archived = Path(str(bad["archived"]))
    assert archived.parent.parent.name == "rejected" and archived.read_bytes() == broken
    assert (good["status"], good["new"]) == ("accepted", 3)
    [alert] = [r for r in caplog.records if r.levelno == logging.ERROR]
    logged = alert.getMessage()
    assert f"the gateway failed on this file (reference {reference})" in logged
    assert "Traceback" in logged and "RuntimeError: bug near" in logged and mask(number) in logged
    assert number not in caplog.text and "s3cret" not in caplog.text
    assert inbox_and_work(settings) == ([], [])


def test_a_database_that_is_down_stops_the_run_and_the_file_stays_in_the_inbox(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "GATEWAY_HOME": str(tmp_path / "var"),
            "GATEWAY_SETTLE_SECONDS": "0",
            "GATEWAY_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/gateway",  # nothing listens there
        }
    )
    settings.ensure_dirs()
    data = penalties(3)
    path = put(settings, "处罚.csv", data)
    before = path.stat()
    [item] = scan_inboxes(settings)

    with pytest.raises(sa_exc.OperationalError):
        process_file(settings, item["department"], item["path"])

    after = path.stat()
    assert path.read_bytes() == data and (after.st_ino, after.st_mtime_ns) == (
        before.st_ino,
        before.st_mtime_ns,
    )
    assert inbox_and_work(settings) == (["处罚.csv"], [])
    assert not list((settings.dropzone / DEPARTMENT).rglob("*.receipt.*"))


@pytest.mark.parametrize("failure", ["disk full", "database gone"])
def test_a_platform_failure_after_the_claim_puts_the_file_back_for_the_next_run(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    data = penalties(3)
    path = put(settings, "处罚.csv", data)
    [item] = scan_inboxes(settings)

    def fail(*args: object, **kwargs: object) -> object:
        if failure == "disk full":
            raise OSError(errno.ENOSPC, "No space left on device")
        monkeypatch.setattr(department_files, "check_database", broken_database)
        raise sa_exc.OperationalError("INSERT …", {}, Exception("server closed the connection"))

    def broken_database(settings: Settings) -> None:
        raise sa_exc.OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(department_files, "ingest_file", fail)
    with pytest.raises((OSError, sa_exc.OperationalError)):
        process_file(settings, item["department"], item["path"])
    assert path.read_bytes() == data and path.stat().st_nlink == 1
    assert inbox_and_work(settings) == (["处罚.csv"], [])
    assert not list((settings.dropzone / DEPARTMENT).rglob("*.receipt.*"))

    monkeypatch.undo()
    [item] = scan_inboxes(settings)
    result = process_file(settings, item["department"], item["path"])  # the next run
    assert (result["status"], result["new"]) == ("accepted", 3)


def test_a_file_claimed_by_a_run_that_died_is_processed_once_by_the_next(settings: Settings) -> None:
    put(settings, "处罚.csv", penalties(4))
    folder = DropFolder(settings.dropzone, settle_seconds=0, probe_seconds=0)
    [listed] = folder.pending(DEPARTMENT)
    assert folder.claim(listed, DEPARTMENT) is not None  # …and the worker was killed here
    [item] = scan_inboxes(settings)
    assert "/.work/" in item["path"] and item["name"] == "处罚.csv"
    result = process_file(settings, item["department"], item["path"])
    assert (result["status"], result["new"]) == ("accepted", 4)
    assert scan_inboxes(settings) == [] and inbox_and_work(settings) == ([], [])
    receipts = list((settings.dropzone / DEPARTMENT).rglob("*.receipt.json"))
    assert len(receipts) == 1


@pytest.mark.parametrize("seed", [3, 4])
def test_resident_id_numbers_in_file_names_are_masked_everywhere(
    settings: Settings, caplog: pytest.LogCaptureFixture, seed: int
) -> None:
    number = resident_id(seed)
    masked = mask(number)
    data = penalties(4)
    put(settings, f"张三_{number}_处罚.csv", data)
    put(settings, f"李四{number}.pdf", b"%PDF-1.4\n" + data[:100])
    with caplog.at_level(logging.DEBUG):
        waiting = scan_inboxes(settings)
        results = [process_file(settings, i["department"], i["path"]) for i in waiting]

    by_file = {r["file"]: r for r in results}
    assert set(by_file) == {f"张三_{masked}_处罚.csv", f"李四{masked}.pdf"}
    accepted, refused = by_file[f"张三_{masked}_处罚.csv"], by_file[f"李四{masked}.pdf"]
    assert (accepted["status"], accepted["new"]) == ("accepted", 4)
    receipt = receipt_of(accepted)
    assert (receipt["file"], receipt["sha256"], receipt["size"]) == (
        f"张三_{masked}_处罚.csv",
        hashlib.sha256(data).hexdigest(),
        len(data),
    )
    assert f"文件：张三_{masked}_处罚.csv" in receipt_texts(accepted)
    assert (refused["status"], refused["code"]) == ("rejected", "E_FORMAT")
    assert f"文件“李四{masked.replace('*', '_')}.pdf”的内容是PDF文档" in receipt_texts(refused)
    for result in results:
        assert number not in receipt_texts(result)
        assert number not in str(result["archived"]) and Path(str(result["archived"])).exists()
    assert number not in json.dumps(waiting, ensure_ascii=False) + json.dumps(results, ensure_ascii=False)
    assert number not in caplog.text and masked in caplog.text
    assert all(number not in str(p) for p in settings.home.rglob("*"))
    with engine_for(settings.database_url).connect() as conn:
        names = conn.execute(select(source_file.c.file_name)).scalars().all()
    assert sorted(names) == sorted([f"张三_{masked}_处罚.csv", f"李四{masked}.pdf"])


def test_a_dotfile_is_logged_then_refused_with_a_receipt_after_the_grace_period(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    data = penalties(3)
    put(settings, ".处罚.csv", data)
    with caplog.at_level(logging.INFO, logger="connectors.drop_folder"):
        assert scan_inboxes(settings) == []  # within the default hour: an editor may still be at work
    assert "'.处罚.csv' has a temporary name" in caplog.text
    assert settings.temp_grace_seconds == 3600

    later = settings.with_overrides(temp_grace_seconds=0)
    [item] = scan_inboxes(later)
    result = process_file(later, item["department"], item["path"])

    assert (result["status"], result["code"]) == ("rejected", "E_TEMP_NAME")
    receipt = receipt_of(result)
    assert receipt["file"] == ".处罚.csv"
    assert receipt["file_error"]["message"].startswith("文件「.处罚.csv」的文件名以“.”开头")
    assert "网关未处理其内容，已将其移至本回执所在目录" in receipt["file_error"]["message"]
    assert (receipt["sha256"], receipt["size"]) == (hashlib.sha256(data).hexdigest(), len(data))
    archived = Path(str(result["archived"]))
    assert archived.parent.parent.name == "rejected" and archived.read_bytes() == data
    assert archived.name == f"{receipt['sha256'][:12]}-处罚.csv"
    assert stored_records(settings) == 0
    assert inbox_and_work(settings) == ([], [])


def test_files_written_by_a_run_are_never_readable_by_others_whatever_the_umask(
    database_url: str, tmp_path: Path
) -> None:
    previous = os.umask(0)
    try:
        settings = Settings.from_env({"GATEWAY_HOME": str(tmp_path / "var"), "GATEWAY_SETTLE_SECONDS": "0"})
        settings = settings.with_overrides(database_url=database_url)
        settings.ensure_dirs()
        put(settings, "处罚.csv", penalties(4))
        [item] = scan_inboxes(settings)
        result = process_file(settings, item["department"], item["path"])
    finally:
        os.umask(previous)

    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    archived = Path(str(result["archived"]))
    assert result["status"] == "accepted"
    suffixes = (".receipt.json", ".receipt.csv", ".receipt.txt")
    expected = dict.fromkeys([archived.name, *(archived.name + suffix for suffix in suffixes)], 0o640)
    assert {p.name: mode(p) for p in archived.parent.iterdir()} == expected
    assert mode(archived.parent) == mode(archived.parent.parent) == 0o750
    assert mode(settings.dropzone / DEPARTMENT / ".work") == 0o700
    [landed] = settings.landing_dir.rglob("*.parquet")
    assert mode(landed) == 0o600 and mode(landed.parent) == mode(settings.landing_dir) == 0o700
    assert mode(settings.outbox_dir) == mode(settings.keys_dir) == 0o700
    if database_url.startswith("sqlite:///"):
        database = Path(database_url.removeprefix("sqlite:///"))
        assert mode(database) == 0o600
        for companion in database.parent.glob(f"{database.name}-*"):  # -wal, -shm
            assert mode(companion) == 0o600
    fresh = tmp_path / "fresh" / "gateway.db"
    previous = os.umask(0)
    try:
        engine_for(f"sqlite:///{fresh}")
    finally:
        os.umask(previous)
    assert mode(fresh) == 0o600 and mode(fresh.parent) == 0o700
