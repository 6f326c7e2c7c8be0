"""Excel templates for departments: a workbook whose headers the gateway reads back unchanged.

A department that fills in a blank sheet by hand guesses at headers, date formats and code values, and
learns what was wrong from its first receipt. A template made from the mapping the file will be read with
cannot be guessed wrong: its headers are the first spelling the mapping accepts for each column (the
national template's Chinese labels, or the department's own export headers), in the mapping's order; the
fields a mapping fills with a constant are not columns. Each column says what it wants three times over —
a notes row under the header, a comment on the header cell and a row of the 填写说明 sheet: required or
not, the form (a date as 2026-03-05, an amount and its unit, an 18-character USCC, text up to N characters)
and the standard's fill-in note. A column with a code list gets a drop-down list fed by a hidden 代码表
sheet, offering the values the column's own transforms accept — the words a department writes (有效, 日常检查,
个人) where the mapping translates them to the national codes.

Everything in the workbook that is not data is something the intake already passes over: the notes row
begins 「填写说明：」, which mappings/defaults.yaml's ``non_data_rows`` rules skip as a note row (the builder
checks this against the rules in use, and refuses to write a notes row they would read as data); the
填写说明 sheet is skipped by its name, the 代码表 sheet by its name and because it is hidden. Text columns
(codes, identifiers, ID numbers) are formatted as text so Excel keeps leading zeros and all 18 digits.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet
from rich.cells import cell_len

from gateway.intake.workbook import DEFAULT_SKIPPED_SHEETS
from gateway.mapping import transforms
from gateway.mapping.engine import UnknownHeaders, plan_by_id
from gateway.mapping.non_data import ROW, load_row_rules, split_non_data
from gateway.mapping.spec import MappingError, MappingSpec, TransformStep, load_mappings
from gateway.mapping.units import declared_unit
from gateway.schema import load_record_types
from gateway.schema.model import FieldSpec, RecordType
from gateway.settings import Settings

NOTES_PREFIX = "填写说明："
NOTES_SHEET = "填写说明"
CODES_SHEET = "代码表"
HEADER_ROW = 1
EXCEL_MAX_ROW = 1_048_576
REQUIREMENT_TEXT = {"Y": "必填", "C": "条件必填", "N": "选填"}
REQUIREMENT_FILL = {"Y": "F8CBAD", "C": "FFE699", "N": "D9D9D9"}
CHECK_FORMS = {
    "uscc": "18 位统一社会信用代码",
    "org_code": "9 位组织机构代码（不含连字符）",
    "regno": "15 位工商注册号",
    "resident_id": "18 位居民身份证号码",
}
DATE_FORM = "日期，如 2026-03-05（也可写 2026/3/5 或 2026年3月5日）"
_SHOWN_CHOICES = 6
_LEADING_REQUIREMENT = re.compile(r"^(必填|选填|非必填)\s*[；;，,。]?\s*")
_SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
_DATE_PATTERN_WORDS = re.compile(r"[，,；;]?\s*YYYY-MM-DD")


class TemplateError(ValueError):
    """No template can be made as asked; the message says why and what to do, in Chinese."""


@dataclass(frozen=True)
class Column:
    """One column of a template, as the department reads it."""

    code: str
    header: str
    field: FieldSpec
    form: str
    choices: tuple[str, ...]
    description: str
    """The standard's fill-in note as far as the notes row needs it (see _description)."""

    @property
    def requirement(self) -> str:
        return REQUIREMENT_TEXT[self.field.requirement]

    @property
    def note(self) -> str:
        return "。".join(part for part in (self.requirement, self.form, self.description) if part)


@dataclass(frozen=True)
class Template:
    """What a template holds: the mapping it is read with, its columns, and the fields filled for it."""

    mapping: MappingSpec
    record_type: RecordType
    columns: tuple[Column, ...]
    constants: tuple[tuple[str, str], ...]
    """(field label, value) of the fields the mapping fills itself: nobody types them."""

    @property
    def headers(self) -> list[str]:
        return [column.header for column in self.columns]

    @property
    def sheet_title(self) -> str:
        title = _SHEET_NAME_FORBIDDEN.sub("", self.record_type.label)[:31] or "数据"
        # A data sheet named like an instructions or code-list sheet would be skipped by the intake.
        return "数据" if re.search(DEFAULT_SKIPPED_SHEETS, title) else title


