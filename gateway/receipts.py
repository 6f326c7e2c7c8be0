"""The receipt a department gets back for every file: what was accepted, and each rejected row with the
field and the reason, in Chinese. JSON for machines; CSV (opens in Excel) and text for people."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, fields

from gateway.row_errors import RowError

MAX_ERRORS = 50_000
STATUS_TEXT = {
    "accepted": "全部接收",
    "partial": "部分接收（有错误行未接收）",
    "rejected": "拒收",
    "duplicate": "重复提交（该文件此前已处理，本次未重复入库）",
}
# Cells starting with these are formulas to a spreadsheet: a rejected value must never run in Excel.
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r", "\n")
# Code points UTF-8 cannot carry: lone surrogates, which a JSON file's "\ud800" escapes or an undecodable file
# name put into Python strings. Each is written as U+FFFD, and the receipt says how many were.
_UNWRITABLE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


@dataclass
class IntakeReceipt:
    department: str
    file: str
    sha256: str
    size: int
    received_at: str
    status: str = "rejected"
    format: str | None = None
    encoding: str | None = None
    mapping: str | None = None
    mapping_label: str | None = None
    record_type: str | None = None
    record_type_label: str | None = None
    rows: int = 0
    accepted: int = 0
    rejected: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    queued: int = 0
    withdrawn: int = 0
    threshold: float | None = None
    file_error: dict[str, str] | None = None
    warnings: list[str] = field(default_factory=list)
    errors: list[dict[str, object]] = field(default_factory=list)
    error_count: int = 0
    first_processed_at: str | None = None
    receipt_version: int = 1
    skipped: int = 0
    """Rows that are not records (the template's example row, notes, signatures, totals): not counted in
    ``rows``, never stored or sent, listed in ``skipped_rows``."""
    skipped_rows: list[dict[str, object]] = field(default_factory=list)
    queued_rows: list[dict[str, object]] = field(default_factory=list)
    """Each row that waits for an entity: row, column, the identifier the registry does not know yet."""
    sheet: str | None = None
    """The worksheet a part's receipt is about (a workbook's file receipt lists them under ``parts``)."""
    header_row: int | None = None
    """Where the header was found (spreadsheet row of its first row) and over how many rows."""
    header_rows: int | None = None
    parts: list[dict[str, object]] = field(default_factory=list)
    """A workbook: one entry per sheet read (sheet, record type, header row, counts, status, file_error)."""
    skipped_sheets: list[dict[str, str]] = field(default_factory=list)
    """A workbook: the sheets not read, each with the reason (instructions, code list, hidden, empty)."""
    replaced_characters: int = 0
    """Characters of the file (or its name) that cannot be written as UTF-8 — lone surrogates — and are shown
    as U+FFFD in every form of this receipt. Counted when the receipt is written, not by the pipeline."""

    def set_errors(self, errors: Sequence[RowError]) -> None:
        self.error_count = len(errors)
        self.errors = [e.as_dict() for e in errors[:MAX_ERRORS]]

    def fresh(self, **changes: object) -> IntakeReceipt:
        """A new receipt for the same file (the same sender, name, bytes and time), nothing counted yet:
        a workbook's part, or the receipt composed from its parts."""
        return IntakeReceipt(
            department=self.department,
            file=self.file,
            sha256=self.sha256,
            size=self.size,
            received_at=self.received_at,
            format=self.format,
            **changes,  # type: ignore[arg-type]
        )

    def fail(self, code: str, message: str) -> None:
        self.status = "rejected"
        self.file_error = {"code": code, "message": message}

    def reject_whole(self) -> None:
        """The file (or part) is rejected whole and stored nothing: every row it read counts as rejected,
        none as accepted, new, updated, unchanged, queued or withdrawn."""
        self.status = "rejected"
        self.accepted = self.new = self.updated = self.unchanged = self.queued = self.withdrawn = 0
        self.rejected = self.rows

    def to_json(self) -> bytes:
        # A shallow dict, not dataclasses.asdict: that deep-copies up to 50,000 error entries for nothing.
        data = {spec.name: getattr(self, spec.name) for spec in fields(self)}
        found = _count_unwritable(data)
        if found:
            data = {key: _scrub(value) for key, value in data.items()}
            data["replaced_characters"] = self.replaced_characters + found
        return json.dumps(data, ensure_ascii=False, indent=2).encode()

    @classmethod
    def from_json(cls, raw: str | bytes) -> IntakeReceipt:
        return cls(**json.loads(raw))

    def to_csv(self) -> bytes:
        """UTF-8 with BOM so Excel shows the Chinese; every cell is neutralised against formula injection."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["工作表", "行号", "列", "错误代码", "说明", "原值"])
        if self.file_error:
            writer.writerow(
                ["", "", "", _cell(self.file_error["code"]), _cell(self.file_error["message"]), ""]
            )
        for part in self.parts:
            error = part.get("file_error")
            if error and part.get("status") == "rejected":
                writer.writerow(["", "", "", _cell(str(error["code"])), _cell(str(error["message"])), ""])  # type: ignore[index]
        for e in self.errors:
            writer.writerow(
                [
                    _cell(str(e.get("sheet") or self.sheet or "")),
                    e["row"],
                    _cell(str(e["field"])),
                    _cell(str(e["code"])),
                    _cell(str(e["message"])),
                    _cell(str(e.get("value") or "")),
                ]
            )
        for q in self.queued_rows:
            writer.writerow(
                [
                    _cell(str(q.get("sheet") or self.sheet or "")),
                    q["row"],
                    _cell(str(q["field"])),
                    "W_WAITING_ENTITY",
                    _cell(str(q["message"]) + "，已转人工核对，核对后自动上报"),
                    _cell(str(q.get("value") or "")),
                ]
            )
        for r in self.skipped_rows:
            writer.writerow(
                [
                    _cell(str(r.get("sheet") or self.sheet or "")),
                    r["row"],
                    "（整行）",
                    "W_NOT_DATA",
                    _cell(f"{r['label']}，已跳过，未入库"),
                    _cell(str(r.get("text") or "")),
                ]
            )
        replaced = self._replaced_characters()
        if replaced:
            writer.writerow(["", "", "", "W_CHARS_REPLACED", _replacement_note(replaced), ""])
        return ("\ufeff" + _UNWRITABLE.sub(REPLACEMENT, out.getvalue())).encode()

    def to_text(self) -> str:
        lines = [
            f"文件：{self.file}",
            f"报送单位目录：{self.department}",
            f"接收时间：{self.received_at}",
            f"SHA-256：{self.sha256}",
            f"处理结果：{STATUS_TEXT.get(self.status, self.status)}",
        ]
        if self.record_type_label:
            lines.append(f"数据类型：{self.record_type_label}（映射：{self.mapping_label or self.mapping}）")
        if self.encoding:
            lines.append(f"文件编码：{self.encoding}")
        if self.first_processed_at:
            lines.append(f"首次处理时间：{self.first_processed_at}")
        if self.file_error:
            lines.append(f"错误：{self.file_error['message']}（{self.file_error['code']}）")
        lines.append(
            f"数据行：{self.rows}；接收 {self.accepted} 行（新增 {self.new}，更新 {self.updated}，"
            f"未变化 {self.unchanged}）；拒收 {self.rejected} 行"
        )
        if self.withdrawn:
            lines.append(f"其中 {self.withdrawn} 行为撤销/移出，相应记录将从省级平台撤回。")
        if self.queued:
            lines.append(f"其中 {self.queued} 行暂未能关联到市场主体，已转人工核对，核对后自动上报。")
        if self.skipped:
            lines.append(
                f"另有 {self.skipped} 行不是数据（示例行、填写说明、表尾签名或合计），已跳过，未入库。"
            )
        if self.header_row and not self.parts and self.header_row > 1:
            lines.append(f"表头位于第 {self.header_row} 行。")
        for part in self.parts:
            lines.append(_part_line(part))
        for entry in self.skipped_sheets:
            lines.append(f"工作表「{entry['sheet']}」未读取：{entry['reason']}")
        lines.extend(f"提示：{w}" for w in self.warnings)
        if self.errors:
            lines.append("")
            lines.append("错误明细（行号按 Excel 行号计）：")
            for e in self.errors[:200]:
                value = f"，原值：{e['value']}" if e.get("value") else ""
                cell = f"{_where(e, self.sheet)}第 {e['row']} 行「{e['field']}」"
                lines.append(f"  {cell}：{e['message']}（{e['code']}{value}）")
            if self.error_count > 200:
                lines.append(f"  …… 共 {self.error_count} 条错误，完整列表见同名 .receipt.csv 文件")
        if self.queued_rows:
            lines.append("")
            lines.append("暂未关联到市场主体的行（已转人工核对，核对后自动上报）：")
            for q in self.queued_rows[:200]:
                lines.append(
                    f"  {_where(q, self.sheet)}第 {q['row']} 行「{q['field']}」{q['value']}：{q['message']}"
                )
        if self.skipped_rows:
            lines.append("")
            lines.append("已跳过的非数据行：")
            for r in self.skipped_rows[:200]:
                lines.append(f"  {_where(r, self.sheet)}第 {r['row']} 行：{r['label']}（「{r['text']}」）")
            if self.skipped > 200:
                lines.append(f"  …… 共 {self.skipped} 行，完整列表见同名 .receipt.csv 文件")
        replaced = self._replaced_characters()
        if replaced:
            lines.append(f"提示：{_replacement_note(replaced)}")
        return _UNWRITABLE.sub(REPLACEMENT, "\n".join(lines) + "\n")

    def _replaced_characters(self) -> int:
        """How many characters every form of this receipt shows as U+FFFD (see ``replaced_characters``)."""
        return self.replaced_characters + sum(_count_unwritable(getattr(self, f.name)) for f in fields(self))

    def files(self) -> dict[str, bytes]:
        """IntakeReceipt files by suffix, as the drop folder writes them next to the archived file."""
        return {
            ".receipt.json": self.to_json(),
            ".receipt.csv": self.to_csv(),
            ".receipt.txt": self.to_text().encode(),
        }


def _count_unwritable(value: object) -> int:
    """Lone surrogates anywhere in a receipt's values (strings, lists, dicts and their keys)."""
    if isinstance(value, str):
        return len(_UNWRITABLE.findall(value))
    if isinstance(value, dict):
        return sum(_count_unwritable(k) + _count_unwritable(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return sum(_count_unwritable(item) for item in value)
    return 0


def _scrub(value: object) -> object:
    """``value`` with every lone surrogate replaced by U+FFFD, so that it can be written as UTF-8."""
    if isinstance(value, str):
        return _UNWRITABLE.sub(REPLACEMENT, value)
    if isinstance(value, dict):
        return {_scrub(k): _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(item) for item in value]
    return value


def _replacement_note(count: int) -> str:
    return (
        f"文件内容或文件名中有 {count} 个字符编码有误（孤立的代理码位），无法显示，"
        f"本回执中以“{REPLACEMENT}”代替；请检查导出文件的编码"
    )


def _where(entry: dict[str, object], sheet: str | None) -> str:
    named = entry.get("sheet") or sheet
    return f"工作表「{named}」" if named else ""


def _part_line(part: dict[str, object]) -> str:
    head = f"工作表「{part['sheet']}」：{STATUS_TEXT.get(str(part['status']), str(part['status']))}"
    error = part.get("file_error")
    if part["status"] == "rejected" and isinstance(error, dict):
        return f"{head}——{error['message']}（{error['code']}）"
    where = f"，表头在第 {part['header_row']} 行" if part.get("header_row") else ""
    kind = part.get("record_type_label") or part.get("record_type")
    return f"{head}（{kind}{where}）：数据行 {part['rows']}，接收 {part['accepted']}，拒收 {part['rejected']}"


def _cell(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_LEADS) else value
