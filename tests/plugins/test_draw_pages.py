"""The double-random pages (plugins/gateway_pages/draws.py) with TestClient, mounted as Airflow's API server
mounts them, next to the simple auth manager (viewer reads double_random_draw, clerk may trigger it and
credit_classify).

The draws are real: the pages' world (tests/plugins/world.py, whose gateway keys sign the records) plus
market entities in risk classes A and D written as the draw tests write them
(tests/gateway/credit/draws/store_world.py), the sample item and inspector lists, and tasks drawn through
the page or with ``run_draw``. One test runs on SQLite and PostgreSQL with keys made as the draw tests make
them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select, update

from gateway.credit.draws.plans import add_plan, add_task
from gateway.credit.draws.service import canonical, run_draw
from gateway.credit.draws.tables import draw_object, draw_plan, draw_record, draw_task
from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.tables import entity
from tests.gateway.credit.draws.store_world import (
    add_entities,
    add_records,
    install_keys,
    load_samples,
    make_keys,
)
from tests.plugins.conftest import Client, csrf_of

MARKUP_ENTITY = '<img src=x onerror=alert(7)>忻州"抽查"测试店'
MARKUP_TASK = '<script>alert("抽查")</script>企业公示信息检查'
MARKUP_NONCE = '<b onmouseover="x">0731</b>'
NONCE = "2025-07-31 公开摇号 0731-4417"
PLAN = "P2025"
_STRATUM_CELL = re.compile(r'<td class="stratum">(\w+)</td>')


# ------------------------------------------------------------------------------------------- fixtures
@dataclass(frozen=True)
class Drawable:
    settings: Settings
    task: str  # planned, 不定向, the sample item SC-AMR-001, ends 2025-09-26
    d_entity: int  # the one class-D entity in scope: its quota (50 % of 1) draws it every time
    d_uscc: str


def _add_task(settings: Settings, task_id: str, name: str = "", **options: object) -> None:
    with engine_for(settings.database_url).begin() as conn:
        if not conn.execute(select(draw_plan.c.plan_id).where(draw_plan.c.plan_id == PLAN)).first():
            add_plan(conn, PLAN, "2025年度双随机抽查计划", 2025, "市市场监督管理局")
        add_task(
            conn,
            task_id,
            PLAN,
            name or f"任务{task_id}",
            options.pop("items", ["SC-AMR-001"]),  # type: ignore[arg-type]
            options.pop("mode", "不定向"),  # type: ignore[arg-type]
            options.pop("end_date", date(2025, 9, 26)),  # type: ignore[arg-type]
            options.pop("filters", None),  # type: ignore[arg-type]
            allow_repeat=bool(options.pop("allow_repeat", False)),
        )


def _populate(
    settings: Settings, classes: dict[str | None, int], start: int
) -> list[tuple[int, str, str | None]]:
    with engine_for(settings.database_url).begin() as conn:
        made = add_entities(conn, classes, start=start)
    load_samples(settings)
    return made


@pytest.fixture
def drawable(world_copy: Settings, shows: Callable[[Settings], None]) -> Drawable:
    """The world (its own gateway keys in keys_dir) with 12 class-A entities and one class-D entity whose
    name holds markup, the sample lists, and a planned task whose name holds markup."""
    made = _populate(world_copy, {"A": 12, "D": 1}, start=700_001)
    d_entity, d_uscc, _ = made[-1]
    with engine_for(world_copy.database_url).begin() as conn:
        conn.execute(update(entity).where(entity.c.id == d_entity).values(name=MARKUP_ENTITY))
    _add_task(world_copy, "T2025-01", MARKUP_TASK)
    shows(world_copy)
    return Drawable(world_copy, "T2025-01", d_entity, d_uscc)


@pytest.fixture(scope="module")
def keys_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_keys(tmp_path_factory.mktemp("draw-page-keys") / "keys")


def state_of(settings: Settings, task_id: str) -> tuple[str, bool]:
    """The task's status and whether a draw record exists."""
    with engine_for(settings.database_url).connect() as conn:
        status = conn.execute(select(draw_task.c.status).where(draw_task.c.task_id == task_id)).scalar_one()
        stored = conn.execute(select(draw_record.c.task_id).where(draw_record.c.task_id == task_id)).first()
    return str(status), stored is not None


