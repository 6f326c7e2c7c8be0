"""The receipt a department gets back for every file: what was accepted, and each rejected row with the
field and the reason, in Chinese. JSON for machines; CSV (opens in Excel) and text for people."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

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


@dataclass
class Receipt:
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

    def set_errors(self, errors: Sequence[RowError]) -> None:
        self.error_count = len(errors)
        self.errors = [e.as_dict() for e in errors[:MAX_ERRORS]]

    def fail(self, code: str, message: str) -> None:
        self.status = "rejected"
        self.file_error = {"code": code, "message": message}

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2).encode()

    @classmethod
    def from_json(cls, raw: str | bytes) -> Receipt:
        return cls(**json.loads(raw))

    def to_csv(self) -> bytes:
        """UTF-8 with BOM so Excel shows the Chinese; every cell is neutralised against formula injection."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["行号", "列", "错误代码", "说明", "原值"])
        if self.file_error:
            writer.writerow(["", "", _cell(self.file_error["code"]), _cell(self.file_error["message"]), ""])
        for e in self.errors:
            writer.writerow(
                [
                    e["row"],
                    _cell(str(e["field"])),
                    _cell(str(e["code"])),
                    _cell(str(e["message"])),
                    _cell(str(e.get("value") or "")),
                ]
            )
        return ("\ufeff" + out.getvalue()).encode()

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
        lines.extend(f"提示：{w}" for w in self.warnings)
        if self.errors:
            lines.append("")
            lines.append("错误明细（行号按 Excel 行号计，表头为第 1 行）：")
            for e in self.errors[:200]:
                value = f"，原值：{e['value']}" if e.get("value") else ""
                lines.append(f"  第 {e['row']} 行「{e['field']}」：{e['message']}（{e['code']}{value}）")
            if self.error_count > 200:
                lines.append(f"  …… 共 {self.error_count} 条错误，完整列表见同名 .receipt.csv 文件")
        return "\n".join(lines) + "\n"

    def files(self) -> dict[str, bytes]:
        """Receipt files by suffix, as the drop folder writes them next to the archived file."""
        return {
            ".receipt.json": self.to_json(),
            ".receipt.csv": self.to_csv(),
            ".receipt.txt": self.to_text().encode(),
        }


def _cell(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_LEADS) else value
