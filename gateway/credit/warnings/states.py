"""A warning's life: new → acknowledged → handled, or dismissed (from new or acknowledged) with a reason.

Every change is a row of credit_warning_event (who, when, from, to, why), written in the same transaction
as the state itself; the update only applies if the warning is still in the state it was read in, so two
people acting on one warning at once cannot both succeed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, insert, select, update

from gateway.credit.warnings.tables import credit_warning, credit_warning_event

NEW, ACKNOWLEDGED, HANDLED, DISMISSED = "new", "acknowledged", "handled", "dismissed"
STATES = (NEW, ACKNOWLEDGED, HANDLED, DISMISSED)
STATE_LABELS = {NEW: "新预警", ACKNOWLEDGED: "已确认", HANDLED: "已处置", DISMISSED: "已排除"}
ALLOWED = {NEW: (ACKNOWLEDGED, DISMISSED), ACKNOWLEDGED: (HANDLED, DISMISSED), HANDLED: (), DISMISSED: ()}
_VERB = {ACKNOWLEDGED: "确认 (ack)", HANDLED: "办结 (handle)", DISMISSED: "排除 (dismiss)"}
ACTOR_MAX = 64


class TransitionError(ValueError):
    """The change is not allowed (or the warning does not exist): the message says why."""


@dataclass(frozen=True)
class Change:
    warning_id: int
    from_state: str
    to_state: str
    actor: str
    at: datetime
    reason: str | None


def change_state(
    conn: Connection,
    warning_id: int,
    to_state: str,
    actor: str,
    *,
    reason: str | None = None,
    now: datetime | None = None,
) -> Change:
    """Move a warning to ``to_state`` and record the event; TransitionError if that is not allowed."""
    if to_state not in STATES or to_state == NEW:
        raise TransitionError(f"不能把预警改为 {to_state!r}：只能改为 {', '.join(STATES[1:])}")
    actor = (actor or "").strip()
    if not actor:
        raise TransitionError("请用 --by 写明操作人 (who acts on the warning is required)")
    if len(actor) > ACTOR_MAX:
        raise TransitionError(f"操作人不能超过 {ACTOR_MAX} 个字符")
    reason = (reason or "").strip() or None
    if to_state == DISMISSED and reason is None:
        raise TransitionError(f"排除预警 {warning_id} 必须写明理由 (--reason): a dismissal needs a reason")
    current = conn.execute(select(credit_warning.c.state).where(credit_warning.c.id == warning_id)).scalar()
    if current is None:
        raise TransitionError(f"没有编号为 {warning_id} 的预警 (no warning {warning_id})")
    if to_state not in ALLOWED.get(current, ()):
        allowed = "、".join(_VERB[s] for s in ALLOWED.get(current, ())) or "不能再改变（已结束）"
        raise TransitionError(
            f"预警 {warning_id} 当前为「{STATE_LABELS.get(current, current)}」({current})，"
            f"不能{_VERB[to_state]}；可以：{allowed}"
        )
    now = now or datetime.now(UTC)
    done = conn.execute(
        update(credit_warning)
        .where(credit_warning.c.id == warning_id, credit_warning.c.state == current)
        .values(state=to_state, updated_at=now)
    ).rowcount
    if done != 1:  # someone else changed it between our read and our write
        raise TransitionError(f"预警 {warning_id} 刚被他人修改，请重新查看后再操作")
    conn.execute(
        insert(credit_warning_event).values(
            warning_id=warning_id, at=now, actor=actor, from_state=current, to_state=to_state, reason=reason
        )
    )
    return Change(warning_id, current, to_state, actor, now, reason)
