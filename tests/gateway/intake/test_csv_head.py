"""Delimiter and header detection."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.intake import ReadError, ReadLimits
from gateway.intake.csv_head import CsvHead, read_csv_head


def head_of(tmp_path: Path, text: str) -> CsvHead:
    path = tmp_path / "h.csv"
    path.write_text(text, encoding="utf-8", newline="")
    return read_csv_head(path, "utf-8", path.name, ReadLimits())


@pytest.mark.parametrize(
    ("text", "delimiter", "headers"),
    [
        ("名称,金额\n", ",", ["名称", "金额"]),
        ("名称\t金额\t备注\n", "\t", ["名称", "金额", "备注"]),
        ("名称;金额\n", ";", ["名称", "金额"]),
        ("名称|金额\n", "|", ["名称", "金额"]),
        ('"名称,全称"\t金额\n', "\t", ["名称,全称", "金额"]),
        ("名称\n", ",", ["名称"]),
        ("名称,,\n", ",", ["名称"]),
        ("\u3000名称\u3000, 金额 \n", ",", ["名称", "金额"]),
    ],
)
def test_delimiter_and_headers(tmp_path: Path, text: str, delimiter: str, headers: list[str]) -> None:
    head = head_of(tmp_path, text)
    assert (head.delimiter, head.headers) == (delimiter, headers)


def test_header_after_blank_lines_and_a_quoted_newline(tmp_path: Path) -> None:
    head = head_of(tmp_path, '\n \n"处罚\n名称",金额,\n甲,1,\n')
    assert head.header_row == 3
    assert head.headers == ["处罚\n名称", "金额"]
    assert head.width == 3


def test_unbalanced_quote_in_header_is_corrupt(tmp_path: Path) -> None:
    with pytest.raises(ReadError) as caught:
        head_of(tmp_path, '"名称' + "x" * 200_000)
    assert caught.value.code == "E_CORRUPT"
