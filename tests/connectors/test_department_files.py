"""Drop folder → ingest → archive with receipts, including the crash window between them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from connectors.department_files import log_summary, process_file, scan_inboxes
from gateway.ingest import ingest_file
from gateway.settings import REPO_ROOT, Settings

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
