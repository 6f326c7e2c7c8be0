"""风险预警: the early warnings (gateway.credit.warnings) listed, one with its evidence and history, followed
from the page (``states.change_state``, the same call as `gateway credit warnings ack / handle / dismiss`,
with the signed-in user as the actor), and exported for Excel with the library's own export.

Access is per DAG, as for every page (access.py): reading needs read access to the ``credit_warnings`` DAG,
acting needs permission to trigger it. It is not per department: whoever may read ``credit_warnings`` sees
every department's warnings.

The risk class is internal (docs/credit.md). A class move's warning is listed like any other (its title may
not name the class: the rules loader refuses that), but the classes in its evidence and figures are shown
only to a caller who may trigger ``credit_classify``, as on the entity page; an export never holds them.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from airflow.api_fastapi.auth.managers.models.base_user import BaseUser
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from gateway.credit.warnings import export as exporting
from gateway.credit.warnings.queries import Filters, departments, get_warning, rule_label, warnings_page
from gateway.credit.warnings.raising import rules_of
from gateway.credit.warnings.rules import KINDS, RuleSet
from gateway.credit.warnings.states import (
    ACKNOWLEDGED,
    ACTOR_MAX,
    ALLOWED,
    DISMISSED,
    HANDLED,
    STATE_LABELS,
    STATES,
    TransitionError,
    change_state,
)
from gateway.credit.warnings.tables import credit_warning
from gateway.local_times import shown
from gateway.schema import load_record_types
from gateway.schema.model import RecordType
from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway_pages.access import CREDIT_DAG, WARNINGS_DAG, actor, may, reader
from gateway_pages.context import checked_form, settings_of
from gateway_pages.rendering import message, page, url_for

ALL_DEPARTMENTS = "*"  # the export's "every department" (department ids are [A-Za-z0-9_-])
NOTE_MAX = 2000
ACTIONS = {"acknowledge": ACKNOWLEDGED, "handle": HANDLED, "dismiss": DISMISSED}
DONE = {
    ACKNOWLEDGED: "已确认此预警：请跟进处置，处置后点“已处置”。",
    HANDLED: "此预警已处置。",
    DISMISSED: "此预警已排除，理由已记录。",
}
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
# What a rule's figures are called (docs/credit-warnings.md, "The rules"); a figure not named here is shown
# by its id.
FIGURE_LABELS = {
    "count": "次数",
    "days": "天数",
    "fine_total": "罚款合计（万元）",
    "listed_on": "列入日期",
    "authority": "决定或许可机关",
    "case_code": "案号",
    "court": "执行法院",
    "published_on": "发布日期",
    "recent": "近期件数",
    "prior": "此前件数",
    "ratio": "倍数",
    "months": "月数",
    "valid_to": "有效期至",
    "days_left": "剩余天数",
    "days_overdue": "逾期天数",
    "licence": "许可文书",
    "entities": "主体户数",
    "address": "住所",
    "representative": "法定代表人",
    "related": "关联主体户数",
    "period": "分类月份",
    "previous_period": "上次分类月份",
    "from_class": "原风险分类（内部）",
    "to_class": "现风险分类（内部）",
}
INTERNAL_FIELDS = {"period": "分类月份", "class": "风险分类（内部）", "run_id": "分类批次"}

router = APIRouter()
Reader = Annotated[BaseUser, Depends(reader(WARNINGS_DAG))]
Actor = Annotated[BaseUser, Depends(actor(WARNINGS_DAG))]
PageNumber = Annotated[int, Query(alias="page", ge=1, le=1_000_000)]
Department = Annotated[str | None, Query(max_length=64)]
State = Annotated[str | None, Query(max_length=16)]
Level = Annotated[str | None, Query(max_length=16)]


# ------------------------------------------------------------------------------------------ one warning
def _figures(evidence: Mapping[str, Any], internal_shown: bool) -> list[tuple[str, object]]:
    """The figures the rule found, in the order its kind declares them; the internal ones (the classes of
    a class move) only for a caller who may see the class."""
    kind = KINDS.get(str(evidence.get("kind")))
    order = [*kind.figures, *kind.internal_figures] if kind else []
    hidden = () if internal_shown or kind is None else kind.internal_figures
    figures = evidence.get("figures") or {}
    names = sorted(figures, key=lambda name: order.index(name) if name in order else len(order))
    return [
        (FIGURE_LABELS.get(name, name), "—" if figures[name] is None else figures[name])
        for name in names
        if name not in hidden
    ]


def _records(
    evidence: Mapping[str, Any], record_types: Mapping[str, RecordType], internal_shown: bool
) -> list[dict[str, Any]]:
    """The evidence records as shown: type label, key, version, department, fields by their labels."""
    shown_records = []
    for item in evidence.get("records", []):
        rtype = record_types.get(item["record_type"])
        internal = item["record_type"] in exporting.INTERNAL_TYPES
        fields: list[tuple[str, object]] = []
        if internal:  # a classification row: its month for everyone, its class only for staff
            values = item.get("fields") or {}
            fields = [
                (label, values[k])
                for k, label in INTERNAL_FIELDS.items()
                if k in values and (internal_shown or k == "period")
            ]
        else:
            for code, value in (item.get("fields") or {}).items():
                label = rtype.field(code).label if rtype is not None and code in rtype.codes else code
                fields.append((label, value))
        shown_records.append(
            {
                "type_label": "信用风险分类" if internal else (rtype.label if rtype else item["record_type"]),
                "natural_key": "" if internal and not internal_shown else item["natural_key"],
                "version": item.get("version"),
                "department": item.get("department") or "",
                "fields": fields,
                "internal": internal,
            }
        )
    return shown_records


def _history(settings: Settings, events: list[Mapping[str, Any]]) -> list[dict[str, str]]:
    return [
        {
            "at": shown(settings, e["at"]),
            "actor": e["actor"],
            "from": STATE_LABELS.get(e["from_state"], e["from_state"]) if e["from_state"] else "—",
            "to": STATE_LABELS.get(e["to_state"], e["to_state"]),
            "reason": e["reason"] or "",
        }
        for e in events
    ]


# -------------------------------------------------------------------------------------------- filters
def _filters(rules: RuleSet, department: str | None, state: str | None, level: str | None) -> Filters:
    if state and state not in STATES:
        raise HTTPException(400, f"未知的预警状态：{state}")
    if level and level not in {lv.id for lv in rules.levels}:
        raise HTTPException(400, f"未知的预警等级：{level}")
    return Filters(department=department or None, state=state or None, level=level or None)


# ------------------------------------------------------------------------------------------------ pages
@router.get("/warnings", name="warnings")
def warning_list(
    request: Request,
    user: Reader,
    page_no: PageNumber = 1,
    department: Department = None,
    state: State = None,
    level: Level = None,
) -> HTMLResponse:
    settings = settings_of(request)
    rules = rules_of(settings)
    filters = _filters(rules, department, state, level)
    with engine_for(settings.database_url).connect() as conn:
        found = warnings_page(conn, rules, filters, page_no)
        known = departments(conn)
    query = {"department": filters.department, "state": filters.state, "level": filters.level}
    return page(
        request,
        "warnings.html",
        user,
        title="风险预警",
        found=found,
        query=query,
        departments=known,
        levels=rules.levels,
        states=STATES,
        state_labels=STATE_LABELS,
        export_query={**query, "department": filters.department or ALL_DEPARTMENTS},
    )


@router.get("/warnings/export.{fmt}", name="warnings_export")
def warning_export(
    request: Request,
    fmt: str,
    user: Reader,
    department: Department = None,
    state: State = None,
    level: Level = None,
) -> Response:
    """The warnings of the filter as the CLI's export writes them (no risk class), as a download. A
    department must be named, or every department asked for with ``department=*``."""
    if fmt not in exporting.FORMATS:
        raise HTTPException(404, "只能导出 CSV 或 XLSX")
    if not department:
        raise HTTPException(400, "请选择要导出的部门（或“全部部门”）")
    settings = settings_of(request)
    rules = rules_of(settings)
    filters = _filters(rules, None if department == ALL_DEPARTMENTS else department, state, level)
    labels = {name: rtype.label for name, rtype in load_record_types(settings.schemas_dir).items()}
    with engine_for(settings.database_url).connect() as conn:
        rows = exporting.export_rows(conn, filters, rules, labels, settings.timezone)
    with tempfile.TemporaryDirectory(prefix="gateway-warnings-export-") as scratch:
        path = Path(scratch) / f"warnings.{fmt}"
        (exporting.write_csv if fmt == "csv" else exporting.write_xlsx)(path, rows)
        body = path.read_bytes()
    day = datetime.now(ZoneInfo(settings.timezone)).date().isoformat()
    scope = filters.department or "全部部门"
    ascii_scope = re.sub(r"[^A-Za-z0-9_-]", "_", filters.department or "all")
    disposition = (
        f'attachment; filename="credit-warnings-{ascii_scope}-{day}.{fmt}"; '
        f"filename*=UTF-8''{quote(f'风险预警-{scope}-{day}.{fmt}', safe='')}"
    )
    return Response(
        body,
        media_type=CONTENT_TYPES[fmt],
        headers={
            "Content-Disposition": disposition,
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/warnings/{warning_id}", name="warning")
def warning_detail(
    request: Request,
    warning_id: int,
    user: Reader,
    done: Annotated[str | None, Query(max_length=16)] = None,
) -> HTMLResponse:
    settings = settings_of(request)
    with engine_for(settings.database_url).connect() as conn:
        found = get_warning(conn, warning_id)
    if found is None:
        raise HTTPException(404, "没有这条预警")
    rules = rules_of(settings)
    internal_shown = may(request, user, CREDIT_DAG)
    record_types = load_record_types(settings.schemas_dir)
    return page(
        request,
        "warning.html",
        user,
        title=f"风险预警 {warning_id}：{found['title']}",
        w=found,
        level_label=rules.level_label(found["level"]),
        rule_label=rule_label(rules, found["rule_id"]),
        state_label=STATE_LABELS.get(found["state"], found["state"]),
        raised_at=shown(settings, found["raised_at"]),
        figures=_figures(found["evidence"], internal_shown),
        records=_records(found["evidence"], record_types, internal_shown),
        history=_history(settings, found["events"]),
        allowed=ALLOWED.get(found["state"], ()),
        may_act=may(request, user, WARNINGS_DAG),
        may_see_class=internal_shown,
        done=DONE.get(done or ""),
        note_max=NOTE_MAX,
    )


@router.post("/warnings/{warning_id}/{action}", name="warning_action")
async def warning_action(request: Request, warning_id: int, action: str, user: Actor) -> Response:
    """Acknowledge, handle (with an optional note) or dismiss (with the reason, required) as the user."""
    to_state = ACTIONS.get(action)
    if to_state is None:
        raise HTTPException(404, "没有这个操作")
    form = await checked_form(request, user)
    text = str(form.get({DISMISSED: "reason", HANDLED: "note"}.get(to_state, ""), "") or "").strip()
    if len(text) > NOTE_MAX:
        return message(request, 400, "说明过长", f"说明不能超过 {NOTE_MAX} 个字，请精简后重新提交。")
    if to_state == DISMISSED and not text:
        return message(
            request,
            400,
            "请写明排除理由",
            "排除预警必须写明理由（例如：经核实为同名不同人），请填写后重新提交。",
        )
    settings = settings_of(request)

    def act() -> None:
        with engine_for(settings.database_url).begin() as conn:
            if (
                conn.execute(select(credit_warning.c.id).where(credit_warning.c.id == warning_id)).first()
                is None
            ):
                raise HTTPException(404, "没有这条预警")
            change_state(conn, warning_id, to_state, user.get_name()[:ACTOR_MAX], reason=text or None)

    try:
        await run_in_threadpool(act)
    except TransitionError as exc:  # not allowed from its state, or someone else changed it meanwhile
        return message(request, 409, "无法更改预警", str(exc))
    return RedirectResponse(url_for(request, "warning", {"done": to_state}, warning_id=warning_id), 303)
