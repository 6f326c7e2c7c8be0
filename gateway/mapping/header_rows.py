"""Where a sheet's header is: not always row 1, not always one row.

Exports carry a title above the header (「忻州市××局2026年11月行政处罚信息公示表」, often a merged cell),
blank rows, and headers over two rows: a group cell (「行政相对人代码」, merged across its columns) over
sub-columns (「统一社会信用代码」「组织机构代码」…), beside cells merged down both rows. Rather than guess
by position, every row of the sheet's first rows — and every pair of consecutive rows, combined into one
header — is bound to the mappings the file could use, and the candidate that fills the record type best
wins (the same score that picks a mapping for a header row: gateway.mapping.engine.best_candidate). Ties go
to the single row, then the earlier one. When no candidate fills the record type, the error names the row
that came closest and the template it came closest to.

A two-row header is read column by column: the lower cell's text where there is one (the sub-column), else
the upper cell's (a cell merged down both rows). A second reading joins a group to its sub-column
(「行政相对人」+「名称」→「行政相对人名称」), for headers whose sub-columns are not names of their own.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from gateway.mapping.engine import Candidate, Plan, UnknownHeaders, best_candidate, usable
from gateway.mapping.spec import MappingSpec
from gateway.schema.model import RecordType

Rows = Sequence[tuple[int, list[str]]]
Spans = Mapping[int, Sequence[tuple[int, int]]]  # spreadsheet row → merged column ranges starting on it


@dataclass(frozen=True)
class HeaderChoice:
    row: int  # spreadsheet row number of the header's (first) row
    depth: int  # 1 or 2 rows
    headers: list[str]
    plan: Plan


def _filled(upper: list[str], spans: Sequence[tuple[int, int]], width: int) -> list[str]:
    """The upper row with each merged group's text carried across the columns it spans; without merge
    information (CSV), a blank upper cell above a filled lower one continues the group to its left."""
    cells = upper + [""] * (width - len(upper))
    for first, last in spans:
        if first < width and cells[first]:
            for column in range(first + 1, min(last, width - 1) + 1):
                cells[column] = cells[column] or cells[first]
    return cells


def combined(upper: list[str], lower: list[str], spans: Sequence[tuple[int, int]] = ()) -> list[list[str]]:
    """The two readings of a two-row header.

    >>> combined(["名称", "行政相对人代码", ""], ["", "统一社会信用代码", "组织机构代码"])[0]
    ['名称', '统一社会信用代码', '组织机构代码']
    >>> combined(["行政相对人", "", "处罚机关"], ["名称", "类别", ""], [(0, 1)])[1]
    ['行政相对人名称', '行政相对人类别', '处罚机关']
    """
    width = max(len(upper), len(lower))
    lower = lower + [""] * (width - len(lower))
    groups = _filled(upper, spans, width)
    if not spans:
        carried = ""
        for column in range(width):
            if groups[column]:
                carried = groups[column]
            elif lower[column]:
                groups[column] = carried
    plain = [lower[c] or groups[c] for c in range(width)]
    joined = [
        (groups[c] + lower[c] if groups[c] and lower[c] and groups[c] != lower[c] else lower[c] or groups[c])
        for c in range(width)
    ]
    return [plain] if joined == plain else [plain, joined]


def _candidates(rows: Rows, spans: Spans) -> Iterator[tuple[int, int, list[str]]]:
    for index, (number, cells) in enumerate(rows):
        yield number, 1, cells
        if index + 1 < len(rows) and rows[index + 1][0] == number + 1:
            for headers in combined(cells, rows[index + 1][1], spans.get(number, ())):
                yield number, 2, headers


def locate_header(
    rows: Rows,
    specs: Mapping[str, MappingSpec],
    record_types: Mapping[str, RecordType],
    source: str | None = None,
    spans: Spans | None = None,
) -> HeaderChoice:
    """The header among ``rows`` (a sheet's first non-blank rows, with their row numbers); raises
    UnknownHeaders naming the closest row and template when none fills a record type."""
    best: tuple[tuple[bool, int, int, int], Candidate, int, int, list[str]] | None = None
    for number, depth, headers in _candidates(rows, spans or {}):
        candidate = best_candidate(headers, specs, record_types, source)
        if candidate is None:
            continue
        key = (candidate.complete, candidate.score, -depth, -number)
        if best is None or key > best[0]:
            best = (key, candidate, number, depth, headers)
    if best is None:
        raise UnknownHeaders("没有表头行，也没有可用的映射")
    _key, candidate, number, depth, headers = best
    where = f"第 {number} 行" + (f"至第 {number + 1} 行" if depth == 2 else "")
    plan = usable(candidate, where=f"取{where}作为表头，但")
    return HeaderChoice(number, depth, headers, plan)


def header_note(choice: HeaderChoice) -> str | None:
    """What the receipt says about where the header was, when it was not simply row 1."""
    if choice.row == 1 and choice.depth == 1:
        return None
    rows = f"第 {choice.row} 行" + (f"至第 {choice.row + 1} 行" if choice.depth > 1 else "")
    above = "，其上方的标题等内容未作为数据" if choice.row > 1 else ""
    return f"表头位于{rows}{above}"
