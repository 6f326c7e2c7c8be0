"""`gateway template` (gateway/template.py): a template filled in by a department is read back unchanged.

The proof is the intake itself: the sample exports of samples/inbox/ are copied cell by cell into the
template of their mapping with openpyxl (as a person filling it in would) and checked with the same
ingest_file the drop folder and `gateway check` run — the receipt must say what it says for the export.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import openpyxl
import pytest
import yaml
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import func, select
from typer.testing import CliRunner

from gateway.cli import app
from gateway.ingest import ingest_file
from gateway.mapping.engine import plan_for
from gateway.mapping.spec import load_mappings
from gateway.receipts import IntakeReceipt
from gateway.schema import load_record_types
from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.tables import record
from gateway.template import (
    CODES_SHEET,
    NOTES_PREFIX,
    NOTES_SHEET,
    TemplateError,
    choose_mapping,
    describe,
    file_mappings,
    write_template,
)
from tests.paths import REPO_ROOT

SAMPLES = REPO_ROOT / "samples" / "inbox"
# (export, the inbox it is dropped in, the mapping it is read with)
EXPORTS = [
    (SAMPLES / "xz_amr" / "2026年10月行政处罚信息.csv", "xz_amr", "national_admin_penalty"),
    (SAMPLES / "xz_ecology" / "环境行政处罚台账.csv", "xz_ecology", "xz_ecology_penalty"),
    (SAMPLES / "xz_inspection" / "检查记录导出.csv", "xz_inspection", "xz_inspection_actions"),
    (SAMPLES / "xz_12345" / "投诉举报工单.csv", "xz_12345", "xz_12345_complaints"),
]
FIRST_DATA_ROW = 3  # header, notes row, then data


@pytest.fixture
def home(tmp_path: Path) -> Settings:
    """The checkout's schemas and mappings, everything else under tmp_path (check uses a scratch database)."""
    return Settings.from_env({"GATEWAY_HOME": str(tmp_path / "var")})


def read_export(path: Path) -> tuple[list[str], list[list[str]]]:
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    rows = list(csv.reader(io.StringIO(text)))
    return rows[0], rows[1:]


def fill(template_path: Path, rows: list[dict[str, str]], out: Path, first_row: int = FIRST_DATA_ROW) -> Path:
    """Type ``rows`` (header → text) into the template's data sheet from ``first_row`` on, and save."""
    book = openpyxl.load_workbook(template_path)
    sheet = book.worksheets[0]
    headers = [cell.value for cell in sheet[1]]
    for offset, row in enumerate(rows):
        for column, header in enumerate(headers, 1):
            value = row.get(str(header), "")
            if value != "":
                sheet.cell(first_row + offset, column, value)
    book.save(out)
    return out


def export_as_template_rows(settings: Settings, path: Path, department: str, mapping_id: str) -> list[dict]:
    """The export's rows keyed by the template's headers: each cell goes to the column of its field."""
    specs = load_mappings(settings.mappings_dir)
    record_types = load_record_types(settings.schemas_dir)
    headers, rows = read_export(path)
    plan = plan_for(headers, specs, record_types, source=department)
    assert plan.spec.id == mapping_id
    template = describe(specs[mapping_id], record_types)
    return [
        {
            column.header: row[plan.columns[column.code]] if column.code in plan.columns else ""
            for column in template.columns
        }
        for row in rows
    ]


def outcome(receipt: IntakeReceipt, row_offset: int = 0) -> tuple[object, ...]:
    errors = sorted((int(str(e["row"])) + row_offset, str(e["code"])) for e in receipt.errors)
    counts = (receipt.status, receipt.rows, receipt.accepted, receipt.rejected, receipt.queued)
    return (receipt.mapping, counts, errors)


