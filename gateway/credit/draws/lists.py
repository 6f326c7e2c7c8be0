"""The two lists the draws start from, loaded from the files the departments keep: the inspection items
(抽查事项清单) and the inspectors (执法检查人员名录库), CSV or XLSX with Chinese headers.

A list is replaced as a whole by each load (the file is the list; what is not in it any more is removed),
and the load reports what was added, changed and removed, so whoever loads it sees what the file did. A file
with any bad row loads nothing: every bad row is reported at once, each by file, row, field and reason.
Samples: samples/credit/.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, delete, insert, select

from gateway.credit.draws.tables import draw_inspector, draw_item
from gateway.ids.errors import InvalidIdentifier
from gateway.ids.uscc import validate as validate_uscc
from gateway.settings import Settings
from gateway.store.db import engine_for

MAX_ERRORS = 50
_SPLIT = re.compile(r"[;；,，、\s]+")
YES = {"是", "在岗", "有效", "启用", "1", "true", "yes", "y"}
NO = {"否", "离岗", "无效", "停用", "0", "false", "no", "n"}
KINDS = ("重点", "一般")


class ListError(ValueError):
    """A list file that cannot be loaded; ``problems`` are the lines "file 第 n 行 字段：reason"."""

    def __init__(self, path: Path, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        shown = self.problems[:MAX_ERRORS]
        more = len(self.problems) - len(shown)
        tail = f"\n……另有 {more} 处错误" if more > 0 else ""
        super().__init__(f"{path.name} 未导入，有 {len(self.problems)} 处错误：\n" + "\n".join(shown) + tail)


@dataclass(frozen=True)
class Column:
    key: str
    headers: tuple[str, ...]  # the header as departments write it, first the canonical one
    required: bool = True


ITEM_COLUMNS = (
    Column("code", ("事项编码", "抽查事项编码", "事项代码", "编码")),
    Column("name", ("事项名称", "抽查事项名称", "抽查事项", "名称")),
    Column("kind", ("事项类别", "抽查类别", "类别", "事项类型")),
    Column("department", ("实施部门", "检查部门", "部门", "实施主体")),
    Column("qualifications", ("所需资质", "检查人员资质", "资质要求"), required=False),
)
INSPECTOR_COLUMNS = (
    Column("code", ("人员编码", "执法证号", "执法证件号", "编码")),
    Column("name", ("姓名", "人员姓名")),
    Column("department", ("所属部门", "部门", "执法部门")),
    Column("qualifications", ("执法资质", "资质", "执法领域"), required=False),
    Column("conflicts", ("回避企业", "利害关系企业", "回避对象"), required=False),
    Column("active", ("是否在岗", "状态", "在岗")),
)


@dataclass
class LoadReport:
    kind: str  # items | inspectors
    path: str
    rows: int
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "path": self.path,
            "rows": self.rows,
            "added": self.added,
            "changed": self.changed,
            "removed": self.removed,
        }


# ------------------------------------------------------------------------------------------- reading
def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _csv_rows(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):  # Excel on a Chinese Windows saves CSV as GBK
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any byte string
        raise ListError(path, [f"{path.name}：无法识别文件编码（应为 UTF-8 或 GBK）"])
    return [[_cell(c) for c in row] for row in csv.reader(io.StringIO(text))]


def _xlsx_rows(path: Path) -> list[list[str]]:
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = workbook.worksheets[0]
        return [[_cell(c) for c in row] for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()


def read_rows(path: Path, columns: Sequence[Column]) -> Iterator[tuple[int, dict[str, str], dict[str, str]]]:
    """(row number as the spreadsheet shows it, the known columns, the other columns) per non-empty row."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            rows = _csv_rows(path)
        elif suffix in {".xlsx", ".xlsm"}:
            rows = _xlsx_rows(path)
        else:
            raise ListError(path, [f"{path.name}：只接受 .csv 或 .xlsx 文件"])
    except OSError as exc:
        raise ListError(path, [f"{path.name}：无法读取（{exc.strerror or exc}）"]) from exc
    except ListError:
        raise
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        raise ListError(path, [f"{path.name}：不是可读的 Excel 工作簿（{type(exc).__name__}）"]) from exc
    if not rows:
        raise ListError(path, [f"{path.name}：文件是空的"])
    header = rows[0]
    where: dict[str, int] = {}
    problems = []
    for column in columns:
        found = [i for i, h in enumerate(header) if h in column.headers]
        if found:
            where[column.key] = found[0]
        elif column.required:
            problems.append(f"{path.name} 第 1 行（表头）：缺少列「{column.headers[0]}」")
    if problems:
        raise ListError(path, problems)
    known = set(where.values())
    for n, row in enumerate(rows[1:], 2):
        if not any(row):
            continue
        padded = row + [""] * (len(header) - len(row))
        values = {key: padded[i] for key, i in where.items()}
        extra = {
            header[i]: padded[i] for i in range(len(header)) if i not in known and header[i] and padded[i]
        }
        yield n, values, extra


