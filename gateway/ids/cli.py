"""``gateway ids check``: check identifiers from a shell, one per line, with the reason in Chinese.

For engineers answering a department ("why was this row refused?") and for quick checks of a column
pasted from a spreadsheet. Output is tab-separated so it pastes back into a spreadsheet: the code as
given (masked where it may be a personal ID number), ``valid`` or ``invalid``, and the kind of code
followed by the reason, e.g. ``统一社会信用代码校验位错误``.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

import typer

from gateway.ids import orgcode, regno, resident_id, uscc
from gateway.ids.errors import InvalidIdentifier, Reason, message
from gateway.ids.normalize import compact

AUTO_RULE = (
    "auto decides by the length after normalisation: 9 → organisation code; "
    "15 → legacy resident ID if it is 15 digits with a real birth date at positions 7–12, "
    "otherwise registration number; 18 → resident ID if it is 17 digits followed by a digit or X, "
    "unless it is a valid USCC and not a valid resident ID; any other 18 → USCC; other lengths are "
    "reported as a wrong length."
)
MASK_RULE = (
    "Resident IDs are printed masked, and so is anything shaped like one (15–18 digits, the last may be "
    "X) unless it is a valid code of the other kind and not a valid resident ID."
)

UNKNOWN_LABEL = "代码"
AUTO_LENGTHS = "9、15 或 18"

_PERSONAL_SHAPE = re.compile(r"[0-9]{14,17}[0-9X]")
_ID18_SHAPE = re.compile(r"[0-9]{17}[0-9X]")
_ID15_SHAPE = re.compile(r"[0-9]{15}")


class Kind(StrEnum):
    AUTO = "auto"
    USCC = "uscc"
    ORG = "org"
    REGNO = "regno"
    ID = "id"


_LABELS: dict[Kind, str] = {
    Kind.USCC: uscc.LABEL,
    Kind.ORG: orgcode.LABEL,
    Kind.REGNO: regno.LABEL,
    Kind.ID: resident_id.LABEL,
}


@dataclass(frozen=True)
class Verdict:
    """The outcome for one line; ``kind`` is None when auto could not tell what the code is."""

    kind: Kind | None
    error: InvalidIdentifier | None

    @property
    def valid(self) -> bool:
        return self.error is None


def guess_kind(code: str, today: datetime.date) -> Kind | None:
    """The auto rule (see AUTO_RULE) applied to a compact code; None for lengths no identifier has."""
    if len(code) == orgcode.LENGTH:
        return Kind.ORG
    if len(code) == regno.LENGTH:
        if _ID15_SHAPE.fullmatch(code) and resident_id.is_valid(code, today=today):
            return Kind.ID
        return Kind.REGNO
    if len(code) == uscc.LENGTH:
        if _ID18_SHAPE.fullmatch(code) and not (
            uscc.is_valid(code) and not resident_id.is_valid(code, today=today)
        ):
            return Kind.ID
        return Kind.USCC
    return None


def judge(value: str, kind: Kind, today: datetime.date) -> Verdict:
    """Validate ``value`` as ``kind`` (guessing it for AUTO)."""
    code = compact(value)
    concrete = guess_kind(code, today) if kind is Kind.AUTO else kind
    try:
        if concrete is None:
            raise InvalidIdentifier(Reason.LENGTH, {"expected": AUTO_LENGTHS, "actual": len(code)})
        if concrete is Kind.ID:
            resident_id.validate(code, today=today)
        else:
            {Kind.USCC: uscc, Kind.ORG: orgcode, Kind.REGNO: regno}[concrete].validate(code)
    except InvalidIdentifier as error:
        return Verdict(concrete, error)
    return Verdict(concrete, None)


def shown(value: str, verdict: Verdict, today: datetime.date) -> str:
    """The code as given, or masked when it is, or may be, a personal ID number (see MASK_RULE)."""
    code = compact(value)
    personal = verdict.kind is Kind.ID or (
        _PERSONAL_SHAPE.fullmatch(code) is not None
        and (not verdict.valid or resident_id.is_valid(code, today=today))
    )
    return resident_id.mask(code) if personal else value.strip().replace("\t", " ")


def render(value: str, verdict: Verdict, today: datetime.date) -> str:
    label = UNKNOWN_LABEL if verdict.kind is None else _LABELS[verdict.kind]
    if verdict.error is None:
        return f"{shown(value, verdict, today)}\tvalid\t{label}"
    reason = message(verdict.error.reason, **verdict.error.details)
    return f"{shown(value, verdict, today)}\tinvalid\t{label}{reason}"


app = typer.Typer(
    help="统一社会信用代码、组织机构代码、工商注册号、居民身份证号码的校验 (identifier checks)."
)


@app.callback()
def ids() -> None:
    """Identifier tools; a group (not a lone command) so it mounts as ``gateway ids check``."""


@app.command(
    help=f"Check codes read from standard input, one per line; blank lines are skipped. {AUTO_RULE} "
    f"{MASK_RULE} Prints code, valid/invalid and the kind plus reason (Chinese), tab-separated; "
    "exits 1 if any code is invalid."
)
def check(
    kind: Annotated[Kind, typer.Option(help="Kind of code; see the auto rule above.")] = Kind.AUTO,
) -> None:
    today = datetime.date.today()
    any_invalid = False
    for line in typer.get_text_stream("stdin"):
        if not line.strip():
            continue
        verdict = judge(line, kind, today)
        any_invalid = any_invalid or not verdict.valid
        typer.echo(render(line, verdict, today))
    raise typer.Exit(code=1 if any_invalid else 0)
