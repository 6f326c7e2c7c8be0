"""Refuse hostile or broken ZIP containers before calamine opens them.

An XLSX is a ZIP archive, and calamine inflates a whole sheet into memory. A few kilobytes of
deflated zeros declare gigabytes, so every part's declared size, the total, the ratio and the number
of parts are checked from the central directory first, which costs no decompression. Declared sizes
can lie, so each part is then inflated once, in bounded chunks, with zipfile, which stops at the
declared size and fails the CRC when more (or other) data follows; that pass also catches truncated
and corrupt files with a clear message instead of an error deep inside the Rust reader.

The same pass refuses any XML part with a DOCTYPE. OOXML forbids DTDs in a package (ECMA-376 Part 2,
M1.17), so only a crafted file has one, and what it does is not harmless: calamine silently reads a
cell holding an entity reference as empty, and the error-cell scan's parser (defusedxml) raises on the
declaration. Text inside a part is escaped (&lt;), so the bytes "<!DOCTYPE" can only be markup.

Last, each sheet's expanded size is measured before calamine may load it (gateway/intake/xlsx_budget.py):
a small archive within every limit above can still name one long shared string from every cell, or span a
used range of billions of cells.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from gateway.intake.errors import ReadError
from gateway.intake.limits import ReadLimits
from gateway.intake.xlsx_budget import check_sheets

CHUNK_BYTES = 1024 * 1024

_DRIVE = re.compile(r"^[A-Za-z]:")
_XML_PARTS = (".xml", ".rels", ".vml")
# "<!DOCTYPE" in any letter case, as UTF-8 and as UTF-16 in either byte order (parts may be either).
_DOCTYPE = re.compile(
    b"|".join(re.escape("<!DOCTYPE".encode(codec)) for codec in ("utf-8", "utf-16-le", "utf-16-be")),
    re.IGNORECASE,
)
_DOCTYPE_OVERLAP = len("<!DOCTYPE".encode("utf-16-le")) - 1
_DOCTYPE_START = (b"<!", b"<\x00!")
""""<!" as UTF-8 and in UTF-16 of either byte order: a chunk without one cannot hold a DOCTYPE. The regex
above, case-insensitive over three encodings, took most of the time of inflating a large sheet; this plain
byte search skips it for nearly every chunk."""


def check_archive(path: Path, limits: ReadLimits, display: str) -> frozenset[str]:
    """Validate the archive at ``path`` and return the names of its parts."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            _check_directory(infos, limits, display)
            for info in infos:
                _inflate(archive, info, display)
            check_sheets(archive, limits, display)
    except zipfile.BadZipFile as exc:
        raise ReadError(
            "E_CORRUPT", f"文件“{display}”已损坏或不完整（{exc}），可能上传时被截断，请重新导出后提交"
        ) from exc
    return frozenset(info.filename for info in infos)


def _check_directory(infos: list[zipfile.ZipInfo], limits: ReadLimits, display: str) -> None:
    if len(infos) > limits.max_zip_entries:
        raise _bomb(display, f"包含{len(infos)}个部件，超过上限{limits.max_zip_entries}")
    total = 0
    for info in infos:
        if _unsafe_name(info.filename):
            raise _bomb(display, "包含指向上级目录或绝对路径的部件名")
        if info.flag_bits & 0x1:
            raise ReadError("E_FORMAT", f"文件“{display}”的内容已加密，请取消密码后重新导出")
        declared = info.file_size
        total += declared
        if declared > limits.max_zip_uncompressed_bytes or total > limits.max_zip_uncompressed_bytes:
            raise _bomb(display, f"解压后超过{limits.max_zip_uncompressed_bytes}字节")
        if declared >= limits.zip_ratio_floor_bytes and declared > limits.max_zip_ratio * max(
            info.compress_size, 1
        ):
            raise _bomb(display, f"部件压缩比超过{limits.max_zip_ratio:g}倍")


def _inflate(archive: zipfile.ZipFile, info: zipfile.ZipInfo, display: str) -> None:
    is_xml = info.filename.lower().endswith(_XML_PARTS)
    try:
        with archive.open(info) as part:
            carried = b""
            while chunk := part.read(CHUNK_BYTES):
                window = carried + chunk
                if is_xml and any(start in window for start in _DOCTYPE_START) and _DOCTYPE.search(window):
                    raise ReadError(
                        "E_XML_UNSAFE",
                        f"文件“{display}”的部件{info.filename}含有DTD声明（可用于实体展开炸弹或读取服务器文件），"
                        "正常的XLSX工作簿不会包含，出于安全考虑不予处理",
                    )
                carried = chunk[-_DOCTYPE_OVERLAP:]
    except (zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
        raise ReadError(
            "E_CORRUPT", f"文件“{display}”中的部件{info.filename}无法解压（{exc}），文件已损坏"
        ) from exc


def _unsafe_name(name: str) -> bool:
    normalised = name.replace("\\", "/")
    return (
        normalised.startswith("/")
        or bool(_DRIVE.match(normalised))
        or ".." in PurePosixPath(normalised).parts
    )


def _bomb(display: str, reason: str) -> ReadError:
    return ReadError("E_ZIP_BOMB", f"文件“{display}”被拒绝：{reason}，疑似压缩炸弹或恶意构造的文件")