@pytest.mark.parametrize(("export", "department", "mapping_id"), EXPORTS, ids=[e[2] for e in EXPORTS])
def test_a_sample_export_typed_into_its_template_gets_the_same_receipt(
    home: Settings, tmp_path: Path, export: Path, department: str, mapping_id: str
) -> None:
    blank = write_template(
        home,
        load_mappings(home.mappings_dir)[mapping_id].record_type,
        tmp_path / "t.xlsx",
        mapping_id=mapping_id,
    )
    assert blank.mapping.id == mapping_id
    rows = export_as_template_rows(home, export, department, mapping_id)
    filled = fill(tmp_path / "t.xlsx", rows, tmp_path / "filled.xlsx")

    original = ingest_file(home, export, department, dry_run=True).receipt
    from_template = ingest_file(home, filled, department, dry_run=True).receipt

    assert original.accepted > 0
    # CSV data starts on row 2, the template's on row 3 (under the notes row).
    assert outcome(from_template) == outcome(original, row_offset=FIRST_DATA_ROW - 2)
    assert [(r["row"], r["kind"]) for r in from_template.skipped_rows] == [(2, "note")]
    assert str(from_template.skipped_rows[0]["text"]).startswith(NOTES_PREFIX)
    assert {s["sheet"] for s in from_template.skipped_sheets} <= {NOTES_SHEET, CODES_SHEET}
    assert NOTES_SHEET in {s["sheet"] for s in from_template.skipped_sheets}


def test_every_record_type_a_department_files_has_a_template_the_intake_reads(
    home: Settings, tmp_path: Path
) -> None:
    specs = load_mappings(home.mappings_dir)
    record_types = load_record_types(home.schemas_dir)
    made = [spec for name in record_types for spec in file_mappings(specs, name)]
    assert {spec.record_type for spec in made} >= {"admin_penalty", "admin_license", "inspection_action"}
    for spec in made:
        path = write_template(home, spec.record_type, tmp_path / f"{spec.id}.xlsx", mapping_id=spec.id)
        # Dropped in its own inbox (any inbox for a national template), with no mapping named.
        department = spec.sources[0] if spec.sources else "check"
        receipt = ingest_file(home, tmp_path / f"{spec.id}.xlsx", department, dry_run=True).receipt
        assert path.mapping.id == spec.id
        assert receipt.mapping == spec.id, receipt.to_text()
        assert receipt.file_error == {"code": "E_NO_ROWS", "message": "文件只有表头，没有数据行"}
        assert (receipt.header_row, receipt.skipped) == (1, 1)


def test_pulled_only_types_and_wrong_mappings_are_refused_with_a_reason(
    home: Settings, tmp_path: Path
) -> None:
    specs = load_mappings(home.mappings_dir)
    with pytest.raises(TemplateError, match="没有用于部门报送文件的映射"):
        choose_mapping(specs, "market_entity")
    with pytest.raises(TemplateError, match="主动拉取"):
        choose_mapping(specs, "inspection_action", "xz_amr_staging_inspections")
    with pytest.raises(TemplateError, match="不是 admin_license"):
        choose_mapping(specs, "admin_license", "xz_ecology_penalty")
    with pytest.raises(TemplateError, match="未知的数据类型"):
        write_template(home, "no_such_type", tmp_path / "x.xlsx")
    assert not (tmp_path / "x.xlsx").exists()
    # Several department mappings and no national one: the caller must choose.
    only_own = {k: v for k, v in specs.items() if k != "national_inspection_action"}
    only_own["xz_other_inspections"] = only_own["xz_inspection_actions"]
    with pytest.raises(TemplateError, match="--mapping"):
        choose_mapping(only_own, "inspection_action")
    assert choose_mapping(specs, "inspection_action").id == "national_inspection_action"
    assert choose_mapping(specs, "complaint").id == "xz_12345_complaints"


def data_validations(sheet: Worksheet) -> dict[str, str]:
    """Column letter of each list validation → the range of the code list feeding it."""
    found = {}
    for validation in sheet.data_validations.dataValidation:
        assert validation.type == "list" and validation.showErrorMessage
        target = str(validation.sqref).split(":")[0].rstrip("0123456789")
        found[target] = validation.formula1
    return found


