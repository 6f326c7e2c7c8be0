"""Registration number, 工商注册号 (GS15-2006): the 15-digit enterprise number used 2007–2015.

Found in 双公示 行政相对人代码_2 and in old licences; resolved to a USCC through the entity registry.
Positions 1–6 are the first registering authority's division code, 7–14 a sequence number and 15 an
ISO 7064 MOD 11,10 check digit (docs/standards.md §1.4).

>>> validate('110108000000016')
'110108000000016'
>>> calc_check('11010800000001')
'6'
>>> is_valid('520000000005018')
True
>>> reason('110108000000017')
<Reason.CHECK_DIGIT: 'check_digit'>
>>> reason('11010800000001A')
<Reason.BAD_CHARACTER: 'bad_character'>
>>> validate('1101080000000')
Traceback (most recent call last):
    ...
gateway.ids.errors.InvalidIdentifier: 长度不对：应为 15 位，实际为 13 位
"""

from __future__ import annotations

from gateway.ids.errors import InvalidIdentifier, Reason
from gateway.ids.normalize import compact

LABEL = "工商注册号"
LENGTH = 15

_DIGITS = frozenset("0123456789")

Problem = tuple[Reason, dict[str, object]]


def mod_11_10_state(body: str) -> int:
    """The ISO 7064 MOD 11,10 running value after the digits of ``body`` (10 before any digit).

    Hand-written rather than python-stdnum's ``iso7064.mod_11_10``: stdnum is a test-only dependency
    here, and the column check vectorises this same recurrence, so both read alike.
    """
    state = 10
    for char in body:
        state = 2 * ((state + int(char)) % 10 or 10) % 11
    return state


def calc_check(body: str) -> str:
    """The check digit for the 14-digit body: the digit that brings the running value to 1."""
    body = compact(body)
    problem = _character_problem(body)
    if problem is not None:
        raise InvalidIdentifier(*problem)
    if len(body) != LENGTH - 1:
        raise InvalidIdentifier(Reason.LENGTH, {"expected": LENGTH - 1, "actual": len(body)})
    return _check_char(body)


def _check_char(body: str) -> str:
    return str((11 - mod_11_10_state(body)) % 10)


def _character_problem(code: str) -> Problem | None:
    for position, char in enumerate(code):
        if char not in _DIGITS:
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
    """The compact number, or :class:`InvalidIdentifier` with the first reason found."""
    code = compact(value)
    problem = _problem(code)
    if problem is not None:
        raise InvalidIdentifier(*problem)
    return code


def is_valid(value: str) -> bool:
    return _problem(compact(value)) is None


def reason(value: str) -> Reason | None:
    """Why ``value`` is not a valid registration number, or None when it is."""
    problem = _problem(compact(value))
    return None if problem is None else problem[0]
