"""Resident identity card number, 居民身份证号码 (GB 11643-1999): the key of a natural person.

18 characters: address code (6), birth date YYYYMMDD (8), sequence (3, odd for men) and an
ISO 7064 MOD 11-2 check character (digit or X). Legacy 15-digit numbers (birth date YYMMDD in the
1900s, no check digit) still occur in old records and are accepted; :func:`to_18` upgrades them.
The birth date must be a real calendar date and not in the future. The address code is not looked
up, for the same reason as the USCC's division code: old numbers carry abolished codes.

These numbers are personal data: never log or print them whole; use :func:`mask`.

>>> validate('11010519491231002X')
'11010519491231002X'
>>> calc_check('11010519491231002')
'X'
>>> mask('11010519491231002X')
'110105********002X'
>>> reason('110105194912310021')
<Reason.CHECK_DIGIT: 'check_digit'>
>>> reason('110105194902310026')
<Reason.BIRTH_DATE: 'birth_date'>
>>> birth_date('11010519491231002x')
datetime.date(1949, 12, 31)
>>> to_18('110105491231002')
'11010519491231002X'
>>> mask('110105491231002')
'110105******002'
>>> validate('11010519491231002')
Traceback (most recent call last):
    ...
gateway.ids.errors.InvalidIdentifier: 长度不对：应为 15 或 18 位，实际为 17 位
>>> reason('110105209912310029', today=datetime.date(2025, 1, 1))
<Reason.BIRTH_DATE: 'birth_date'>
>>> mask_in_text('张三_110105194912310021_处罚.csv')
'张三_110105********0021_处罚.csv'
"""

from __future__ import annotations

import datetime
import re

from gateway.ids.errors import InvalidIdentifier, Reason
from gateway.ids.normalize import compact

LABEL = "居民身份证号码"
LENGTH = 18
LEGACY_LENGTH = 15
LENGTHS = (LEGACY_LENGTH, LENGTH)
# ISO 7064 MOD 11-2: W_i = 2^(18-i) mod 11, i = 1..17; check = CHECK_CHARS[sum mod 11].
WEIGHTS: tuple[int, ...] = tuple(pow(2, LENGTH - 1 - i, 11) for i in range(LENGTH - 1))
CHECK_CHARS = "10X98765432"
LEGACY_CENTURY = 1900

_DIGITS = frozenset("0123456789")
# Anything shaped like an ID number, valid or mistyped: 15 to 18 characters, digits (full-width too: \d is
# Unicode) but for a last X or other letter (14090219850312123Y), not inside a longer number. A letter before
# it does not hide it: file names glue numbers to words ("sfz140902198503121234.csv"). Masking a registration
# number or an all-digit USCC that happens to share the shape costs a receipt reader little; letting a
# citizen's number out costs far more.
_ID_LIKE = re.compile(r"(?<!\d)\d{14,17}[\dA-Za-zＸｘ](?![\dA-Za-z])")

Problem = tuple[Reason, dict[str, object]]


def calc_check(body: str) -> str:
    """The check character for the first 17 digits."""
    body = compact(body)
    problem = _character_problem(body, LENGTH - 1)
    if problem is not None:
        raise InvalidIdentifier(*problem)
    if len(body) != LENGTH - 1:
        raise InvalidIdentifier(Reason.LENGTH, {"expected": LENGTH - 1, "actual": len(body)})
    return _check_char(body)


def _check_char(body: str) -> str:
    return CHECK_CHARS[sum(int(char) * weight for char, weight in zip(body, WEIGHTS, strict=True)) % 11]


def _character_problem(code: str, digits: int) -> Problem | None:
    """The first ``digits`` characters must be digits; a following 18th character may also be X."""
    for position, char in enumerate(code):
        if char not in _DIGITS and not (position == digits and char == "X"):
            return Reason.BAD_CHARACTER, {"position": position + 1, "char": char}
    return None


def _birth_date(code: str) -> datetime.date:
    """The birth date encoded in a structurally valid number; ValueError when it is no calendar date."""
    if len(code) == LENGTH:
        year, month, day = int(code[6:10]), int(code[10:12]), int(code[12:14])
    else:
        year, month, day = LEGACY_CENTURY + int(code[6:8]), int(code[8:10]), int(code[10:12])
    return datetime.date(year, month, day)


def _problem(code: str, today: datetime.date | None) -> Problem | None:
    if not code:
        return Reason.EMPTY, {}
    if len(code) not in LENGTHS:
        return Reason.LENGTH, {"expected": "15 或 18", "actual": len(code)}
    problem = _character_problem(code, LENGTH - 1 if len(code) == LENGTH else LEGACY_LENGTH)
    if problem is not None:
        return problem
    if len(code) == LENGTH and _check_char(code[:-1]) != code[-1]:
        return Reason.CHECK_DIGIT, {}
    try:
        born = _birth_date(code)
    except ValueError:
        return Reason.BIRTH_DATE, {}
    if born > (today or datetime.date.today()):
        return Reason.BIRTH_DATE, {}
    return None


def validate(value: str, *, today: datetime.date | None = None) -> str:
    """The compact number (15 or 18 characters), or :class:`InvalidIdentifier`.

    ``today`` bounds the birth date; it defaults to the local date and exists so that checks over a
    batch (and tests) use one fixed day.
    """
    code = compact(value)
    problem = _problem(code, today)
    if problem is not None:
        raise InvalidIdentifier(*problem)
    return code


def is_valid(value: str, *, today: datetime.date | None = None) -> bool:
    return _problem(compact(value), today) is None


def reason(value: str, *, today: datetime.date | None = None) -> Reason | None:
    """Why ``value`` is not a valid resident ID number, or None when it is."""
    problem = _problem(compact(value), today)
    return None if problem is None else problem[0]


def birth_date(value: str, *, today: datetime.date | None = None) -> datetime.date:
    """The birth date of a valid number (15-digit numbers are read as 19YY)."""
    return _birth_date(validate(value, today=today))


def to_18(value: str, *, today: datetime.date | None = None) -> str:
    """The 18-character form: a legacy 15-digit number gets ``19`` in its year and a check character."""
    code = validate(value, today=today)
    if len(code) == LENGTH:
        return code
    body = code[:6] + str(LEGACY_CENTURY // 100) + code[6:]
    return body + _check_char(body)


def mask(value: str) -> str:
    """A display form that hides the birth date, safe for receipts, logs and the CLI.

    Works on any input, valid or not, because rejected rows are exactly the ones shown to people.
    The address code and the last characters stay visible so a clerk can find the row; lengths other
    than 15 and 18 keep only the last two characters (none when shorter than eight).

    >>> mask('1101051949123100')
    '**************00'
    >>> mask('110105')
    '******'
    """
    code = compact(value)
    if len(code) == LENGTH:
        return code[:6] + "*" * 8 + code[14:]
    if len(code) == LEGACY_LENGTH:
        return code[:6] + "*" * 6 + code[12:]
    if len(code) >= 8:
        return "*" * (len(code) - 2) + code[-2:]
    return "*" * len(code)


def mask_in_text(text: str) -> str:
    """``text`` with every ID-shaped run masked by :func:`mask`: for values, file names and messages that
    are echoed to people (receipts, logs) and might hold a personal ID number typed in the wrong place."""
    return _ID_LIKE.sub(lambda match: mask(match.group(0)), text)