def drawn_objects(settings: Settings, task_id: str) -> list[tuple[int, str, str]]:
    """(entity id, USCC, stratum) of each object the task drew."""
    with engine_for(settings.database_url).connect() as conn:
        rows = conn.execute(
            select(draw_object.c.entity_id, entity.c.uscc, draw_object.c.stratum)
            .join(entity, entity.c.id == draw_object.c.entity_id)
            .where(draw_object.c.task_id == task_id)
            .order_by(entity.c.uscc)
        )
        return [(r.entity_id, r.uscc, r.stratum) for r in rows]


def stored_row(settings: Settings, task_id: str) -> dict[str, object]:
    with engine_for(settings.database_url).connect() as conn:
        return dict(conn.execute(select(draw_record).where(draw_record.c.task_id == task_id)).one()._mapping)


def row_of(html: str, task_id: str) -> str:
    """The list's table row of one task."""
    rows = [r for r in re.findall(r"<tr>(.*?)</tr>", html, re.S) if f'href="/gateway/draws/{task_id}"' in r]
    assert len(rows) == 1, task_id
    return rows[0]


def figures_of(row: str) -> list[int]:
    """drawn, results in, pending, overdue of a drawn task's row."""
    return [int(n) for n in re.findall(r'<td class="num">(?:<strong class="overdue">)?(\d+)', row)]


def listed_tasks(html: str) -> list[str]:
    return re.findall(r'href="/gateway/draws/([A-Za-z0-9._-]+)"', html)


# ------------------------------------------------------------------------------------------- refusals
def test_anonymous_requests_get_the_login_page_or_401(client: Client, drawable: Drawable) -> None:
    anonymous = client(None)
    for path in ("/gateway/draws", f"/gateway/draws/{drawable.task}"):
        answer = anonymous.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/auth/login?next=%2Fgateway%2Fdraws"), path
        assert "抽查" not in answer.text
    for action in ("draw", "verify"):
        answer = anonymous.post(
            f"/gateway/draws/{drawable.task}/{action}", data={"csrf_token": "x", "nonce": "1"}
        )
        assert answer.status_code == 401, action
    assert state_of(drawable.settings, drawable.task) == ("planned", False)


def test_a_reader_sees_the_tasks_but_may_not_draw_or_verify(client: Client, drawable: Drawable) -> None:
    viewer = client("viewer")
    listing = viewer.get("/gateway/draws")
    assert listing.status_code == 200
    assert listing.headers["content-type"] == "text/html; charset=utf-8"
    assert 'class="here">双随机抽查</a>' in listing.text  # the pages' own menu
    row = row_of(listing.text, drawable.task)
    assert "2025年度双随机抽查计划" in row and PLAN in row and "SC-AMR-001" in row and "不定向" in row
    assert "市市场监督管理局" in row and "2025-09-26" in row and "未抽取" in row and "尚未抽取" in row

    page = f"/gateway/draws/{drawable.task}"
    detail = viewer.get(page)
    assert detail.status_code == 200
    assert "企业公示信息检查" in detail.text and "未抽取" in detail.text
    assert f'action="{page}/draw"' not in detail.text and 'name="nonce"' not in detail.text
    assert "抽取需要运行 double_random_draw 的权限" in detail.text

    token = csrf_of(viewer, "/gateway/departments/xz_amr")  # a reader's valid token, from a form they have
    refused = viewer.post(f"{page}/draw", data={"csrf_token": token, "nonce": NONCE})
    assert refused.status_code == 403 and "没有执行此操作的权限" in refused.text
    assert state_of(drawable.settings, drawable.task) == ("planned", False)
    assert drawn_objects(drawable.settings, drawable.task) == []

    run_draw(drawable.settings, drawable.task, NONCE)
    drawn = viewer.get(page).text
    assert "抽中的检查对象与执法检查人员" in drawn and drawable.d_uscc in drawn
    assert f'action="{page}/verify"' not in drawn  # no verify button for a reader
    before = stored_row(drawable.settings, drawable.task)
    refused = viewer.post(f"{page}/verify", data={"csrf_token": token})
    assert refused.status_code == 403 and "复核" not in refused.text
    assert stored_row(drawable.settings, drawable.task) == before
    assert state_of(drawable.settings, drawable.task) == ("drawn", True)


