"""USCC, 统一社会信用代码 (GB 32100-2015): the key every record is attached by.

18 characters: registering department (1), entity category (1), division code of the registering
authority (6 digits), the GB 11714 organisation code (9) and a MOD 31 check character (1). The alphabet
is the digits and the upper-case letters without I, O, S, V and Z (docs/standards.md §1.1–1.2).

Unlike python-stdnum, positions 1–2 may be letters (``A`` 中央军委改革和编制办公室, ``N`` 农业, ``Y``
其他 are real registering departments), so only positions 3–8 are required to be digits. The division
code is not looked up: it may be a historical code (docs/standards.md §4), and the check character already
catches typos there.

>>> validate('91350100M000100Y43')
'91350100M000100Y43'
>>> validate(' 91350100-m000100-y43 ')
'91350100M000100Y43'
>>> calc_check('91350100M000100Y4')
'3'
>>> validate('91350100M000100Y42')
Traceback (most recent call last):
    ...
gateway.ids.errors.InvalidIdentifier: 校验位错误

The standard's own negative example fails earlier: Z is never a USCC character, not even as the
check character.

>>> reason('91350100M000100Y4Z')
<Reason.ILLEGAL_LETTER: 'illegal_letter'>
>>> reason('9111000060003IOZSV')
<Reason.ILLEGAL_LETTER: 'illegal_letter'>
>>> validate('9111000060003IOZSV')
Traceback (most recent call last):
    ...
gateway.ids.errors.InvalidIdentifier: 含有不允许的字母 I、O、S、V、Z：第 14 位是「I」
>>> reason('91100000100003962A')
<Reason.CHECK_DIGIT: 'check_digit'>
>>> reason('911100006000373')
<Reason.LENGTH: 'length'>
>>> is_valid('914403001922038216'), is_valid('9144030071526726XG'), is_valid('121200004013590816')
(True, True, True)
>>> reason('91350100M000100Y43') is None
True
>>> org_code('91350100M000100Y43')
'M000100Y4'
"""

from __future__ import annotations

from gateway.ids.errors import InvalidIdentifier, Reason
from gateway.ids.normalize import compact

LABEL = "统一社会信用代码"
LENGTH = 18
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
ILLEGAL_LETTERS = "IOSVZ"
# W_i = 3^(i-1) mod 31 (GB/T 17710 style), i = 1..17.
WEIGHTS: tuple[int, ...] = tuple(pow(3, i, 31) for i in range(LENGTH - 1))
DIGIT_POSITIONS = range(2, 8)  # 0-based: the registering authority's division code

_VALUES: dict[str, int] = {char: index for index, char in enumerate(ALPHABET)}
_DIGITS = frozenset("0123456789")

Problem = tuple[Reason, dict[str, object]]


def calc_check(body: str) -> str:
    """The check character for the first 17 characters of a USCC."""
    body = compact(body)
    problem = _character_problem(body)
    if problem is not None:
        raise InvalidIdentifier(*problem)
    if len(body) != LENGTH - 1:
        raise InvalidIdentifier(Reason.LENGTH, {"expected": LENGTH - 1, "actual": len(body)})
    return _check_char(body)


def _check_char(body: str) -> str:
    total = sum(_VALUES[char] * weight for char, weight in zip(body, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def _character_problem(code: str) -> Problem | None:
    """Illegal letters first: they are the common O/0, S/5, Z/2 mix-ups and deserve their own message."""
    for position, char in enumerate(code):
        if char in ILLEGAL_LETTERS:
            return Reason.ILLEGAL_LETTER, {"position": position + 1, "char": char}
    for position, char in enumerate(code):
        allowed = _DIGITS if position in DIGIT_POSITIONS else _VALUES
        if char not in allowed:
            return Reason.BAD_CHARACTER, {"position": position + 1, "char": char}
    return None


def _problem(code: str) -> Problem | None:
    if not code:
        return Reason.EMPTY, {}
    if len(code) != LENGTH:
        return Reason.LENGTH, {"expected": LENGTH, "actual": len(code)}
    problem = _character_problem(code)
    if problem is not None:
        return problem
    if _check_char(code[:-1]) != code[-1]:
        return Reason.CHECK_DIGIT, {}
    return None


def validate(value: str) -> str:
    """The compact USCC, or :class:`InvalidIdentifier` with the first reason found."""
    code = compact(value)
    problem = _problem(code)
    if problem is not None:
        raise InvalidIdentifier(*problem)
    return code


def is_valid(value: str) -> bool:
    return _problem(compact(value)) is None


def reason(value: str) -> Reason | None:
    """Why ``value`` is not a valid USCC, or None when it is."""
    problem = _problem(compact(value))
    return None if problem is None else problem[0]


def org_code(value: str) -> str:
    """Positions 9–17: the GB 11714 organisation code, the link to pre-2015 records (docs/standards.md
    §1.1)."""
    return validate(value)[8:17]
