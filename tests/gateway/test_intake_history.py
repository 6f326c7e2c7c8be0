"""gateway/intake_history.py: what each department has sent, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from gateway.ingest import ingest_file
from gateway.intake_history import department_totals, file_with_content, files_of, receipt_of
from gateway.settings import Settings
from tests.hostile import builders as b
from tests.paths import REPO_ROOT
from tests.real_exports import rows_of, workbook, xlsx

AMR = REPO_ROOT / "samples" / "inbox" / "xz_amr"


def two_sheets(tmp_path: Path) -> Path:
    """A workbook of two monthly sheets, the second with one penalty whose amount is not a number."""
    amount = next(h for h in b.HEADERS if h.startswith("罚款金额"))
    october = rows_of([b.penalty(n) for n in range(1, 4)])
    november = rows_of(
        [b.penalty(4), b.penalty(5, **{amount: "五千元"}), *(b.penalty(n) for n in range(6, 10))]
    )
    path = tmp_path / "按月分表的处罚台账.xlsx"
    path.write_bytes(xlsx(workbook(("十月", october), ("十一月", november))))
    return path


def test_files_are_listed_newest_first_with_their_parts_summed(settings: Settings, tmp_path: Path) -> None:
    gbk = ingest_file(settings, AMR / "2026年10月行政处罚信息.csv", "xz_amr")
    pdf = ingest_file(settings, AMR / "处罚决定书扫描件.csv", "xz_amr")
    book = ingest_file(settings, two_sheets(tmp_path), "xz_amr")
    ingest_file(settings, REPO_ROOT / "samples/inbox/xz_ecology/环境行政处罚台账.csv", "xz_ecology")

    page = files_of(settings, "xz_amr")
    assert page.total == 3 and page.pages == 1
    names = [f.name for f in page.items]
    assert names == ["按月分表的处罚台账.xlsx", "处罚决定书扫描件.csv", "2026年10月行政处罚信息.csv"]
    workbook_entry, pdf_entry, gbk_entry = page.items
    assert (workbook_entry.parts, workbook_entry.rows, workbook_entry.accepted, workbook_entry.rejected) == (
        2,
        book.receipt.rows,
        book.receipt.accepted,
        book.receipt.rejected,
    )
    assert workbook_entry.rejected == 1 and workbook_entry.status == "partial"
    assert (pdf_entry.status, pdf_entry.rows) == ("rejected", 0)
    assert (gbk_entry.status, gbk_entry.accepted, gbk_entry.rejected) == ("partial", 10, 2)
    assert gbk_entry.file_id == gbk.source_file_id and pdf_entry.file_id == pdf.source_file_id

    second = files_of(settings, "xz_amr", number=2, size=2)
    assert (second.number, second.pages, [f.name for f in second.items]) == (
        2,
        2,
        ["2026年10月行政处罚信息.csv"],
    )

    totals = {t.department: t for t in department_totals(settings)}
    assert set(totals) == {"xz_amr", "xz_ecology"}
    amr = totals["xz_amr"]
    assert (amr.files, amr.accepted, amr.rejected) == (3, 10 + book.receipt.accepted, 2 + 1)


def test_a_receipt_is_found_by_its_department_and_first_part(settings: Settings, tmp_path: Path) -> None:
    book = ingest_file(settings, two_sheets(tmp_path), "xz_amr")
    first = files_of(settings, "xz_amr").items[0]
    stored = receipt_of(settings, "xz_amr", first.file_id)
    assert stored is not None and stored.receipt is not None
    assert [p["sheet"] for p in stored.receipt.parts] == ["十月", "十一月"]
    assert [(e["sheet"], e["code"]) for e in stored.receipt.errors] == [("十一月", "E_AMOUNT")]
    assert stored.receipt.to_json() == book.receipt.to_json()
    assert receipt_of(settings, "xz_ecology", first.file_id) is None  # another department's file
    assert receipt_of(settings, "xz_amr", first.file_id + 1) is None  # its second sheet is not a file
    assert file_with_content(settings, "xz_amr", book.receipt.sha256) == first
    assert file_with_content(settings, "xz_ecology", book.receipt.sha256) is None