# ------------------------------------------------------------------------------------ choosing a mapping


def file_mappings(specs: Mapping[str, MappingSpec], record_type: str) -> list[MappingSpec]:
    """The mappings a department's file of ``record_type`` can be read with, the national template first.

    Pulled sources' mappings are not among them: their headers are an API's or a database's names and no
    inbox delivers files to them."""
    found = [spec for spec in specs.values() if spec.record_type == record_type and spec.pull is None]
    return sorted(found, key=lambda spec: (not spec.template, spec.id))


def choose_mapping(
    specs: Mapping[str, MappingSpec], record_type: str, mapping_id: str | None = None
) -> MappingSpec:
    """The mapping asked for, else the national template of the type, else its only file mapping."""
    if mapping_id is not None:
        spec = specs.get(mapping_id)
        if spec is None:
            raise TemplateError(f"未知的映射 {mapping_id}；可用：{'、'.join(sorted(specs))}")
        if spec.record_type != record_type:
            raise TemplateError(f"映射 {mapping_id} 对应的数据类型是 {spec.record_type}，不是 {record_type}")
        if spec.pull is not None:
            raise TemplateError(
                f"映射 {mapping_id} 用于网关主动拉取（{spec.pull['kind']}），"
                "不接收部门报送的文件，无法生成模板"
            )
        return spec
    candidates = file_mappings(specs, record_type)
    if not candidates:
        usable = sorted({spec.record_type for spec in specs.values() if spec.pull is None})
        raise TemplateError(
            f"数据类型 {record_type} 没有用于部门报送文件的映射，无法生成模板；"
            f"可生成模板的类型：{'、'.join(usable)}"
        )
    if candidates[0].template or len(candidates) == 1:
        return candidates[0]
    ids = "、".join(spec.id for spec in candidates)
    raise TemplateError(f"数据类型 {record_type} 有多个部门映射（{ids}），请用 --mapping 指定其中一个")


# ---------------------------------------------------------------------------------------- the columns


def _readable(value: str) -> bool:
    """Whether a code value reads as words (有效, 法人及非法人组织) rather than as a code (1, 01, i)."""
    return any(ord(char) > 0x7F for char in value)


def _run(steps: Sequence[TransformStep], values: list[str]) -> list[str | None]:
    """``values`` through a column's transforms, as the pipeline runs them; None where a step refuses."""
    column: pa.Array = pa.array(values, pa.string())
    for step in steps:
        outcome = transforms.apply(step.name, column, step.params)
        column = outcome.values.cast(pa.string())
        if outcome.invalid is not None:
            column = pc.if_else(pc.fill_null(outcome.invalid, False), pa.scalar(None, pa.string()), column)
    return column.to_pylist()


def choices(field: FieldSpec, steps: Sequence[TransformStep]) -> tuple[str, ...]:
    """The values a department may pick for a column.

    The allowed values are the field's code list (XSD enumeration) or, without one, what the column's strict
    code-list transform produces. Each is offered as the department would write it: itself when it reads as
    words, else a word the mapping translates to it (有效 → 1, 日常检查 → 01). Only values the column's
    transforms really turn into an allowed value are kept, so a drop-down can never offer a refused value."""
    maps = [step.params.get("map") or {} for step in steps if step.name == "codelist"]
    strict = [
        str(target)
        for step in steps
        if step.name == "codelist" and step.params.get("strict", True)
        for target in (step.params.get("map") or {}).values()
    ]
    allowed = tuple(field.enumeration) or tuple(dict.fromkeys(strict))
    if not allowed:
        return ()
    words: list[str] = []
    for value in allowed:
        spelled = value
        if not _readable(value):
            spelled = next(
                (
                    str(key)
                    for table in maps
                    for key, target in table.items()
                    if str(target) == value and _readable(str(key))
                ),
                value,
            )
        words.append(spelled)
    return tuple(
        dict.fromkeys(word for word, out in zip(words, _run(steps, words), strict=True) if out in allowed)
    )


