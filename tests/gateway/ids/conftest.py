"""Random and hostile identifier samples shared by the scalar, column and stdnum agreement tests.

Generated from a fixed seed so a failure reproduces; built from valid codes (made with each module's
``calc_check``) and then damaged the way real exports damage them: a wrong or look-alike character,
a dropped or doubled one, full-width forms, stray separators and invisible characters, lower case.
"""

from __future__ import annotations

import datetime
import random
import string
from collections.abc import Callable

import pytest

from gateway.ids import orgcode, regno, resident_id, uscc

TODAY = datetime.date(2025, 6, 30)
SAMPLES_PER_KIND = 4000

_FULL_WIDTH = {chr(code): chr(code + 0xFEE0) for code in range(0x21, 0x7F)}
HOSTILE = (
    list(string.digits)
    + list(string.ascii_uppercase)
    + list("abcxyzioszv")
    + list("０１９ＡＭＸＹＯＳｉｏ")
    + [" ", "\u3000", "\t", "\u00a0", "\u200b", "\ufeff", "\u00ad", "\u2028", "-", "—", "－", "–"]
    + ["ß", "ı", "ſ", "\u212a", "①", "ﬁ", "中", "é", "e\u0301", "\x00", "😀", "#", "*", "/", "."]
)


def _make_uscc(rng: random.Random) -> str:
    head = rng.choice("19ANY") + rng.choice("123459")
    region = "".join(rng.choices(string.digits, k=6))
    body = "".join(rng.choices(uscc.ALPHABET, k=9))
    return head + region + body + uscc.calc_check(head + region + body)


def _make_org(rng: random.Random) -> str:
    body = "".join(rng.choices(string.digits + string.ascii_uppercase, k=8))
    return body + orgcode.calc_check(body)


def _make_regno(rng: random.Random) -> str:
    body = "".join(rng.choices(string.digits, k=14))
    return body + regno.calc_check(body)


def _random_birth(rng: random.Random, start: int, end: datetime.date) -> datetime.date:
    first = datetime.date(start, 1, 1).toordinal()
    return datetime.date.fromordinal(rng.randint(first, end.toordinal()))


def _make_resident_id(rng: random.Random) -> str:
    region = "".join(rng.choices(string.digits, k=6))
    sequence = "".join(rng.choices(string.digits, k=3))
    if rng.random() < 0.2:
        born = _random_birth(rng, 1900, datetime.date(1999, 12, 31))
        return region + born.strftime("%y%m%d") + sequence
    born = _random_birth(rng, 1900, TODAY)
    date = born.strftime("%Y%m%d")
    if rng.random() < 0.1:
        # Right check character over an impossible or future date: only the birth-date rule catches it.
        date = rng.choice(["19491301", "19490132", "20230229", "19000229", "00000101", "20991231"])
    body = region + date + sequence
    return body + resident_id.calc_check(body)


def _damage(rng: random.Random, code: str) -> str:
    """Zero to two realistic kinds of damage; a quarter of the codes are left untouched on purpose."""
    for _ in range(rng.choice((0, 1, 1, 2))):
        position = rng.randrange(len(code) + 1)
        action = rng.randrange(8)
        if action == 0 and code:
            code = code[:position] + rng.choice(HOSTILE) + code[position + 1 :]
        elif action == 1:
            code = code[:position] + rng.choice(HOSTILE) + code[position:]
        elif action == 2 and code:
            code = code[:position] + code[position + 1 :]
        elif action == 3 and len(code) > position + 1:
            code = code[:position] + code[position + 1] + code[position] + code[position + 2 :]
        elif action == 4:
            code = "".join(_FULL_WIDTH.get(char, char) if rng.random() < 0.5 else char for char in code)
        elif action == 5:
            code = code.lower()
        elif action == 6:
            code = code[:position] + rng.choice([" ", "-", "\u3000", "\u200b", "—"]) + code[position:]
        else:
            code = code[:position] + rng.choice("IOSVZ") + code[position + 1 :]
    return code


def _random_junk(rng: random.Random) -> str:
    return "".join(rng.choices(HOSTILE, k=rng.randrange(0, 22)))


def make_samples(make: Callable[[random.Random], str], seed: int) -> list[str]:
    rng = random.Random(seed)
    samples: list[str] = []
    for _ in range(SAMPLES_PER_KIND):
        roll = rng.random()
        if roll < 0.1:
            samples.append(_random_junk(rng))
        else:
            samples.append(_damage(rng, make(rng)))
    return [*samples, "", "   ", "\u3000", "-"]


@pytest.fixture(scope="session")
def uscc_samples() -> list[str]:
    return make_samples(_make_uscc, seed=18)


@pytest.fixture(scope="session")
def org_samples() -> list[str]:
    return make_samples(_make_org, seed=9)


@pytest.fixture(scope="session")
def regno_samples() -> list[str]:
    return make_samples(_make_regno, seed=15)


@pytest.fixture(scope="session")
def resident_id_samples() -> list[str]:
    return make_samples(_make_resident_id, seed=11643)


@pytest.fixture(scope="session")
def today() -> datetime.date:
    return TODAY