def test_a_post_without_our_token_is_refused_and_draws_nothing(client: Client, drawable: Drawable) -> None:
    clerk = client("clerk")
    page = f"/gateway/draws/{drawable.task}"
    token = csrf_of(clerk, page)
    assert clerk.post(f"{page}/draw", data={"nonce": NONCE}).status_code == 403
    assert clerk.post(f"{page}/draw", data={"csrf_token": token + "x", "nonce": NONCE}).status_code == 403
    cross_site = clerk.post(
        f"{page}/draw", data={"csrf_token": token, "nonce": NONCE}, headers={"Origin": "https://evil.example"}
    )
    assert cross_site.status_code == 403 and "其他站点" in cross_site.text
    assert client("clerk").post(f"{page}/draw", data={"csrf_token": token, "nonce": NONCE}).status_code == 403
    assert state_of(drawable.settings, drawable.task) == ("planned", False)
    run_draw(drawable.settings, drawable.task, NONCE)
    refused = clerk.post(f"{page}/verify", data={})
    assert refused.status_code == 403 and "页面令牌" in refused.text and "复核通过" not in refused.text


# ----------------------------------------------------------------------------------------------- acting
def test_a_clerk_draws_with_a_witnessed_nonce_and_verifies(client: Client, drawable: Drawable) -> None:
    clerk = client("clerk")
    page = f"/gateway/draws/{drawable.task}"
    token = csrf_of(clerk, page)
    form = clerk.get(page).text
    assert f'action="{page}/draw"' in form and 'name="nonce" maxlength="128" required' in form

    for blank in ({}, {"nonce": ""}, {"nonce": "   "}):
        refused = clerk.post(f"{page}/draw", data={"csrf_token": token, **blank})
        assert refused.status_code == 400, blank
        assert "请填写见证随机数" in refused.text
    too_long = clerk.post(f"{page}/draw", data={"csrf_token": token, "nonce": "7" * 129})
    assert too_long.status_code == 400 and "不能超过 128 个字符" in too_long.text
    assert state_of(drawable.settings, drawable.task) == ("planned", False)

    done = clerk.post(f"{page}/draw", data={"csrf_token": token, "nonce": NONCE})
    assert done.status_code == 303
    assert done.headers["location"] == f"{page}?done=drawn"
    assert state_of(drawable.settings, drawable.task) == ("drawn", True)
    row = stored_row(drawable.settings, drawable.task)
    assert row["nonce"] == NONCE
    objects = drawn_objects(drawable.settings, drawable.task)
    assert (drawable.d_entity, drawable.d_uscc, "D") in objects
    strata = [s for _, _, s in objects]
    assert strata.count("D") == 1 and strata.count("A") == 1  # ceil(50 % of 1), ceil(5 % of 12)
    assert set(strata) - {"A", "D"} <= {"B"}  # the world's own entities are not classified: B
    shown = clerk.get(done.headers["location"]).text
    assert "签名的抽取记录已保存" in shown and "已抽取" in shown
    for value in (row["seed"], row["population_hash"], row["key_id"], NONCE):
        assert str(value) in shown
    assert f"候选 {row['population_size']} 户" in shown
    for entity_id, uscc, _ in objects:
        assert f'<a href="/gateway/entities/{entity_id}">{uscc}</a>' in shown
    assert "AMR-000" in shown  # the inspectors, by name and code
    # Ended 2025-09-26, so due 2025-10-30 (9-28 worked, 10-1..8 off, 10-11 worked); nothing came back.
    assert shown.count("逾期未公示") == len(objects)

    verified = clerk.post(f"{page}/verify", data={"csrf_token": token})
    assert verified.status_code == 200
    assert "复核通过" in verified.text and f"{len(objects)} 户对象" in verified.text
    assert str(row["key_id"]) in verified.text and "未通过" not in verified.text

    again = clerk.post(f"{page}/draw", data={"csrf_token": token, "nonce": "another"})
    assert again.status_code == 409 and "已抽取，抽取结果不能重做" in again.text
    assert stored_row(drawable.settings, drawable.task) == row

    listing = clerk.get("/gateway/draws").text
    drawn_row = row_of(listing, drawable.task)
    assert "已抽取" in drawn_row and "2025-10-30" in drawn_row
    assert re.search(r'已抽取</span><br><span class="muted">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d</span>', drawn_row)
    assert figures_of(drawn_row) == [len(objects), 0, 0, len(objects)]


