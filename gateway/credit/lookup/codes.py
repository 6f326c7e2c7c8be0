"""What a caller typed → which code it is and its compact form, or why it cannot be looked up.

Three answers must stay apart for the person at the counter (docs/lookup.md, "Codes"): a code that is not
shaped like any entity code (malformed: retype it), one whose check character does not match (bad_check: a
digit was mistyped or misread — look at the original document, never "fix" the last character), and a valid
code that names no entity the gateway knows (unknown, decided by the store, gateway.credit.lookup.standing).

The kind follows from the length after compaction (full-width characters, spaces and hyphens removed):
18 统一社会信用代码 (GB 32100-2015), 15 工商注册号 (GS15-2006), 9 组织机构代码 (GB 11714-1997). The checks are
gateway.ids', which tell a check-character mismatch from every other defect.

>>> parse_code(' 91350100-m000100-y43 ')
Code(kind='uscc', value='91350100M000100Y43')
>>> parse_code('110108000000016').kind, parse_code('D2143569-X').value
('reg_no', 'D2143569X')
>>> parse_code('91350100M000100Y42')
Traceback (most recent call last):
    ...
gateway.credit.lookup.codes.CodeRefused: 统一社会信用代码校验位错误：请对照证照原件逐位核对
>>> parse_code('12345')  # doctest: +ELLIPSIS
Traceback (most recent call last):
    ...
gateway.credit.lookup.codes.CodeRefused: 代码长度不对：统一社会信用代码 18 位、...，实际为 5 位
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from gateway.ids import orgcode, regno, uscc
from gateway.ids.errors import InvalidIdentifier, Reason
from gateway.ids.normalize import compact

KINDS: dict[int, tuple[str, ModuleType]] = {
    uscc.LENGTH: ("uscc", uscc),
    regno.LENGTH: ("reg_no", regno),
    orgcode.LENGTH: ("org_code", orgcode),
}
LABELS = {kind: module.LABEL for kind, module in KINDS.values()}


@dataclass(frozen=True)
class Code:
    kind: str  # uscc | reg_no | org_code
    value: str  # compact form, as the entity registry stores it


class CodeRefused(ValueError):
    """The code cannot be looked up: ``outcome`` malformed or bad_check, ``kind`` when the length told it."""

    def __init__(self, outcome: str, kind: str | None, text: str) -> None:
        super().__init__(text)
        self.outcome = outcome
        self.kind = kind


def parse_code(raw: str) -> Code:
    """The kind and compact form of ``raw``, or :class:`CodeRefused`."""
    code = compact(raw)
    known = KINDS.get(len(code))
    if known is None:
        if not code:
            raise CodeRefused("malformed", None, "代码为空")
        raise CodeRefused(
            "malformed",
            None,
            "代码长度不对：统一社会信用代码 18 位、工商注册号 15 位、组织机构代码 9 位，"
            f"实际为 {len(code)} 位",
        )
    kind, module = known
    try:
        module.validate(code)
    except InvalidIdentifier as exc:  # its message names the position and character, never the code
        if exc.reason is Reason.CHECK_DIGIT:
            raise CodeRefused("bad_check", kind, f"{module.LABEL}校验位错误：请对照证照原件逐位核对") from exc
        raise CodeRefused("malformed", kind, f"{module.LABEL}{exc}") from exc
    return Code(kind, code)
