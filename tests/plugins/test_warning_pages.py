"""The early warnings' pages (plugins/gateway_pages/warnings.py) with TestClient, mounted as Airflow's API
server mounts them, next to the simple auth manager (viewer reads credit_warnings, clerk may trigger it).

The warnings are real: the pages' world (tests/plugins/world.py: the sample exports through the drop folder)
plus a serious-dishonesty listing about an entity whose name and listing authority hold markup, and two risk
runs that move one entity from class B to D, raised by ``gateway.credit.warnings.raising`` with the shipped
rules as of 2026-11-01. One test runs on the warnings' own small city on SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from urllib.parse import quote

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from gateway.credit.warnings.export import HEADERS
from gateway.credit.warnings.raising import raise_warnings, rules_of
from gateway.credit.warnings.tables import credit_warning, credit_warning_event
from gateway.settings import Settings
from gateway.store.db import engine_for
from tests.gateway.credit.seed import AS_OF as CITY_AS_OF
from tests.gateway.credit.seed import Seed
from tests.gateway.credit.warnings.city import build_city
from tests.plugins.conftest import Client, csrf_of

AS_OF = date(2026, 11, 1)
MARKUP_NAME = '<img src=x onerror=alert(3)>忻州"预警"测试店'
MARKUP_AUTHORITY = '<script>alert("预警")</script>忻州市市场监督管理局'
MOVED_NAME = "忻州市分类下降测试有限公司"
SEVERITY = {"red": 0, "orange": 1, "yellow": 2, "blue": 3}
_LEVELS = re.compile(r'<span class="status level-(\w+)">')
_TIME = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"


# ------------------------------------------------------------------------------------------- fixtures
@dataclass(frozen=True)
class Warned:
    settings: Settings
    ids: dict[str, int]  # rule id → its warning's id (the first, for a rule with more than one)
    hostile_entity: int
    moved_entity: int


def _seed_and_raise(settings: Settings, extra_listings: int = 0) -> Warned:
    with engine_for(settings.database_url).begin() as conn:
        seed = Seed(conn)
        hostile = seed.entity(MARKUP_NAME)
        seed.record(
            hostile,
            "serious_dishonesty",
            "YZ-PAGES-0",
            {"LIST_ID": "YZ-PAGES-0", "ABNTIME": "2026-10-20", "DECORG_CN": MARKUP_AUTHORITY},
        )
        for n in range(1, extra_listings + 1):
            listed = seed.entity(f"忻州市分页测试{n}号商店")
            seed.record(
                listed,
                "serious_dishonesty",
                f"YZ-PAGES-{n}",
                {"LIST_ID": f"YZ-PAGES-{n}", "ABNTIME": "2026-10-21", "DECORG_CN": "忻州市市场监督管理局"},
            )
        moved = seed.entity(MOVED_NAME)
        seed.run("2026-09", date(2026, 9, 30), {moved: "B"})  # a first run raises nothing: no move yet
        seed.run("2026-10", date(2026, 10, 31), {moved: "D"})
    raise_warnings(settings, AS_OF)
    with engine_for(settings.database_url).connect() as conn:
        rows = conn.execute(
            select(credit_warning.c.rule_id, credit_warning.c.id).order_by(credit_warning.c.id)
        )
        ids: dict[str, int] = {}
        for rule_id, warning_id in rows:
            ids.setdefault(rule_id, warning_id)
    return Warned(settings, ids, hostile, moved)


@pytest.fixture
def warned(world_copy: Settings, shows: Callable[[Settings], None]) -> Warned:
    """The world with its five warnings: one red (the listing), three orange (two entities penalised
    repeatedly, the move to class D), one blue (a transport licence about to expire)."""
    made = _seed_and_raise(world_copy)
    shows(world_copy)
    return made


def state_of(settings: Settings, warning_id: int) -> str:
    with engine_for(settings.database_url).connect() as conn:
        return str(
            conn.execute(select(credit_warning.c.state).where(credit_warning.c.id == warning_id)).scalar_one()
        )


def events_of(settings: Settings, warning_id: int) -> list[tuple[str, str | None, str, str | None]]:
    e = credit_warning_event.c
    with engine_for(settings.database_url).connect() as conn:
        return [
            (r.actor, r.from_state, r.to_state, r.reason)
            for r in conn.execute(
                select(e.actor, e.from_state, e.to_state, e.reason, e.at)
                .where(e.warning_id == warning_id)
                .order_by(e.id)
            )
        ]


def levels_on(html: str) -> list[str]:
    return _LEVELS.findall(html)


# ------------------------------------------------------------------------------------------- refusals
def test_anonymous_requests_get_the_login_page_or_401(client: Client, warned: Warned) -> None:
    anonymous = client(None)
    listing = warned.ids["serious_dishonesty_listed"]
    for path in (
        "/gateway/warnings",
        f"/gateway/warnings/{listing}",
        "/gateway/warnings/export.csv?department=xz_amr",
    ):
        answer = anonymous.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/auth/login?next=%2Fgateway%2Fwarnings"), path
        assert "忻州" not in answer.text
    answer = anonymous.post(f"/gateway/warnings/{listing}/acknowledge", data={"csrf_token": "x"})
    assert answer.status_code == 401
    assert state_of(warned.settings, listing) == "new"


def test_a_reader_sees_the_warnings_but_may_not_act(client: Client, warned: Warned) -> None:
    viewer = client("viewer")
    listing = viewer.get("/gateway/warnings")
    assert listing.status_code == 200
    assert listing.headers["content-type"] == "text/html; charset=utf-8"
    assert levels_on(listing.text) == ["red", "orange", "orange", "orange", "blue"]  # most severe first
    assert "红色预警" in listing.text and "新列入严重违法失信名单" in listing.text
    assert "一年内多次受到行政处罚" in listing.text and "行政许可即将到期" in listing.text
    assert "xz_transport" in listing.text and "2026-11-01" in listing.text and "新预警" in listing.text
    entity_link = f'href="/gateway/entities/{warned.hostile_entity}"'
    assert entity_link in listing.text
    assert viewer.get(f"/gateway/entities/{warned.hostile_entity}").status_code == 200
    assert 'class="here">风险预警</a>' in listing.text  # the pages' own menu

    penalties = warned.ids["penalties_repeated"]
    detail = viewer.get(f"/gateway/warnings/{penalties}")
    assert detail.status_code == 200
    assert "证据记录" in detail.text and "行政处罚" in detail.text and "行政处罚决定书文号" in detail.text
    assert re.search(rf"<td>{_TIME}</td><td>credit_warnings</td><td>—</td><td>新预警</td>", detail.text)
    assert "/acknowledge" not in detail.text and "/dismiss" not in detail.text  # no forms for a reader
    assert "需要运行 credit_warnings 的权限" in detail.text

    token = csrf_of(viewer, "/gateway/departments/xz_amr")  # a reader's valid token, from a form they have
    for action, data in (
        ("acknowledge", {}),
        ("handle", {"note": "看过了"}),
        ("dismiss", {"reason": "不需要处理"}),
    ):
        refused = viewer.post(f"/gateway/warnings/{penalties}/{action}", data={"csrf_token": token, **data})
        assert refused.status_code == 403, action
        assert "没有执行此操作的权限" in refused.text
    assert state_of(warned.settings, penalties) == "new"
    assert events_of(warned.settings, penalties) == [("credit_warnings", None, "new", None)]


def test_a_post_without_our_token_is_refused_and_changes_nothing(client: Client, warned: Warned) -> None:
    clerk = client("clerk")
    target = warned.ids["licence_expiring"]
    action = f"/gateway/warnings/{target}/acknowledge"
    token = csrf_of(clerk, f"/gateway/warnings/{target}")
    assert clerk.post(action, data={}).status_code == 403
    assert clerk.post(action, data={"csrf_token": token + "x"}).status_code == 403
    cross_site = clerk.post(action, data={"csrf_token": token}, headers={"Origin": "https://evil.example"})
    assert cross_site.status_code == 403 and "其他站点" in cross_site.text
    assert client("clerk").post(action, data={"csrf_token": token}).status_code == 403  # cookie not sent
    assert state_of(warned.settings, target) == "new"
    assert len(events_of(warned.settings, target)) == 1


# ----------------------------------------------------------------------------------------------- acting
def test_a_clerk_acknowledges_then_handles_a_warning(client: Client, warned: Warned) -> None:
    clerk = client("clerk")
    target = warned.ids["penalties_repeated"]
    page = f"/gateway/warnings/{target}"
    token = csrf_of(clerk, page)
    first = clerk.get(page).text
    assert f'action="{page}/acknowledge"' in first and f'action="{page}/dismiss"' in first
    assert f'action="{page}/handle"' not in first  # a new warning is acknowledged before it is handled

    too_early = clerk.post(f"{page}/handle", data={"csrf_token": token, "note": "已处理"})
    assert too_early.status_code == 409 and "不能办结" in too_early.text
    assert state_of(warned.settings, target) == "new"

    done = clerk.post(f"{page}/acknowledge", data={"csrf_token": token})
    assert done.status_code == 303
    assert done.headers["location"] == f"{page}?done=acknowledged"
    assert "已确认此预警" in clerk.get(done.headers["location"]).text
    assert state_of(warned.settings, target) == "acknowledged"

    done = clerk.post(f"{page}/handle", data={"csrf_token": token, "note": "已约谈企业负责人，责令整改"})
    assert done.status_code == 303
    assert state_of(warned.settings, target) == "handled"
    assert events_of(warned.settings, target) == [
        ("credit_warnings", None, "new", None),
        ("clerk", "new", "acknowledged", None),
        ("clerk", "acknowledged", "handled", "已约谈企业负责人，责令整改"),
    ]
    history = clerk.get(page).text
    assert re.search(rf"<td>{_TIME}</td><td>clerk</td><td>新预警</td><td>已确认</td><td></td>", history)
    assert re.search(
        rf"<td>{_TIME}</td><td>clerk</td><td>已确认</td><td>已处置</td><td>已约谈企业负责人，责令整改</td>",
        history,
    )
    assert "已结束（已处置）" in history and "/dismiss" not in history

    again = clerk.post(f"{page}/acknowledge", data={"csrf_token": token})
    assert again.status_code == 409 and "不能再改变" in again.text
    assert len(events_of(warned.settings, target)) == 3


def test_a_dismissal_needs_a_reason(client: Client, warned: Warned) -> None:
    clerk = client("clerk")
    target = warned.ids["licence_expiring"]
    page = f"/gateway/warnings/{target}"
    token = csrf_of(clerk, page)
    for blank in ({}, {"reason": ""}, {"reason": "   "}):
        refused = clerk.post(f"{page}/dismiss", data={"csrf_token": token, **blank})
        assert refused.status_code == 400, blank
        assert "排除预警必须写明理由" in refused.text
    assert state_of(warned.settings, target) == "new"
    assert len(events_of(warned.settings, target)) == 1

    done = clerk.post(f"{page}/dismiss", data={"csrf_token": token, "reason": "许可已于10月续期，数据待更新"})
    assert done.status_code == 303
    assert state_of(warned.settings, target) == "dismissed"
    assert events_of(warned.settings, target)[-1] == (
        "clerk",
        "new",
        "dismissed",
        "许可已于10月续期，数据待更新",
    )
    shown = clerk.get(done.headers["location"]).text
    assert "此预警已排除，理由已记录" in shown
    assert re.search(
        rf"<td>{_TIME}</td><td>clerk</td><td>新预警</td><td>已排除</td><td>许可已于10月续期", shown
    )


def test_unknown_warnings_and_actions_are_not_found(client: Client, warned: Warned) -> None:
    clerk = client("clerk")
    token = csrf_of(clerk, f"/gateway/warnings/{warned.ids['licence_expiring']}")
    assert clerk.get("/gateway/warnings/999999").status_code == 404
    assert clerk.post("/gateway/warnings/999999/acknowledge", data={"csrf_token": token}).status_code == 404
    target = warned.ids["licence_expiring"]
    assert clerk.post(f"/gateway/warnings/{target}/reopen", data={"csrf_token": token}).status_code == 404
    assert state_of(warned.settings, target) == "new"


# ------------------------------------------------------------------------------------ what is shown
def test_the_filters_narrow_the_list(client: Client, warned: Warned) -> None:
    viewer = client("viewer")

    def listed(**query: str) -> str:
        answer = viewer.get("/gateway/warnings", params=query)
        assert answer.status_code == 200, query
        return answer.text

    transport = listed(department="xz_transport")
    assert levels_on(transport) == ["blue"] and "共 1 条" in transport
    assert '<option value="xz_transport" selected>' in transport
    assert levels_on(listed(department="xz_amr")) == ["red", "orange", "orange"]
    assert levels_on(listed(department="xz_credit")) == ["orange"]  # the class move's default department
    assert levels_on(listed(level="red")) == ["red"]
    assert levels_on(listed(department="xz_amr", level="orange")) == ["orange", "orange"]
    assert levels_on(listed(state="acknowledged")) == []
    assert "没有符合条件的预警" in listed(state="acknowledged")

    clerk = client("clerk")
    target = warned.ids["licence_expiring"]
    token = csrf_of(clerk, f"/gateway/warnings/{target}")
    assert (
        clerk.post(f"/gateway/warnings/{target}/acknowledge", data={"csrf_token": token}).status_code == 303
    )
    acknowledged = listed(state="acknowledged")
    assert levels_on(acknowledged) == ["blue"] and f"/gateway/warnings/{target}" in acknowledged
    assert levels_on(listed(state="new")) == ["red", "orange", "orange", "orange"]

    assert viewer.get("/gateway/warnings", params={"state": "lost"}).status_code == 400
    assert viewer.get("/gateway/warnings", params={"level": "purple"}).status_code == 400
    assert viewer.get("/gateway/warnings", params={"page": 0}).status_code == 400


def test_the_list_is_paged(client: Client, world_copy: Settings, shows: Callable[[Settings], None]) -> None:
    _seed_and_raise(world_copy, extra_listings=55)  # 56 red, 3 orange, 1 blue
    shows(world_copy)
    viewer = client("viewer")
    first = viewer.get("/gateway/warnings").text
    assert levels_on(first) == ["red"] * 50
    assert "第 1 / 2 页，共 60 条" in first
    assert 'href="/gateway/warnings?page=2" rel="next"' in first
    second = viewer.get("/gateway/warnings", params={"page": 2}).text
    assert levels_on(second) == ["red"] * 6 + ["orange"] * 3 + ["blue"]
    assert levels_on(viewer.get("/gateway/warnings", params={"page": 9}).text) == levels_on(second)
    red = viewer.get("/gateway/warnings", params={"level": "red", "department": "xz_amr"}).text
    assert "第 1 / 2 页，共 56 条" in red
    assert 'href="/gateway/warnings?department=xz_amr&amp;level=red&amp;page=2" rel="next"' in red


def test_every_value_is_escaped(client: Client, warned: Warned) -> None:
    viewer = client("viewer")
    listing = viewer.get("/gateway/warnings").text
    assert "<img" not in listing and "<script>" not in listing
    assert "&lt;img src=x onerror=alert(3)&gt;忻州&#34;预警&#34;测试店" in listing
    assert "&lt;script&gt;alert(&#34;预警&#34;)&lt;/script&gt;忻州市市场监督管理局" in listing  # in the title
    detail = viewer.get(f"/gateway/warnings/{warned.ids['serious_dishonesty_listed']}").text
    assert "<img" not in detail and "<script>" not in detail
    assert "&lt;img src=x onerror=alert(3)&gt;" in detail
    assert "&lt;script&gt;alert(&#34;预警&#34;)&lt;/script&gt;" in detail  # the title, and the record's field


def test_the_risk_class_is_shown_only_to_supervising_staff(client: Client, warned: Warned) -> None:
    """A reader sees that the class moved (the title says so) but not to which class; a user who may run
    credit_classify sees the class, as on the entity page."""
    page = f"/gateway/warnings/{warned.ids['class_drop']}"
    seen_by_reader = client("viewer").get(page).text
    assert "信用风险分类下降（2026-10）" in seen_by_reader and "信用风险分类" in seen_by_reader
    assert "风险分类（内部）" not in seen_by_reader and "run:" not in seen_by_reader
    assert "仅向有权运行 credit_classify 的人员显示" in seen_by_reader
    assert "分类月份：2026-10" in seen_by_reader and "分类月份：2026-09" in seen_by_reader
    seen_by_staff = client("clerk").get(page).text
    assert "风险分类（内部）：D" in seen_by_staff and "风险分类（内部）：B" in seen_by_staff
    assert re.search(r"<dt>原风险分类（内部）</dt><dd>B</dd>", seen_by_staff)
    assert re.search(r"<dt>现风险分类（内部）</dt><dd>D</dd>", seen_by_staff)


# --------------------------------------------------------------------------------------------- exports
def test_exports_download_the_filtered_warnings_without_the_class(client: Client, warned: Warned) -> None:
    viewer = client("viewer")  # exporting is reading
    answer = viewer.get("/gateway/warnings/export.csv", params={"department": "xz_amr"})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = answer.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="credit-warnings-xz_amr-')
    assert f"filename*=UTF-8''{quote('风险预警-xz_amr-')}" in disposition
    assert answer.content.startswith("\ufeff".encode())  # Excel's byte-order mark
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert tuple(rows[0]) == HEADERS
    assert [int(r[0]) for r in rows[1:]] == [
        warned.ids["serious_dishonesty_listed"],
        *sorted(
            (
                i
                for i in _ids(warned.settings, department="xz_amr")
                if i != warned.ids["serious_dishonesty_listed"]
            ),
            reverse=True,
        ),
    ]
    assert [r[1] for r in rows[1:]] == ["红色预警", "橙色预警", "橙色预警"]
    assert {r[8] for r in rows[1:]} == {"xz_amr"}

    workbook = viewer.get("/gateway/warnings/export.xlsx", params={"department": "*"})
    assert workbook.status_code == 200
    assert (
        workbook.headers["content-type"]
        == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert 'filename="credit-warnings-all-' in workbook.headers["content-disposition"]
    assert quote("风险预警-全部部门-") in workbook.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(workbook.content)).active
    cells = [tuple("" if c is None else str(c) for c in row) for row in sheet.iter_rows(values_only=True)]
    assert cells[0] == HEADERS
    assert sorted(int(r[0]) for r in cells[1:]) == sorted(_ids(warned.settings))
    assert [r[1] for r in cells[1:]] == ["红色预警", "橙色预警", "橙色预警", "橙色预警", "蓝色预警"]
    moved = next(r for r in cells[1:] if int(r[0]) == warned.ids["class_drop"])
    assert moved[4] == MOVED_NAME and moved[9] == ""  # no evidence named: it is the class
    flat = [cell for row in cells for cell in row]
    assert not {"A", "B", "C", "D"} & set(flat)
    assert not any("credit_class" in cell or "run:" in cell for cell in flat)

    new_only = viewer.get("/gateway/warnings/export.csv", params={"department": "*", "level": "blue"})
    assert len(list(csv.reader(io.StringIO(new_only.content.decode("utf-8-sig"))))) == 2
    assert viewer.get("/gateway/warnings/export.csv").status_code == 400  # a department, or all, is chosen
    assert viewer.get("/gateway/warnings/export.pdf", params={"department": "*"}).status_code == 404
    links = viewer.get("/gateway/warnings", params={"department": "xz_amr", "state": "new"}).text
    assert 'href="/gateway/warnings/export.xlsx?department=xz_amr&amp;state=new"' in links
    assert 'href="/gateway/warnings/export.csv?department=%2A"' in viewer.get("/gateway/warnings").text


def _ids(settings: Settings, department: str | None = None) -> list[int]:
    stmt = select(credit_warning.c.id)
    if department is not None:
        stmt = stmt.where(credit_warning.c.department == department)
    with engine_for(settings.database_url).connect() as conn:
        return [int(row[0]) for row in conn.execute(stmt)]


# ---------------------------------------------------------------------------------- both databases
def test_the_pages_on_sqlite_and_postgresql(
    client: Client, settings: Settings, shows: Callable[[Settings], None]
) -> None:
    """The warnings' small city (tests/gateway/credit/warnings/city.py) raised with the shipped rules, on
    the parametrised database: the severity order is SQL, and acting and exporting write and read there."""
    with engine_for(settings.database_url).begin() as conn:
        build_city(Seed(conn))
    raise_warnings(settings, CITY_AS_OF)
    shows(settings)
    total = len(_ids(settings))
    assert total > 5
    viewer = client("viewer")
    listed = viewer.get("/gateway/warnings").text
    levels = levels_on(listed)
    assert len(levels) == total and levels[0] == "red"
    assert [SEVERITY[lv] for lv in levels] == sorted(SEVERITY[lv] for lv in levels)
    ranks = {lv.id for lv in rules_of(settings).levels}
    assert set(levels) <= ranks

    first = re.search(r'href="/gateway/warnings/(\d+)"', listed)
    assert first is not None
    target = int(first.group(1))
    clerk = client("clerk")
    token = csrf_of(clerk, f"/gateway/warnings/{target}")
    assert (
        clerk.post(f"/gateway/warnings/{target}/acknowledge", data={"csrf_token": token}).status_code == 303
    )
    assert state_of(settings, target) == "acknowledged"
    with engine_for(settings.database_url).connect() as conn:
        assert conn.execute(select(func.count()).select_from(credit_warning_event)).scalar_one() == total + 1

    exported = viewer.get("/gateway/warnings/export.csv", params={"department": "*"})
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert len(rows) == total + 1
    assert next(r for r in rows if r[0] == str(target))[7] == "已确认"
