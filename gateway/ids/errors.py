"""Why an identifier was refused, as a small closed set of reasons with Chinese messages.

The reasons are a closed enum rather than free text because they travel: the column checks return the
enum *value* per row, receipts to departments group rejected rows by it, and the message is rendered
only at the edge, in Chinese, for people. Keeping "illegal letter" apart from "check digit" matters in
practice: I/O/S/V/Z in a USCC is almost always a transcription mix-up (O for 0, S for 5, Z for 2),
which the sender can fix without asking the registry, whereas a check-digit error needs the original.

Messages never repeat the identifier itself or the expected check character: the first would leak
personal ID numbers into receipts and logs, the second would invite "fixing" a mistyped code by
recomputing its check character instead of finding the real code.

>>> Reason.CHECK_DIGIT.value
'check_digit'
>>> message(Reason.LENGTH, expected=18, actual=17)
'长度不对：应为 18 位，实际为 17 位'
>>> message(Reason.ILLEGAL_LETTER, position=14, char='O')
'含有不允许的字母 I、O、S、V、Z：第 14 位是「O」'
>>> message('bad_character', position=3, char='\\u200b')
'含有非法字符：第 3 位是「U+200B」'
>>> str(InvalidIdentifier(Reason.EMPTY))
'为空'
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from enum import StrEnum


class Reason(StrEnum):
    """One reason an identifier is invalid; the value is the stable machine code stored per row."""

    EMPTY = "empty"
    LENGTH = "length"
    ILLEGAL_LETTER = "illegal_letter"
    BAD_CHARACTER = "bad_character"
    CHECK_DIGIT = "check_digit"
    BIRTH_DATE = "birth_date"

    @property
    def label(self) -> str:
        """The Chinese message without details, as shown when no details are known (column checks)."""
        return _LABELS[self]


_LABELS: dict[Reason, str] = {
    Reason.EMPTY: "为空",
    Reason.LENGTH: "长度不对",
    Reason.ILLEGAL_LETTER: "含有不允许的字母 I、O、S、V、Z",
    Reason.BAD_CHARACTER: "含有非法字符",
    Reason.CHECK_DIGIT: "校验位错误",
    Reason.BIRTH_DATE: "出生日期无效",
}


def _show_char(char: str) -> str:
    """Render a character so that invisible or control characters are still visible in a receipt."""
    if char.isprintable() and not char.isspace() and unicodedata.category(char) != "Cf":
        return char
    return f"U+{ord(char):04X}"


def message(reason: Reason | str, **details: object) -> str:
    """The Chinese message for ``reason``, with the details that help the sender find the mistake.

    Known details: ``expected`` and ``actual`` (lengths) for LENGTH; ``position`` (1-based) and
    ``char`` for ILLEGAL_LETTER and BAD_CHARACTER. Missing details just shorten the message, so the
    same function serves scalar checks (which know the position) and column checks (which do not).
    """
    reason = Reason(reason)
    text = reason.label
    if reason is Reason.LENGTH and "expected" in details and "actual" in details:
        return f"{text}：应为 {details['expected']} 位，实际为 {details['actual']} 位"
    if reason in (Reason.ILLEGAL_LETTER, Reason.BAD_CHARACTER) and "position" in details:
        where = f"第 {details['position']} 位"
        if "char" in details:
            return f"{text}：{where}是「{_show_char(str(details['char']))}」"
        return f"{text}：{where}"
    return text


class InvalidIdentifier(ValueError):
    """Raised by every ``validate``; carries the reason so callers can branch without parsing text."""

    def __init__(self, reason: Reason, details: Mapping[str, object] | None = None) -> None:
        self.reason = Reason(reason)
        self.details: dict[str, object] = dict(details or {})
        super().__init__(message(self.reason, **self.details))
