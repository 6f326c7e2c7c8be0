"""Find the text encoding of a department's CSV export.

Chinese departments export in UTF-8 (with or without BOM), GBK from older systems, GB18030 when rare
characters such as 𠀀 or 䶮 appear in names, and UTF-16 from some Excel "Unicode text" saves. The ETL
tools make the operator configure it (docs/architecture.md, "Peers"); guessing wrong silently corrupts every
name, so each candidate
must decode the *whole* file strictly before it is accepted, and anything unclear is refused.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

import charset_normalizer

from gateway.intake.errors import ReadError

CHUNK_BYTES = 1024 * 1024
GUESS_SAMPLE_BYTES = 1024 * 1024
"""charset-normalizer reads whole inputs into memory, so it only sees this much of the file."""

MAX_GUESS_CHAOS = 10.0
"""charset-normalizer's "mess" percentage above which its guess is not trusted."""

_BOMS: tuple[tuple[bytes, str], ...] = (
    # UTF-32 LE starts with the UTF-16 LE BOM, so it must be tested first.
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

_ADVICE = "请用Excel或WPS打开后另存为“CSV UTF-8（逗号分隔）”再提交"


@dataclass(frozen=True)
class _Scan:
    """Outcome of decoding a whole file with one codec."""

    ok: bool
    line: int | None = None
    """Line (1-based, approximate for UTF-16/32) where decoding first failed."""
    has_nul: bool = False


def detect_encoding(path: Path, display: str) -> str:
    """Return the Python codec name that decodes the whole file, or raise E_ENCODING / E_FORMAT."""
    with path.open("rb") as stream:
        head = stream.read(4)
    for bom, codec in _BOMS:
        if head.startswith(bom):
            # NULs are ordinary bytes of UTF-16/32 text; only a UTF-8 file containing one is binary.
            scan = _scan(path, codec, look_for_nul=codec == "utf-8-sig")
            if scan.has_nul:
                raise ReadError("E_FORMAT", f"文件“{display}”含有空字节(NUL)，是二进制文件而不是CSV文本")
            if scan.ok:
                return codec
            raise ReadError(
                "E_ENCODING",
                f"文件“{display}”开头标明为{codec.upper()}编码，但第{scan.line}行附近的内容不符合该编码，"
                f"文件可能已损坏或拼接了不同编码的内容，{_ADVICE}",
            )

    utf8 = _scan(path, "utf-8", look_for_nul=True)
    if utf8.has_nul:
        raise ReadError("E_FORMAT", f"文件“{display}”含有空字节(NUL)，是二进制文件而不是CSV文本")
    if utf8.ok:
        return "utf-8"
    # GBK is a subset of GB18030; naming the narrower codec tells operators which system wrote it. GBK is
    # tried first: a GBK file then costs one full decode instead of two, and a GB18030 one usually fails the
    # GBK scan at its first rare character.
    if _scan(path, "gbk", look_for_nul=False).ok:
        return "gbk"
    gb18030 = _scan(path, "gb18030", look_for_nul=False)
    if gb18030.ok:
        return "gb18030"
    guess = _guess(path)
    if guess is not None and _scan(path, guess, look_for_nul=False).ok:
        return guess
    raise ReadError(
        "E_ENCODING",
        f"无法识别文件“{display}”的编码：按UTF-8读取在第{utf8.line}行附近出错，按GBK/GB18030读取在第"
        f"{gb18030.line}行附近出错。文件可能混用了UTF-8和GBK两种编码（例如把不同来源的文件拼接在一起）、"
        f"上传不完整，或者不是文本文件，{_ADVICE}",
    )


def _scan(path: Path, codec: str, *, look_for_nul: bool) -> _Scan:
    """Decode the file strictly in chunks, so a 200 MB file costs 1 MB of memory.

    With ``look_for_nul`` the scan continues after a decoding error, because a NUL byte anywhere
    means the file is binary, which is the more useful thing to tell the department.
    """
    decoder = codecs.getincrementaldecoder(codec)("strict")
    lines_before = 0
    failed_line: int | None = None
    has_nul = False
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK_BYTES):
            if look_for_nul and b"\x00" in chunk:
                has_nul = True
            if failed_line is not None:
                continue
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                # exc.object is what the decoder saw: bytes carried from the last chunk plus this one,
                # minus a BOM it consumed; map exc.start back into this chunk.
                offset = max(exc.start + len(chunk) - len(exc.object), 0)
                failed_line = lines_before + chunk.count(b"\n", 0, offset) + 1
                if not look_for_nul:
                    break
            lines_before += chunk.count(b"\n")
    if failed_line is None:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            failed_line = lines_before + 1
    return _Scan(ok=failed_line is None, line=failed_line, has_nul=has_nul)


def _guess(path: Path) -> str | None:
    """charset-normalizer's codec for the file's start, when it is confident; verified by the caller."""
    with path.open("rb") as stream:
        sample = stream.read(GUESS_SAMPLE_BYTES)
    best = charset_normalizer.from_bytes(sample).best()
    if best is None or best.percent_chaos > MAX_GUESS_CHAOS:
        return None
    return best.encoding