def _split(value: str) -> list[str]:
    return sorted({part for part in _SPLIT.split(value) if part})


# ------------------------------------------------------------------------------------------- parsing
def _items(path: Path) -> list[dict[str, Any]]:
    rows, problems, seen = [], [], {}
    for n, values, extra in read_rows(path, ITEM_COLUMNS):
        here = f"{path.name} 第 {n} 行"
        for column in ITEM_COLUMNS:
            if column.required and not values.get(column.key):
                problems.append(f"{here} 「{column.headers[0]}」：不能为空")
        if values.get("kind") and values["kind"] not in KINDS:
            problems.append(f"{here} 「事项类别」：应为 重点 或 一般，而不是 {values['kind']!r}")
        code = values.get("code", "")
        if code in seen:
            problems.append(f"{here} 「事项编码」：{code} 与第 {seen[code]} 行重复")
        seen.setdefault(code, n)
        rows.append(
            {
                "code": code,
                "name": values.get("name", ""),
                "kind": values.get("kind", ""),
                "department": values.get("department", ""),
                "qualifications": json.dumps(_split(values.get("qualifications", "")), ensure_ascii=False),
                "detail": json.dumps(extra, ensure_ascii=False, sort_keys=True) if extra else None,
            }
        )
    if problems:
        raise ListError(path, problems)
    return rows


def _active(value: str) -> bool | None:
    low = value.strip().lower()
    return True if low in YES else False if low in NO else None


def _inspectors(path: Path) -> list[dict[str, Any]]:
    rows, problems, seen = [], [], {}
    for n, values, _extra in read_rows(path, INSPECTOR_COLUMNS):
        here = f"{path.name} 第 {n} 行"
        for column in INSPECTOR_COLUMNS:
            if column.required and not values.get(column.key):
                problems.append(f"{here} 「{column.headers[0]}」：不能为空")
        active = _active(values.get("active", ""))
        if values.get("active") and active is None:
            problems.append(f"{here} 「是否在岗」：应为 是 或 否，而不是 {values['active']!r}")
        conflicts = []
        for uscc in _split(values.get("conflicts", "")):
            try:
                conflicts.append(validate_uscc(uscc))
            except InvalidIdentifier as exc:
                problems.append(f"{here} 「回避企业」：{uscc} 不是有效的统一社会信用代码（{exc}）")
        code = values.get("code", "")
        if code in seen:
            problems.append(f"{here} 「人员编码」：{code} 与第 {seen[code]} 行重复")
        seen.setdefault(code, n)
        rows.append(
            {
                "code": code,
                "name": values.get("name", ""),
                "department": values.get("department", ""),
                "qualifications": json.dumps(_split(values.get("qualifications", "")), ensure_ascii=False),
                "conflicts": json.dumps(sorted(set(conflicts))),
                "active": bool(active),
            }
        )
    if problems:
        raise ListError(path, problems)
    return rows


# ------------------------------------------------------------------------------------------- loading
_COMPARED = {
    "items": ("name", "kind", "department", "qualifications", "detail"),
    "inspectors": ("name", "department", "qualifications", "conflicts", "active"),
}


def _replace(
    conn: Connection, table: Table, kind: str, path: Path, parse: Callable[[Path], list[dict[str, Any]]]
) -> LoadReport:
    rows = parse(path)
    fields = _COMPARED[kind]
    before = {
        row.code: tuple(getattr(row, f) for f in fields)
        for row in conn.execute(select(table.c.code, *(table.c[f] for f in fields)))
    }
    after = {row["code"]: tuple(row[f] for f in fields) for row in rows}
    report = LoadReport(
        kind,
        str(path),
        len(rows),
        added=sorted(set(after) - set(before)),
        changed=sorted(c for c in set(after) & set(before) if after[c] != before[c]),
        removed=sorted(set(before) - set(after)),
    )
    now = datetime.now(UTC)
    conn.execute(delete(table))
    if rows:
        conn.execute(insert(table), [{**row, "loaded_from": str(path), "loaded_at": now} for row in rows])
    return report


def load_items(conn: Connection, path: Path) -> LoadReport:
    """Replace the inspection-item list with the file's (in the caller's transaction)."""
    return _replace(conn, draw_item, "items", path, _items)


def load_inspectors(conn: Connection, path: Path) -> LoadReport:
    """Replace the inspector list with the file's (in the caller's transaction)."""
    return _replace(conn, draw_inspector, "inspectors", path, _inspectors)


def load_file(settings: Settings, kind: str, path: Path) -> LoadReport:
    """Load ``items`` or ``inspectors`` from a file into the gateway database, in one transaction."""
    loader = {"items": load_items, "inspectors": load_inspectors}[kind]
    with engine_for(settings.database_url).begin() as conn:
        return loader(conn, path)


__all__ = ["ListError", "LoadReport", "load_file", "load_inspectors", "load_items", "read_rows"]
