"""A warning's life: acknowledged, then handled, each change an event with who and when; dismissed only
with a reason; anything else refused with a message that says what is allowed."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.credit.warnings.queries import Filters, get_warning, list_warnings
from gateway.credit.warnings.raising import raise_warnings
from gateway.credit.warnings.states import TransitionError, change_state
from gateway.settings import Settings
from gateway.store.db import engine_for
from tests.gateway.credit.seed import AS_OF


def first_of(settings: Settings, rule_id: str) -> int:
    with engine_for(settings.database_url).connect() as conn:
        return int(list_warnings(conn, Filters(rule_id=rule_id))[0]["id"])


def test_acknowledged_then_handled(credit_settings: Settings, city: dict[str, Any]) -> None:
    raise_warnings(credit_settings, AS_OF)
    warning_id = first_of(credit_settings, "penalties")
    engine = engine_for(credit_settings.database_url)
    with engine.begin() as conn:
        change_state(conn, warning_id, "acknowledged", "李四")
    with engine.begin() as conn:
        change_state(conn, warning_id, "handled", "李四", reason="已约谈企业负责人")
    raise_warnings(credit_settings, AS_OF)  # raising again leaves a handled warning alone
    with engine.connect() as conn:
        found = get_warning(conn, warning_id)
    assert found is not None and found["state"] == "handled"
    assert [(e["actor"], e["from_state"], e["to_state"], e["reason"]) for e in found["events"]] == [
        ("credit_warnings", None, "new", None),
        ("李四", "new", "acknowledged", None),
        ("李四", "acknowledged", "handled", "已约谈企业负责人"),
    ]
    assert all(e["at"] is not None for e in found["events"])


def test_dismiss_needs_a_reason(credit_settings: Settings, city: dict[str, Any]) -> None:
    raise_warnings(credit_settings, AS_OF)
    warning_id = first_of(credit_settings, "address")
    engine = engine_for(credit_settings.database_url)
    with engine.begin() as conn, pytest.raises(TransitionError, match="必须写明理由"):
        change_state(conn, warning_id, "dismissed", "李四", reason="  ")
    with engine.begin() as conn:
        change = change_state(conn, warning_id, "dismissed", "李四", reason="商务秘书企业集中登记地址")
    assert (change.from_state, change.to_state) == ("new", "dismissed")
    with engine.connect() as conn:
        found = get_warning(conn, warning_id)
    assert found is not None and found["events"][-1]["reason"] == "商务秘书企业集中登记地址"


def test_invalid_changes_are_refused(credit_settings: Settings, city: dict[str, Any]) -> None:
    raise_warnings(credit_settings, AS_OF)
    warning_id = first_of(credit_settings, "debtor")
    engine = engine_for(credit_settings.database_url)
    with engine.begin() as conn, pytest.raises(TransitionError, match=r"当前为「新预警」\(new\)，不能办结"):
        change_state(conn, warning_id, "handled", "李四")
    with engine.begin() as conn, pytest.raises(TransitionError, match="操作人"):
        change_state(conn, warning_id, "acknowledged", " ")
    with engine.begin() as conn, pytest.raises(TransitionError, match="没有编号为 999999 的预警"):
        change_state(conn, 999999, "acknowledged", "李四")
    with engine.begin() as conn:
        change_state(conn, warning_id, "dismissed", "李四", reason="法院已撤销")
    with engine.begin() as conn, pytest.raises(TransitionError, match="不能再改变"):
        change_state(conn, warning_id, "acknowledged", "李四")
    with engine.connect() as conn:
        found = get_warning(conn, warning_id)
    assert found is not None and [e["to_state"] for e in found["events"]] == ["new", "dismissed"]
