"""Match a file's header row to the fields of a record type.

Departments fill in the national templates by hand, so one header arrives as "行政相对人代码_1（统一社会
信用代码）", "行政相对人代码_1 (统一社会信用代码)" or "* 行政相对人代码_1(统一社会信用代码)". Headers are
compared after a normalisation that erases exactly those differences and nothing more: no fuzzy
matching, because a wrong guess would put data in the wrong field without anyone noticing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# Full-width ASCII (U+FF01-FF5E) and U+3000 → ASCII; 【】 → [] because templates use both for the same
# bracketed note. str.translate rather than NFKC, which would also fold ① and ㎡ in a header.
_HALFWIDTH = str.maketrans(
    {**{chr(cp): chr(cp - 0xFEE0) for cp in range(0xFF01, 0xFF5F)}, "\u3000": " ", "【": "[", "】": "]"}
)
_ASCII_LOWER = str.maketrans({chr(cp): chr(cp + 32) for cp in range(ord("A"), ord("Z") + 1)})
# Python's \s misses the zero-width characters that come with headers copied from web pages.
_INVISIBLE = re.compile(r"[\s\u200b\u200c\u200d\u2060\ufeff]+")
# Markers templates put before or after a header to say whether the column must be filled.
_MARKERS = re.compile(r"^(?:\*|\((?:必填|选填|非必填)\))+|(?:\*|\((?:必填|选填|非必填)\))+$")


def normalize_header(header: str) -> str:
    """The form headers are compared in: half-width, no whitespace, no 必填 markers, ASCII lower-case."""
    text = _INVISIBLE.sub("", header.translate(_HALFWIDTH))
    return _MARKERS.sub("", text).translate(_ASCII_LOWER)


@dataclass(frozen=True)
class HeaderMatch:
    """Which file column fills which field, and what could not be placed.

    A field claimed by two or more file columns is in ``conflicts``, not in ``matched``: choosing one
    would be a guess, so the caller must report it.
    """

    matched: Mapping[str, int]  # field code → index of the file column
    unmatched: tuple[int, ...]  # indices of file columns no field accepts (incl. blank headers)
    conflicts: Mapping[str, tuple[int, ...]]  # field code → indices of the columns that all claim it
    duplicates: tuple[str, ...]  # the headers of those columns, as written, in file order
    missing: tuple[str, ...]  # field codes no column fills, in the order of ``candidates``


def _spelling_index(candidates: Mapping[str, Sequence[str]]) -> dict[str, str]:
    index: dict[str, str] = {}
    for code, spellings in candidates.items():
        for spelling in spellings:
            key = normalize_header(spelling)
            if not key:
                continue
            owner = index.setdefault(key, code)
            if owner != code:
                raise ValueError(f"表头「{spelling}」同时对应字段 {owner} 和 {code}，映射有歧义")
    return index


def match_headers(headers: list[str], candidates: Mapping[str, Sequence[str]]) -> HeaderMatch:
    """Match ``headers`` (a file's header row) against ``candidates`` (field code → accepted spellings).

    Raises ValueError when the candidates themselves are ambiguous (one spelling, two fields): that is
    a mistake in the mapping, not in the file.
    """
    index = _spelling_index(candidates)
    claims: dict[str, list[int]] = {}
    unmatched: list[int] = []
    for position, header in enumerate(headers):
        code = index.get(normalize_header(header or ""))
        if code is None:
            unmatched.append(position)
        else:
            claims.setdefault(code, []).append(position)
    matched = {code: cols[0] for code, cols in claims.items() if len(cols) == 1}
    conflicts = {code: tuple(cols) for code, cols in claims.items() if len(cols) > 1}
    in_conflict = sorted(col for cols in conflicts.values() for col in cols)
    return HeaderMatch(
        matched=matched,
        unmatched=tuple(unmatched),
        conflicts=conflicts,
        duplicates=tuple(headers[col] for col in in_conflict),
        missing=tuple(code for code in candidates if code not in claims),
    )
