"""How intake reports trouble: a whole file is refused, or single rows are flagged.

The two are kept apart on purpose. A file-level problem (wrong format, undecodable bytes, zip bomb)
means nothing in the file can be trusted, so it raises and the department gets one clear reason. A
row-level problem (too many cells, a formula error in Excel) must not sink the other rows: it is
collected and handed to the validator, which merges it into the per-row receipt.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

ErrorCode = Literal[
    "E_EMPTY",
    "E_NO_HEADER",
    "E_ENCODING",
    "E_FORMAT",
    "E_CORRUPT",
    "E_TOO_LARGE",
    "E_ZIP_BOMB",
    "E_SHEET",
    "E_CHANGED",
    "E_XML_UNSAFE",
    "E_TOO_DEEP",
]


class ReadError(Exception):
    """A file that cannot be read at all; ``message`` is Chinese and goes to the department as is."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(f"[{code}] {message}")
        self.code: ErrorCode = code
        self.message = message

    def __reduce__(self) -> tuple[type[ReadError], tuple[ErrorCode, str]]:
        """Rebuilt from its code and message: a file read in a process of its own (gateway.read_process)
        raises it there and the receipt is written here."""
        return ReadError, (self.code, self.message)


class MalformedRow(NamedTuple):
    """A structural problem of one row, numbered as the department sees it in a spreadsheet.

    Messages never quote cell contents: a cell may hold a personal ID number.
    """

    row: int
    message: str