def _form(field: FieldSpec, header: str, picks: tuple[str, ...]) -> str:
    if picks:
        if len(picks) <= _SHOWN_CHOICES:
            return "下拉选择：" + "、".join(picks)
        return f"下拉选择（共 {len(picks)} 项，见下拉列表）"
    if field.base == "date":
        return DATE_FORM
    if field.base == "decimal":
        unit = declared_unit(header) or field.unit
        if unit is None:
            return "数字"
        places = (
            f"，最多 {field.fraction_digits} 位小数" if unit == field.unit and field.fraction_digits else ""
        )
        return f"金额，单位：{unit}{places}"
    if field.check is not None:
        return CHECK_FORMS[field.check]
    if field.max_length is not None and field.min_length == field.max_length:
        return f"{field.max_length} 位"
    if field.max_length is not None:
        return f"文本，不超过 {field.max_length} 字"
    return "文本"


def _description(field: FieldSpec, header: str, picks: tuple[str, ...]) -> str:
    """The standard's note for the notes row, less what the requirement and the form already say; none
    for a drop-down column (the list says it, and a translated list would contradict the note's codes) or
    for an amount the mapping converts (the note speaks of 万元)."""
    converted_unit = field.unit is not None and declared_unit(header) not in (None, field.unit)
    if picks or converted_unit:
        return ""
    note = _LEADING_REQUIREMENT.sub("", field.note.strip())
    if field.base == "date":
        note = _DATE_PATTERN_WORDS.sub("", note)
    return note.strip(" ，,；;。")


def _ordered_codes(spec: MappingSpec, record_type: RecordType) -> list[str]:
    """Field codes in column order: the standard's for a national template, the mapping's own otherwise
    (a department's mapping lists its export's columns as the export has them)."""
    candidates = spec.header_candidates(record_type)
    if spec.template:
        return [code for code in record_type.codes if code in candidates]
    return [code for code in spec.fields if code in candidates]


def describe(spec: MappingSpec, record_types: Mapping[str, RecordType]) -> Template:
    """The template of ``spec``, bound to its own headers by the mapping engine as a filled-in file is."""
    record_type = record_types.get(spec.record_type)
    if record_type is None:
        raise TemplateError(f"映射 {spec.id} 指向未知的数据类型 {spec.record_type}")
    candidates = spec.header_candidates(record_type)
    codes = _ordered_codes(spec, record_type)
    headers = [candidates[code][0] for code in codes]
    try:
        plan = plan_by_id(headers, spec, record_types)
    except (UnknownHeaders, MappingError, ValueError) as exc:
        raise TemplateError(f"映射 {spec.id} 的表头无法生成模板：{exc}") from exc
    if set(plan.columns) != set(codes):
        raise TemplateError(f"映射 {spec.id} 的表头 {headers} 未能一一对应字段 {codes}")
    columns = []
    for code, header in zip(codes, headers, strict=True):
        field = record_type.field(code)
        picks = choices(field, plan.steps.get(code, ()))
        columns.append(
            Column(
                code,
                header,
                field,
                _form(field, header, picks),
                picks,
                _description(field, header, picks),
            )
        )
    constants = tuple(
        (record_type.field(code).label, value)
        for code, value in spec.constants().items()
        if code in record_type.codes
    )
    return Template(spec, record_type, tuple(columns), constants)


# ---------------------------------------------------------------------------------------- the workbook

_THIN = Side(style="thin", color="A6A6A6")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)


def notes_row_is_skipped(template: Template, mappings_dir: Path) -> bool:
    """Whether the intake's non-data rules (mappings_dir/defaults.yaml) skip this template's notes row."""
    cells = [("" if index else NOTES_PREFIX) + column.note for index, column in enumerate(template.columns)]
    batch = pa.RecordBatch.from_pydict(
        {
            **{f"c{i}": pa.array([text], pa.string()) for i, text in enumerate(cells)},
            ROW: pa.array([2], pa.int64()),
        }
    )
    _kept, skipped = split_non_data(batch, load_row_rules(mappings_dir))
    return len(skipped) == 1 and skipped[0].kind == "note"


