"""`gateway check` for a person at a terminal: one coloured summary line, then the rejected rows as a table.

The JSON receipt is for scripts and the .receipt.txt for the department's archive; someone fixing an export
wants to see at once whether it passes and, if not, which cells to change. So this view leads with the
verdict and the counts, keeps the explanations the receipt gives (file error, sheets, notes) to a line
each, and lists the errors as 行号 / 列 / 原因 — at most ``limit`` of them, then how many more there are and
where to see them all. Every value comes from the file and is shown as plain text (never as rich markup),
with ID-shaped runs masked; rich measures Chinese characters as two columns, so the table stays aligned.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from gateway.ids.resident_id import mask_in_text
from gateway.receipts import STATUS_TEXT, IntakeReceipt

STATUS_STYLE = {
    "accepted": "bold green",
    "partial": "bold yellow",
    "rejected": "bold red",
    "duplicate": "bold blue",
}
STATUS_MARK = {"accepted": "✔", "partial": "▲", "rejected": "✘", "duplicate": "≡"}


def summary_line(receipt: IntakeReceipt) -> Text:
    """「✔ 全部接收  文件.csv：数据行 4，接收 4，拒收 0」, coloured by the verdict."""
    style = STATUS_STYLE.get(receipt.status, "bold")
    line = Text()
    line.append(
        f"{STATUS_MARK.get(receipt.status, '?')} {STATUS_TEXT.get(receipt.status, receipt.status)}", style
    )
    line.append("  ")
    line.append(mask_in_text(receipt.file), "bold")
    line.append(f"：数据行 {receipt.rows}，接收 ")
    line.append(str(receipt.accepted), "green" if receipt.accepted else "")
    line.append("，拒收 ")
    line.append(str(receipt.rejected), "red" if receipt.rejected else "")
    return line


def _details(receipt: IntakeReceipt) -> list[Text]:
    lines: list[Text] = []
    if receipt.record_type_label:
        mapping = receipt.mapping_label or receipt.mapping
        lines.append(
            Text(f"数据类型：{receipt.record_type_label}（映射 {receipt.mapping}：{mapping}）", "dim")
        )
    if receipt.file_error:
        error = receipt.file_error
        lines.append(Text(f"错误：{mask_in_text(error['message'])}（{error['code']}）", "red"))
    for part in receipt.parts:
        status = str(part["status"])
        kind = part.get("record_type_label") or part.get("record_type") or ""
        text = (
            f"工作表「{part['sheet']}」{kind}：{STATUS_TEXT.get(status, status)}，数据行 {part['rows']}，"
            f"接收 {part['accepted']}，拒收 {part['rejected']}"
        )
        error = part.get("file_error")
        if status == "rejected" and isinstance(error, dict):
            text += f"——{mask_in_text(str(error['message']))}（{error['code']}）"
        lines.append(Text(text, STATUS_STYLE.get(status, "").replace("bold ", "")))
    if receipt.queued:
        lines.append(Text(f"其中 {receipt.queued} 行暂未能关联到市场主体，将转人工核对", "yellow"))
    if receipt.skipped:
        lines.append(Text(f"跳过 {receipt.skipped} 行非数据行（示例、填写说明、表尾），不计入数据行", "dim"))
    lines.extend(Text(f"提示：{mask_in_text(warning)}", "dim") for warning in receipt.warnings)
    return lines


def error_table(receipt: IntakeReceipt, limit: int) -> Table:
    """The first ``limit`` errors: sheet (for workbooks), row, column as written in the file, reason."""
    shown = receipt.errors[: max(limit, 0)]
    with_sheet = any(error.get("sheet") for error in shown)
    table = Table(title="拒收的行", title_justify="left", show_lines=False, header_style="bold")
    if with_sheet:
        table.add_column("工作表")
    table.add_column("行号", justify="right", no_wrap=True)
    table.add_column("列")
    table.add_column("原因")
    table.add_column("原值")
    for error in shown:
        reason = Text(mask_in_text(str(error["message"])))
        reason.append(f"（{error['code']}）", "dim")
        cells: list[Text] = [
            Text(str(error["row"])),
            Text(mask_in_text(str(error["field"])), "cyan"),
            reason,
            Text(mask_in_text(str(error.get("value") or ""))),
        ]
        if with_sheet:
            cells.insert(0, Text(str(error.get("sheet") or "")))
        table.add_row(*cells)
    return table


def more_line(receipt: IntakeReceipt, limit: int) -> Text | None:
    """「… 另有 N 条错误未显示」 when the table does not hold them all."""
    total = max(receipt.error_count, len(receipt.errors))
    hidden = total - min(max(limit, 0), len(receipt.errors))
    if hidden <= 0:
        return None
    return Text(
        f"… 另有 {hidden} 条错误未显示（共 {total} 条；"
        "用 --limit 显示更多，--json 或 --receipt 查看完整列表）",
        "yellow",
    )


def render(receipt: IntakeReceipt, console: Console, *, limit: int) -> None:
    console.print(summary_line(receipt))
    for line in _details(receipt):
        console.print(line)
    if receipt.errors and limit > 0:
        console.print(error_table(receipt, limit))
    more = more_line(receipt, limit)
    if more is not None:
        console.print(more)