def test_a_tampered_record_is_refused_with_the_reason(client: Client, drawable: Drawable) -> None:
    run_draw(drawable.settings, drawable.task, NONCE)
    clerk = client("clerk")
    page = f"/gateway/draws/{drawable.task}"
    token = csrf_of(clerk, page)
    assert "复核通过" in clerk.post(f"{page}/verify", data={"csrf_token": token}).text

    text = str(stored_row(drawable.settings, drawable.task)["record"])
    edited = json.loads(text)
    edited["floor"] = 0.5  # still canonical JSON, but not what was signed
    for tampered, reason in (
        (canonical(edited), "签名验证失败"),
        (text.replace(",", ", ", 1), "不是规范 JSON"),
    ):
        with engine_for(drawable.settings.database_url).begin() as conn:
            conn.execute(
                update(draw_record).where(draw_record.c.task_id == drawable.task).values(record=tampered)
            )
        refused = clerk.post(f"{page}/verify", data={"csrf_token": token})
        assert refused.status_code == 200
        assert "复核未通过，拒绝" in refused.text and reason in refused.text, reason
        assert "复核通过：" not in refused.text


def test_a_task_that_cannot_be_drawn_says_why(client: Client, drawable: Drawable) -> None:
    _add_task(drawable.settings, "T2025-EMPTY", mode="定向", filters={"area": ["149999"]})
    clerk = client("clerk")
    page = "/gateway/draws/T2025-EMPTY"
    token = csrf_of(clerk, page)
    refused = clerk.post(f"{page}/draw", data={"csrf_token": token, "nonce": NONCE})
    assert refused.status_code == 409
    assert "无法抽取" in refused.text and "没有可抽取的对象" in refused.text
    assert state_of(drawable.settings, "T2025-EMPTY") == ("planned", False)
    assert "住所行政区划" in clerk.get(page).text and "149999" in clerk.get(page).text

    assert clerk.get("/gateway/draws/NO-SUCH-TASK").status_code == 404
    for action in ("draw", "verify"):
        answer = clerk.post(
            f"/gateway/draws/NO-SUCH-TASK/{action}", data={"csrf_token": token, "nonce": NONCE}
        )
        assert answer.status_code == 404, action
    assert clerk.get("/gateway/draws", params={"page": 0}).status_code == 400


# ------------------------------------------------------------------------------------ what is shown
def test_the_stratum_is_shown_only_to_supervising_staff(client: Client, drawable: Drawable) -> None:
    """The risk class each object was drawn from, and the counts per class, only for a user who may run
    credit_classify; a reader sees the same objects and the totals."""
    run_draw(drawable.settings, drawable.task, NONCE)
    objects = drawn_objects(drawable.settings, drawable.task)
    page = f"/gateway/draws/{drawable.task}"

    seen_by_reader = client("viewer").get(page).text
    assert _STRATUM_CELL.findall(seen_by_reader) == []
    assert "类别（内部）" not in seen_by_reader and "各类别抽取数" not in seen_by_reader
    assert "stratum-count" not in seen_by_reader
    assert "仅向有权运行 credit_classify 的人员显示" in seen_by_reader
    assert all(uscc in seen_by_reader for _, uscc, _ in objects)
    assert f"抽中</dt><dd>{len(objects)} 户" in seen_by_reader

    seen_by_staff = client("clerk").get(page).text
    assert _STRATUM_CELL.findall(seen_by_staff) == [stratum for _, _, stratum in objects]
    assert "类别（内部）" in seen_by_staff and "各类别抽取数" in seen_by_staff
    counts = re.findall(r'<tr class="stratum-count"><td>(\w+)</td>', seen_by_staff)
    assert counts == sorted({"A", "D"} | {s for _, _, s in objects})