def _width(text: str) -> float:
    return float(min(max(cell_len(text) + 4, 12), 36))


def _data_sheet(sheet: Worksheet, template: Template, notes_row: bool) -> None:
    first_data_row = HEADER_ROW + (2 if notes_row else 1)
    tallest = 1
    for index, column in enumerate(template.columns, 1):
        letter = get_column_letter(index)
        width = _width(column.header)
        sheet.column_dimensions[letter].width = width
        # Codes, identifiers and ID numbers stay text (leading zeros, all 18 digits); dates show as dates.
        sheet.column_dimensions[letter].number_format = (
            "yyyy-mm-dd"
            if column.field.base == "date"
            else "General"
            if column.field.base == "decimal"
            else "@"
        )
        head = sheet.cell(HEADER_ROW, index, column.header)
        head.font = Font(bold=True, color="C00000" if column.field.requirement == "Y" else "000000")
        head.fill = PatternFill("solid", fgColor=REQUIREMENT_FILL[column.field.requirement])
        head.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        head.border = _BOX
        comment = Comment(f"{column.header}\n{column.note}", "数据交换网关")
        comment.width, comment.height = 320, 160
        head.comment = comment
        if notes_row:
            text = ("" if index > 1 else NOTES_PREFIX) + column.note
            note = sheet.cell(HEADER_ROW + 1, index, text)
            note.font = Font(size=9, italic=True, color="595959")
            note.fill = PatternFill("solid", fgColor="F2F2F2")
            note.alignment = Alignment(vertical="top", wrap_text=True)
            note.border = _BOX
            tallest = max(tallest, math.ceil(cell_len(text) / max(width - 2, 1)))
    if notes_row:
        sheet.row_dimensions[HEADER_ROW + 1].height = 13 * min(tallest, 10) + 6
    sheet.row_dimensions[HEADER_ROW].height = 30
    sheet.freeze_panes = sheet.cell(first_data_row, 1)


def _code_lists(book: Workbook, sheet: Worksheet, template: Template, first_data_row: int) -> None:
    listed = [(index, column) for index, column in enumerate(template.columns, 1) if column.choices]
    if not listed:
        return
    codes = book.create_sheet(CODES_SHEET)
    codes.sheet_state = "hidden"
    for position, (index, column) in enumerate(listed, 1):
        letter = get_column_letter(position)
        codes.cell(1, position, column.header)
        for row, value in enumerate(column.choices, 2):
            codes.cell(row, position, value).number_format = "@"
        shown = "、".join(column.choices)
        validation = DataValidation(
            type="list",
            formula1=f"'{CODES_SHEET}'!${letter}$2:${letter}${len(column.choices) + 1}",
            allow_blank=True,
            showErrorMessage=True,
            errorStyle="stop",
            errorTitle="不在代码表中",
            error=(f"「{column.header}」请从下拉列表中选择：{shown}")[:225],
        )
        target = get_column_letter(index)
        validation.add(f"{target}{first_data_row}:{target}{EXCEL_MAX_ROW}")
        sheet.add_data_validation(validation)


