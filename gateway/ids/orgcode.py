"""Organisation code, 组织机构代码 (GB 11714-1997): the pre-2015 identifier of an organisation.

Still found in old department systems and in the 双公示 field 行政相对人代码_3 (C9); it is also
positions 9–17 of every USCC, which is how old records are attached to entities. Eight body
characters (digits or upper-case letters, A = 10 … Z = 35) and one check character (digit or X),
weights 3 7 9 10 5 8 4 2, MOD 11 (docs/standards.md §1.3). Usually printed ``XXXXXXXX-X``.

>>> validate('D2143569-X')
'D2143569X'
>>> calc_check('D2143569')
'X'
>>> format('d2143569x')
'D2143569-X'
>>> reason('D21435691')
<Reason.CHECK_DIGIT: 'check_digit'>
>>> reason('D2143569')
<Reason.LENGTH: 'length'>
>>> validate('D2143#69X')
Traceback (most recent call last):
    ...
gateway.ids.errors.InvalidIdentifier: 含有非法字符：第 6 位是「#」
>>> is_valid('MA1K3BTP2')
True
"""

from __future__ import annotations

import string

from gateway.ids.errors import InvalidIdentifier, Reason
from gateway.ids.normalize import compact

LABEL = "组织机构代码"
LENGTH = 9
WEIGHTS: tuple[int, ...] = (3, 7, 9, 10, 5, 8, 4, 2)
ALPHABET = string.digits + string.ascii_uppercase  # value = index: 0-9, A=10 … Z=35

_VALUES: dict[str, int] = {char: index for index, char in enumerate(ALPHABET)}

Problem = tuple[Reason, dict[str, object]]


def calc_check(body: str) -> str:
    """The check character for the eight body characters."""
    body = compact(body)
    problem = _character_problem(body)
    if problem is not None:
        raise InvalidIdentifier(*problem)
    if len(body) != LENGTH - 1:
        raise InvalidIdentifier(Reason.LENGTH, {"expected": LENGTH - 1, "actual": len(body)})
    return _check_char(body)


def _check_char(body: str) -> str:
    remainder = 11 - sum(_VALUES[char] * weight for char, weight in zip(body, WEIGHTS, strict=True)) % 11
    return {10: "X", 11: "0"}.get(remainder, str(remainder))


def _character_problem(code: str) -> Problem | None:
    """A check character other than a digit or X fails as a check-digit error, not as a bad character."""
    for position, char in enumerate(code):
        if char not in _VALUES:
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
    """The compact code (no hyphen), or :class:`InvalidIdentifier` with the first reason found."""
    code = compact(value)
    problem = _problem(code)
    if problem is not None:
        raise InvalidIdentifier(*problem)
    return code


def is_valid(value: str) -> bool:
    return _problem(compact(value)) is None


def reason(value: str) -> Reason | None:
    """Why ``value`` is not a valid organisation code, or None when it is."""
    problem = _problem(compact(value))
    return None if problem is None else problem[0]


def format(value: str) -> str:
    """The printed form ``XXXXXXXX-X`` used on certificates and in most department exports."""
    code = validate(value)
    return f"{code[:-1]}-{code[-1]}"