def test_results_pending_and_overdue_and_paging(client: Client, drawable: Drawable) -> None:
    """Newest first, 50 a page; a drawn task's results from spot_check records: one object's result in,
    the others overdue (ended 2025-09-26); a task ending in 2099 has no deadline yet (the calendar does not
    cover the year), so its objects are pending."""
    settings = drawable.settings
    for n in range(1, 56):
        _add_task(settings, f"T2025-P{n:03d}")
    _add_task(settings, "T2025-FAR", end_date=date(2099, 6, 30), allow_repeat=True)
    run_draw(settings, drawable.task, NONCE)
    run_draw(settings, "T2025-FAR", NONCE)
    objects = drawn_objects(settings, drawable.task)
    checked_id, checked_uscc, _ = objects[0]
    with engine_for(settings.database_url).begin() as conn:
        add_records(
            conn,
            "spot_check",
            [
                (
                    checked_id,
                    "CHK-PAGES-1",
                    {
                        "CheckId": "CHK-PAGES-1",
                        "InspectPlanId": PLAN,
                        "InspectTaskId": drawable.task,
                        "InspectDate": "2025-09-20",
                        "UniscId": checked_uscc,
                        "InspectResult": "未发现问题",
                    },
                )
            ],
        )

    viewer = client("viewer")
    first = viewer.get("/gateway/draws").text
    listed = listed_tasks(first)
    assert listed[:3] == ["T2025-FAR", "T2025-P055", "T2025-P054"] and len(listed) == 50
    assert "第 1 / 2 页，共 57 条" in first and 'href="/gateway/draws?page=2" rel="next"' in first
    second = viewer.get("/gateway/draws", params={"page": 2}).text
    assert listed_tasks(second) == [f"T2025-P{n:03d}" for n in range(6, 0, -1)] + [drawable.task]
    assert listed_tasks(viewer.get("/gateway/draws", params={"page": 9}).text) == listed_tasks(second)

    far = drawn_objects(settings, "T2025-FAR")
    far_row = row_of(first, "T2025-FAR")
    assert "未知" in far_row and figures_of(far_row) == [len(far), 0, len(far), 0]
    drawn_row = row_of(second, drawable.task)
    assert figures_of(drawn_row) == [len(objects), 1, 0, len(objects) - 1]

    detail = viewer.get(f"/gateway/draws/{drawable.task}").text
    assert "已有结果：未发现问题（2025-09-20）" in detail
    assert detail.count("逾期未公示") == len(objects) - 1
    assert "2025-10-30（检查结束后 20 个工作日）" in detail
    far_detail = viewer.get("/gateway/draws/T2025-FAR").text
    assert "无法计算公示期限" in far_detail and far_detail.count("待公示</span>") == len(far)


def test_every_value_is_escaped(client: Client, drawable: Drawable) -> None:
    clerk = client("clerk")
    page = f"/gateway/draws/{drawable.task}"
    token = csrf_of(clerk, page)
    assert clerk.post(f"{page}/draw", data={"csrf_token": token, "nonce": MARKUP_NONCE}).status_code == 303
    for html in (clerk.get("/gateway/draws").text, clerk.get(page).text):
        assert "<script>" not in html and "<img" not in html and "<b " not in html
        assert "&lt;script&gt;alert(&#34;抽查&#34;)&lt;/script&gt;企业公示信息检查" in html
    detail = clerk.get(page).text
    assert "&lt;img src=x onerror=alert(7)&gt;忻州&#34;抽查&#34;测试店" in detail
    assert "&lt;b onmouseover=&#34;x&#34;&gt;0731&lt;/b&gt;" in detail
    verified = clerk.post(f"{page}/verify", data={"csrf_token": token}).text
    assert "复核通过" in verified and "<img" not in verified


# ---------------------------------------------------------------------------------- both databases
def test_the_pages_on_sqlite_and_postgresql(
    client: Client, settings: Settings, keys_template: Path, shows: Callable[[Settings], None]
) -> None:
    """A small city on the parametrised database: no key, no draw; with the gateway's keys, a clerk
    draws from the page, the list and the task show it, and it verifies."""
    _populate(settings, {"A": 30, "B": 20, "C": 6, "D": 2}, start=1)
    _add_task(settings, "T1")
    shows(settings)
    clerk = client("clerk")
    token = csrf_of(clerk, "/gateway/draws/T1")

    unsigned = clerk.post("/gateway/draws/T1/draw", data={"csrf_token": token, "nonce": NONCE})
    assert unsigned.status_code == 500 and "网关的签名密钥不可用，未进行抽取" in unsigned.text
    assert state_of(settings, "T1") == ("planned", False)

    install_keys(keys_template, settings)
    assert clerk.post("/gateway/draws/T1/draw", data={"csrf_token": token, "nonce": NONCE}).status_code == 303
    objects = drawn_objects(settings, "T1")
    # ceil: A 5 % of 30 → 2, B 15 % of 20 → 3, C 30 % of 6 → 2, D 50 % of 2 → 1; over the 3 % floor
    assert sorted(s for _, _, s in objects) == ["A", "A", "B", "B", "B", "C", "C", "D"]
    shown = clerk.get("/gateway/draws/T1").text
    assert _STRATUM_CELL.findall(shown) == [s for _, _, s in objects]
    assert "复核通过：8 户对象" in clerk.post("/gateway/draws/T1/verify", data={"csrf_token": token}).text
    assert figures_of(row_of(clerk.get("/gateway/draws").text, "T1")) == [8, 0, 0, 8]