def _instructions(book: Workbook, template: Template, notes_row: bool) -> None:
    sheet = book.create_sheet(NOTES_SHEET)
    spec, rtype = template.mapping, template.record_type
    first_data_row = HEADER_ROW + (2 if notes_row else 1)
    lists = any(column.choices for column in template.columns)
    where = (
        "国家标准模板：放入任一单位的报送目录（inbox）均可识别；报送前可运行 gateway check 文件名 检查。"
        if spec.template
        else f"请放入报送目录 {'、'.join(spec.sources)} 的 inbox；"
        f"报送前可运行 gateway check 文件名 --source {spec.id} 检查。"
    )
    lines = [
        f"《{rtype.label}》填报模板——填写说明",
        f"本模板按映射「{spec.label}」（{spec.id}）生成，工作表「{template.sheet_title}」为填报表。{where}",
        "第 1 行为表头，请勿修改、删除或调换顺序；"
        + (f"第 2 行是以“{NOTES_PREFIX}”开头的说明行，网关识别后跳过，可保留也可删除；" if notes_row else "")
        + f"从第 {first_data_row} 行起每行填写一条记录。",
        "表头底色：红色为必填，黄色为条件必填（条件见说明），灰色为选填。"
        + ("带下拉箭头的列请从列表中选择。" if lists else ""),
        "日期写作 2026-03-05；统一社会信用代码、证件号码等列已设为文本格式，"
        "请勿改为数值，以免丢失前导零或末尾数字。",
        f"本工作表（{NOTES_SHEET}）"
        + (f"和隐藏的“{CODES_SHEET}”工作表（下拉列表的取值）" if lists else "")
        + "不作为数据读取，回执中会注明“未读取”。",
    ]
    if template.constants:
        filled = "；".join(f"{label}＝{value}" for label, value in template.constants)
        lines.append(f"以下字段由网关按映射自动填写，无需在表中填写：{filled}。")
    if rtype.rules:
        lines.append("填写规则：" + "；".join(rule.message for rule in rtype.rules) + "。")
    for row, text in enumerate(lines, 1):
        cell = sheet.cell(row, 1, text)
        cell.font = Font(bold=row == 1, size=13 if row == 1 else 11)
    table_row = len(lines) + 2
    titles = ("列", "表头", "是否必填", "填写格式", "可选值", "对应标准字段", "字段代码", "标准填写说明")
    widths = (6, 30, 10, 34, 30, 30, 22, 60)
    for index, (title, width) in enumerate(zip(titles, widths, strict=True), 1):
        cell = sheet.cell(table_row, index, title)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="D9E1F2")
        cell.border = _BOX
        sheet.column_dimensions[get_column_letter(index)].width = width
    for offset, column in enumerate(template.columns, 1):
        values = (
            get_column_letter(offset),
            column.header,
            column.requirement,
            column.form,
            "、".join(column.choices),
            column.field.label,
            column.code,
            column.field.note,
        )
        for index, value in enumerate(values, 1):
            cell = sheet.cell(table_row + offset, index, value)
            cell.alignment = Alignment(vertical="top", wrap_text=True)
            cell.border = _BOX


def build_workbook(template: Template, *, notes_row: bool = True) -> Workbook:
    """The template as an openpyxl workbook: the data sheet, 填写说明, and the hidden 代码表 when needed."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None  # a new Workbook always has its first sheet
    sheet.title = template.sheet_title
    _data_sheet(sheet, template, notes_row)
    _instructions(book, template, notes_row)
    _code_lists(book, sheet, template, HEADER_ROW + (2 if notes_row else 1))
    book.active = 0
    return book


def write_template(
    settings: Settings,
    record_type: str,
    path: Path,
    *,
    mapping_id: str | None = None,
    notes_row: bool = True,
) -> Template:
    """Write the template of ``record_type`` (read with ``mapping_id``, else the default) to ``path``."""
    record_types = load_record_types(settings.schemas_dir)
    if record_type not in record_types:
        raise TemplateError(f"未知的数据类型 {record_type}；可用：{'、'.join(sorted(record_types))}")
    template = describe(
        choose_mapping(load_mappings(settings.mappings_dir), record_type, mapping_id), record_types
    )
    if notes_row and not notes_row_is_skipped(template, settings.mappings_dir):
        raise TemplateError(
            f"{settings.mappings_dir / 'defaults.yaml'} 的 non_data_rows 规则不会把"
            f"以“{NOTES_PREFIX}”开头的行识别为说明行，带说明行的模板会被当作数据拒收；"
            "请用 --no-notes-row（说明仍在表头批注和“填写说明”工作表中）"
        )
    book = build_workbook(template, notes_row=notes_row)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the target and renamed: an interrupted run never leaves half a workbook under its name.
    handle, scratch = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".xlsx", dir=path.parent)
    os.close(handle)
    try:
        book.save(scratch)
        os.replace(scratch, path)
    except BaseException:
        Path(scratch).unlink(missing_ok=True)
        raise
    return template
