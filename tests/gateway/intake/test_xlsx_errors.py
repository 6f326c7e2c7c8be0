"""Finding Excel error cells in the sheet XML, including across read-chunk boundaries."""

from __future__ import annotations

import zipfile
from pathlib import Path

import openpyxl
import pytest

from gateway.intake import xlsx_errors
from gateway.intake.xlsx_errors import column_letters, error_cells

WORKBOOK = (
    b'<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    b'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    b'<sheets><sheet name="\xe6\x95\xb0\xe6\x8d\xae" sheetId="1" r:id="rId7"/></sheets></workbook>'
)
RELS = (
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId7" Type="worksheet" Target="/xl/worksheets/data.xml"/></Relationships>'
)


def write_sheet(path: Path, sheet_xml: bytes) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", RELS)
        archive.writestr("xl/worksheets/data.xml", sheet_xml)
    return path


@pytest.mark.parametrize(("index", "letters"), [(0, "A"), (25, "Z"), (26, "AA"), (701, "ZZ"), (16383, "XFD")])
def test_column_letters(index: int, letters: str) -> None:
    assert column_letters(index) == letters
    assert xlsx_errors._column_index(letters) == index


def test_openpyxl_error_cell_is_found(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    book.active.title = "数据"
    book.active["C5"] = "#DIV/0!"
    book.active["A1"] = 't="e" 只是文字'
    path = tmp_path / "e.xlsx"
    book.save(path)
    assert error_cells(path, "数据") == {5: {2: "#DIV/0!"}}


def test_prefixed_self_closing_and_text_lookalikes(tmp_path: Path) -> None:
    cells = (
        b'<x:c r="B2" t="e"><x:f>VLOOKUP(A2,Sheet2!A:B,2,0)</x:f><x:v>#N/A</x:v></x:c>'
        b'<c r="D2" t="e"/>'
        b'<c r="E2" t="inlineStr"><is><t>t="e"</t></is></c>'
        b'<c t="e" r="F3" s="1"><v>#REF!</v></c>'
    )
    path = write_sheet(tmp_path / "p.xlsx", b"<worksheet><sheetData>" + cells + b"</sheetData></worksheet>")
    assert error_cells(path, "数据") == {2: {1: "#N/A", 3: "#ERROR"}, 3: {5: "#REF!"}}
    assert error_cells(path, "其他") == {}


@pytest.mark.parametrize("chunk", [13, 97, 1000])
def test_cells_cut_by_chunk_boundaries_are_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(xlsx_errors, "CHUNK_BYTES", chunk)
    monkeypatch.setattr(xlsx_errors, "OVERLAP_BYTES", 80)
    monkeypatch.setattr(xlsx_errors, "CONTEXT_BYTES", 40)
    rows = []
    expected: dict[int, dict[int, str]] = {}
    for row in range(1, 400):
        if row % 3 == 0:
            rows.append(f'<row r="{row}"><c r="C{row}" t="e"><v>#N/A</v></c></row>'.encode())
            expected[row] = {2: "#N/A"}
        else:
            rows.append(f'<row r="{row}"><c r="A{row}" t="s"><v>{row}</v></c></row>'.encode())
    path = write_sheet(
        tmp_path / "many.xlsx", b"<worksheet><sheetData>" + b"".join(rows) + b"</sheetData></worksheet>"
    )
    assert error_cells(path, "数据") == expected
