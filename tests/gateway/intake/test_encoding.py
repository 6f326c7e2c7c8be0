"""Encoding detection over whole files."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from gateway.intake import ReadError, encoding
from gateway.intake.encoding import detect_encoding

TEXT = "名称,负责人\n忻州市甲商贸有限公司,张三\n"


def detect(tmp_path: Path, data: bytes) -> str:
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    return detect_encoding(path, path.name)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"plain,ascii\n1,2\n", "utf-8"),
        (TEXT.encode(), "utf-8"),
        (codecs.BOM_UTF8 + TEXT.encode(), "utf-8-sig"),
        (TEXT.encode("gbk"), "gbk"),
        ((TEXT + "𠀀,䶮\n").encode("gb18030"), "gb18030"),
        (TEXT.encode("utf-16"), "utf-16"),
        (codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"), "utf-16"),
        (TEXT.encode("utf-32"), "utf-32"),
    ],
)
def test_detected(tmp_path: Path, data: bytes, expected: str) -> None:
    assert detect(tmp_path, data) == expected


def test_decision_covers_the_whole_file_not_a_sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A GBK character deep in an otherwise UTF-8-compatible file must not be read as UTF-8."""
    monkeypatch.setattr(encoding, "CHUNK_BYTES", 64)
    data = b"a,b\n" + b"1,2\n" * 10_000 + "甲,乙\n".encode("gbk")
    assert detect(tmp_path, data) == "gbk"


def test_multibyte_character_split_by_a_chunk_boundary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(encoding, "CHUNK_BYTES", 7)
    assert detect(tmp_path, (TEXT * 20).encode()) == "utf-8"


def test_truncated_utf8_at_end_is_refused(tmp_path: Path) -> None:
    """An upload cut inside a character neither is UTF-8 nor decodes as GB18030."""
    with pytest.raises(ReadError) as caught:
        detect(tmp_path, TEXT.encode() + "甲".encode()[:2])
    assert caught.value.code == "E_ENCODING"
    assert "第3行" in caught.value.message


def test_confident_guess_is_used_after_gb18030_fails(tmp_path: Path) -> None:
    data = "name,city\nJosé,Zürich\nFrançois,Besançon\n".encode("latin-1")
    guessed = detect(tmp_path, data)
    assert data.decode(guessed) == "name,city\nJosé,Zürich\nFrançois,Besançon\n"


def test_bom_that_lies_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ReadError) as caught:
        detect(tmp_path, codecs.BOM_UTF8 + TEXT.encode() + "乙".encode("gbk") + b"\xff\n")
    assert caught.value.code == "E_ENCODING"
    assert "第3行" in caught.value.message


def test_nul_bytes_mean_binary(tmp_path: Path) -> None:
    with pytest.raises(ReadError) as caught:
        detect(tmp_path, TEXT.encode() + b"\x00\x00")
    assert caught.value.code == "E_FORMAT"