def test_code_lists_are_drop_downs_fed_by_a_hidden_sheet_in_the_departments_words(
    home: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "licence.xlsx"
    licence = write_template(home, "admin_license", path)
    book = openpyxl.load_workbook(path)
    sheet, codes = book.worksheets[0], book[CODES_SHEET]
    assert codes.sheet_state == "hidden" and book.sheetnames == ["行政许可", NOTES_SHEET, CODES_SHEET]
    by_header = {column.header: column for column in licence.columns}
    # The XSD's codes are 1 and 2; the mapping translates the words a department writes.
    assert by_header["当前状态"].choices == ("有效", "无效")
    assert by_header["行政相对人类别"].choices == ("法人及非法人组织", "自然人", "个体工商户")
    lists = data_validations(sheet)
    headers = [cell.value for cell in sheet[1]]
    for letter, formula in lists.items():
        column = by_header[headers[openpyxl.utils.column_index_from_string(letter) - 1]]
        source_column = formula.split("!")[1].split(":")[0].replace("$", "").rstrip("0123456789")
        listed = [c.value for c in codes[source_column][1:] if c.value is not None]
        assert tuple(listed) == column.choices
        assert codes[f"{source_column}1"].value == column.header
    assert len(lists) == sum(1 for column in licence.columns if column.choices) == 2


def test_every_drop_down_value_is_accepted_when_picked(home: Settings, tmp_path: Path) -> None:
    """Every 检查形式 and 所属县区 of the bureau's template, each on a copy of a valid row: all accepted."""
    template = write_template(
        home, "inspection_action", tmp_path / "t.xlsx", mapping_id="xz_inspection_actions"
    )
    picks = {column.header: column.choices for column in template.columns if column.choices}
    assert set(picks) == {"相对人类型", "证件类型", "所属县区", "检查形式"}
    assert picks["检查形式"] == ("日常检查", "专项检查")
    assert len(picks["所属县区"]) == 15 and "忻府区" in picks["所属县区"]
    base = export_as_template_rows(home, EXPORTS[2][0], "xz_inspection", "xz_inspection_actions")[0]
    rows = []
    for n, (header, value) in enumerate(
        [("检查形式", v) for v in picks["检查形式"]] + [("所属县区", v) for v in picks["所属县区"]]
    ):
        rows.append({**base, header: value, "检查编号": f"XZSJ-JC-2026-9{n:04d}"})
    filled = fill(tmp_path / "t.xlsx", rows, tmp_path / "filled.xlsx")
    receipt = ingest_file(home, filled, "xz_inspection", dry_run=True).receipt
    assert (receipt.status, receipt.rows, receipt.accepted) == ("accepted", len(rows), len(rows)), (
        receipt.to_text()
    )


def test_the_notes_say_required_format_and_the_standards_note(home: Settings, tmp_path: Path) -> None:
    path = tmp_path / "p.xlsx"
    made = write_template(home, "admin_penalty", path)
    sheet = openpyxl.load_workbook(path).worksheets[0]
    notes = {str(head.value): str(note.value) for head, note in zip(sheet[1], sheet[2], strict=True)}
    assert notes["行政相对人名称"].startswith(NOTES_PREFIX + "必填。文本，不超过 200 字。")
    assert notes["处罚决定日期"].startswith("必填。日期，如 2026-03-05")
    assert notes["罚款金额（万元）"].startswith(
        "条件必填。金额，单位：万元，最多 6 位小数。处罚类别为罚款时必填"
    )
    assert notes["行政相对人代码_1(统一社会信用代码)"].startswith("条件必填。18 位统一社会信用代码")
    assert notes["备注"] == "选填。文本，不超过 512 字"
    # The header's comment carries the same note; identifiers are text cells, dates date cells.
    first = sheet["A1"]
    assert first.comment is not None and "必填" in first.comment.text
    letter = {str(c.value): c.column_letter for c in sheet[1]}
    assert sheet.column_dimensions[letter["行政相对人代码_1(统一社会信用代码)"]].number_format == "@"
    assert sheet.column_dimensions[letter["处罚决定日期"]].number_format == "yyyy-mm-dd"
    assert sheet.freeze_panes == "A3"
    assert [c.header for c in made.columns][:2] == ["行政相对人名称", "行政相对人类别"]


def test_a_department_template_lists_the_constants_the_gateway_fills(home: Settings, tmp_path: Path) -> None:
    path = tmp_path / "e.xlsx"
    made = write_template(home, "admin_penalty", path, mapping_id="xz_ecology_penalty")
    assert "处罚机关" not in made.headers and "罚款金额（元）" in made.headers
    assert ("处罚机关", "忻州市生态环境局") in made.constants
    amount = next(c for c in made.columns if c.header == "罚款金额（元）")
    assert amount.note == "条件必填。金额，单位：元"  # not the standard's note, which speaks of 万元
    instructions = openpyxl.load_workbook(path)[NOTES_SHEET]
    text = "\n".join(str(c.value) for row in instructions.iter_rows() for c in row if c.value)
    assert "处罚机关＝忻州市生态环境局" in text and "--source xz_ecology_penalty" in text
    assert "xz_ecology" in text and "CF_NR_FK" in text


def test_without_rules_that_skip_it_no_notes_row_is_written(home: Settings, tmp_path: Path) -> None:
    mappings = tmp_path / "mappings"
    shutil.copytree(home.mappings_dir, mappings)
    defaults = yaml.safe_load((mappings / "defaults.yaml").read_text(encoding="utf-8"))
    del defaults["non_data_rows"]
    (mappings / "defaults.yaml").write_text(yaml.safe_dump(defaults, allow_unicode=True), encoding="utf-8")
    bare = home.with_overrides(mappings_dir=mappings)
    with pytest.raises(TemplateError, match="--no-notes-row"):
        write_template(bare, "admin_penalty", tmp_path / "n.xlsx")
    assert not (tmp_path / "n.xlsx").exists()
    write_template(
        bare, "admin_penalty", tmp_path / "n.xlsx", mapping_id="xz_ecology_penalty", notes_row=False
    )
    rows = export_as_template_rows(bare, EXPORTS[1][0], "xz_ecology", "xz_ecology_penalty")
    filled = fill(tmp_path / "n.xlsx", rows, tmp_path / "filled.xlsx", first_row=2)
    receipt = ingest_file(bare, filled, "xz_ecology", dry_run=True).receipt
    assert (receipt.status, receipt.rows, receipt.skipped) == ("accepted", len(rows), 0)


@pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_a_filled_template_is_stored_by_the_drop_folders_ingest(settings: Settings, tmp_path: Path) -> None:
    write_template(settings, "admin_penalty", tmp_path / "t.xlsx", mapping_id="xz_ecology_penalty")
    rows = export_as_template_rows(settings, EXPORTS[1][0], "xz_ecology", "xz_ecology_penalty")
    filled = fill(tmp_path / "t.xlsx", rows, tmp_path / "生态环境局处罚.xlsx")
    receipt = ingest_file(settings, filled, "xz_ecology").receipt
    assert (receipt.status, receipt.accepted, receipt.new) == ("accepted", len(rows), len(rows))
    with engine_for(settings.database_url).connect() as conn:
        assert conn.execute(select(func.count()).select_from(record)).scalar_one() == len(rows)


def test_the_command_writes_lists_and_does_not_overwrite(
    home: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_HOME", str(home.home))
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()
    out = tmp_path / "行政处罚模板.xlsx"
    made = runner.invoke(app, ["template", "admin_penalty", "--xlsx", str(out)])
    assert made.exit_code == 0, made.output
    assert "national_admin_penalty" in made.output and "30 columns" in made.output
    again = runner.invoke(app, ["template", "admin_penalty", "--xlsx", str(out)])
    assert again.exit_code == 1 and "--force" in again.output
    forced = runner.invoke(
        app, ["template", "admin_penalty", "--xlsx", str(out), "--source", "xz_ecology_penalty", "--force"]
    )
    assert forced.exit_code == 0 and "--source xz_ecology_penalty" in forced.output
    assert openpyxl.load_workbook(out).worksheets[0]["A1"].value == "企业名称"
    refused = runner.invoke(app, ["template", "market_entity", "--xlsx", str(tmp_path / "m.xlsx")])
    assert refused.exit_code == 1 and "没有用于部门报送文件的映射" in refused.output
    listed = runner.invoke(app, ["template", "--list"])
    assert (
        listed.exit_code == 0
        and "xz_inspection_actions" in listed.output
        and "market_entity" in listed.output
    )
    assert runner.invoke(app, ["template", "admin_penalty"]).exit_code == 2  # no --xlsx
    helped = runner.invoke(app, ["template", "--help"])
    assert "--mapping" in helped.output and "--no-notes-row" in helped.output

    # And `gateway check` reads the template it wrote (JSON, as a script gets it).
    checked = runner.invoke(app, ["check", str(out), "--source", "xz_ecology_penalty"])
    assert checked.exit_code == 2  # a blank template has no data rows
    assert json.loads(checked.stdout)["file_error"]["code"] == "E_NO_ROWS"
