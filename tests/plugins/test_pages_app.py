"""The pages' FastAPI app with TestClient, mounted as Airflow's API server mounts it.

The app under test is built by Airflow's own code: ``init_plugins`` (which mounts every plugin's
``fastapi_apps`` under its ``url_prefix``) and ``init_auth_manager`` (the simple auth manager, with the
users of tests/plugins/conftest.py, and its login routes under /auth) on a bare FastAPI app — Airflow's
full API (some 600 routes) is left out to keep this module fast; the browser tests run the real
``airflow api-server``. Logins are JWTs from the auth manager, in the ``_token`` cookie as the UI sets it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi import FastAPI
from sqlalchemy import func, select

from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.tables import delivery_batch, resolution_queue, source_file
from tests.plugins import world
from tests.plugins.conftest import Client, csrf_of

PAGES = (
    "/gateway/departments",
    "/gateway/departments/xz_amr",
    "/gateway/queue",
    "/gateway/deliveries",
    "/gateway/deliveries?status=dead",
    "/gateway/entities?q=忻州",
)


def batch_status(settings: Settings, batch_id: str) -> str:
    with engine_for(settings.database_url).connect() as conn:
        return str(
            conn.execute(
                select(delivery_batch.c.status).where(delivery_batch.c.batch_id == batch_id)
            ).scalar_one()
        )


def dead_batch(settings: Settings) -> str:
    with engine_for(settings.database_url).connect() as conn:
        return str(
            conn.execute(
                select(delivery_batch.c.batch_id).where(delivery_batch.c.status == "dead")
            ).scalar_one()
        )


def file_id(settings: Settings, department: str, name: str) -> int:
    with engine_for(settings.database_url).connect() as conn:
        return int(
            conn.execute(
                select(func.min(source_file.c.id)).where(
                    source_file.c.source_id == department, source_file.c.file_name == name
                )
            ).scalar_one()
        )


# ------------------------------------------------------------------------------------------- refusals


def test_the_plugin_mounts_the_pages_under_gateway(airflow_app: FastAPI) -> None:
    mounted = {getattr(route, "path", None) for route in airflow_app.routes}
    assert "/gateway" in mounted
    assert "/auth" in mounted


def test_anonymous_requests_get_the_login_page_or_401(
    client: Client, seeded: Settings, shows: Callable[[Settings], None]
) -> None:
    shows(seeded)
    anonymous = client(None)
    for path in PAGES:
        answer = anonymous.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/auth/login?next=%2Fgateway%2F"), path
        assert "xz_amr" not in answer.text and "忻州" not in answer.text
    dead = dead_batch(seeded)
    for path in (
        f"/gateway/deliveries/{dead}/retry",
        "/gateway/queue/1/resolve",
        "/gateway/departments/xz_amr/submit",
    ):
        answer = anonymous.post(path, data={"csrf_token": "x"})
        assert answer.status_code == 401, path
    assert batch_status(seeded, dead) == "dead"


def test_a_forged_or_foreign_token_is_not_a_login(
    client: Client, seeded: Settings, shows: Callable[[Settings], None]
) -> None:
    shows(seeded)
    forged = client(None)
    forged.cookies.set("_token", "eyJhbGciOiJIUzUxMiJ9.eyJzdWIiOiJhZG1pbiIsInJvbGUiOiJBRE1JTiJ9.c2lnbmF0dXJl")
    assert forged.get("/gateway/departments").status_code == 303
    bearer = client(None)
    assert bearer.get("/gateway/queue", headers={"Authorization": "Bearer not-a-jwt"}).status_code == 303


def test_a_reader_sees_every_page_but_may_not_act(
    client: Client, world_copy: Settings, shows: Callable[[Settings], None]
) -> None:
    shows(world_copy)
    viewer = client("viewer")
    for path in PAGES:
        answer = viewer.get(path)
        assert answer.status_code == 200, path
        assert answer.headers["content-type"] == "text/html; charset=utf-8"
        assert "frame-ancestors 'self'" in answer.headers["content-security-policy"]
        assert "script-src" not in answer.headers["content-security-policy"]  # default-src 'none' covers it
    dead = dead_batch(world_copy)
    token = csrf_of(viewer, f"/gateway/deliveries/{dead}")
    refused = viewer.post(f"/gateway/deliveries/{dead}/retry", data={"csrf_token": token})
    assert refused.status_code == 403
    assert "没有执行此操作的权限" in refused.text
    refused = viewer.post(
        "/gateway/queue/1/resolve", data={"csrf_token": token, "uscc": world.CANDIDATE_USCC}
    )
    assert refused.status_code == 403
    assert batch_status(world_copy, dead) == "dead"


# ----------------------------------------------------------------------------------------------- CSRF


def test_a_post_without_our_token_is_refused_and_changes_nothing(
    client: Client, world_copy: Settings, shows: Callable[[Settings], None]
) -> None:
    shows(world_copy)
    clerk = client("clerk")
    dead = dead_batch(world_copy)
    retry = f"/gateway/deliveries/{dead}/retry"
    token = csrf_of(clerk, f"/gateway/deliveries/{dead}")

    assert clerk.post(retry, data={}).status_code == 403  # no token in the form
    assert clerk.post(retry, data={"csrf_token": token + "x"}).status_code == 403  # a wrong one
    other = client("viewer")
    theirs = csrf_of(other, "/gateway/departments/xz_amr")
    clerk.cookies.set("gateway_pages_csrf", other.cookies.get("gateway_pages_csrf") or "")
    assert clerk.post(retry, data={"csrf_token": theirs}).status_code == 403  # another user's pair
    fresh = client("clerk")  # our token, but the cookie it is bound to did not come along
    assert fresh.post(retry, data={"csrf_token": token}).status_code == 403
    assert batch_status(world_copy, dead) == "dead"

    clerk = client("clerk")
    token = csrf_of(clerk, f"/gateway/deliveries/{dead}")
    cross_site = clerk.post(retry, data={"csrf_token": token}, headers={"Origin": "https://evil.example"})
    assert cross_site.status_code == 403
    assert "其他站点" in cross_site.text
    assert batch_status(world_copy, dead) == "dead"

    done = clerk.post(retry, data={"csrf_token": token}, headers={"Origin": "http://testserver"})
    assert done.status_code == 303
    assert done.headers["location"] == f"/gateway/deliveries/{dead}?retried=dead"
    assert batch_status(world_copy, dead) == "sent"  # it was pushed once: the same envelope goes again
    assert "死信批次已重新打开" in clerk.get(done.headers["location"]).text


# -------------------------------------------------------------------------------- what the pages show


def test_every_value_is_escaped(client: Client, seeded: Settings, shows: Callable[[Settings], None]) -> None:
    shows(seeded)
    viewer = client("viewer")
    listing = viewer.get("/gateway/departments/xz_amr").text
    assert "<img src=x" not in listing
    assert "&lt;img src=x onerror=alert(1)&gt;处罚台账.csv" in listing
    receipt = viewer.get(f"/gateway/departments/xz_amr/files/{file_id(seeded, 'xz_amr', world.HOSTILE_NAME)}")
    assert receipt.status_code == 200
    assert "<script>" not in receipt.text
    assert "&lt;script&gt;alert(&#34;gw&#34;)&lt;/script&gt;" in receipt.text
    assert "<img" not in receipt.text


def test_chinese_is_sent_as_utf8_and_shown_with_a_cjk_font(
    client: Client, seeded: Settings, shows: Callable[[Settings], None]
) -> None:
    shows(seeded)
    viewer = client("viewer")
    answer = viewer.get("/gateway/departments/xz_amr")
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    html = answer.content.decode("utf-8")
    assert '<html lang="zh-CN">' in html and '<meta charset="utf-8">' in html
    assert '"Noto Sans CJK SC"' in html  # the font stack of the inline stylesheet
    # The market regulator's export is GBK; its name and rows arrive as Chinese, not mojibake.
    assert "2026年10月行政处罚信息.csv" in html
    receipt = viewer.get(
        f"/gateway/departments/xz_amr/files/{file_id(seeded, 'xz_amr', '2026年10月行政处罚信息.csv')}"
    )
    assert "部分接收" in receipt.text and '<th class="num">行号</th>' in receipt.text


def test_rejected_rows_are_paged(client: Client, seeded: Settings, shows: Callable[[Settings], None]) -> None:
    shows(seeded)
    viewer = client("viewer")
    base = f"/gateway/departments/xz_amr/files/{file_id(seeded, 'xz_amr', world.MANY_ERRORS_NAME)}"

    def rows_on(html: str) -> list[int]:
        return [int(n) for n in re.findall(r'<td class="num">(\d+)</td>\s*<td>处罚决定日期</td>', html)]

    first = viewer.get(base).text
    assert rows_on(first) == list(range(2, 52))  # spreadsheet rows: the header is row 1
    assert "第 1 / 3 页，共 120 条" in first
    assert f'href="{base}?page=2" rel="next"' in first
    last = viewer.get(f"{base}?page=3").text
    assert rows_on(last) == list(range(102, 122))
    assert 'rel="next"' not in last and f'href="{base}?page=2" rel="prev"' in last
    assert rows_on(viewer.get(f"{base}?page=99").text) == list(range(102, 122))  # past the end: the last page
    assert viewer.get(f"{base}?page=0").status_code == 400


def test_deliveries_show_states_receipts_and_dead_letters(
    client: Client, seeded: Settings, shows: Callable[[Settings], None]
) -> None:
    shows(seeded)
    viewer = client("viewer")
    listing = viewer.get("/gateway/deliveries").text
    assert "已确认" in listing and "死信" in listing
    dead_only = viewer.get("/gateway/deliveries?status=dead").text
    assert dead_batch(seeded) in dead_only
    assert "hub_unavailable" in dead_only
    with engine_for(seeded.database_url).connect() as conn:
        acknowledged = conn.execute(
            select(delivery_batch.c.batch_id).where(delivery_batch.c.status == "acknowledged")
        ).first()
    assert acknowledged is not None
    detail = viewer.get(f"/gateway/deliveries/{acknowledged.batch_id}").text
    assert "省级平台回执" in detail and "网关在收到时已用平台登记的回执公钥验证通过" in detail
    assert "envelope_sha256" in detail
    assert viewer.get("/gateway/deliveries?status=lost").status_code == 400
    assert viewer.get("/gateway/deliveries/no-such-batch").status_code == 404


def test_an_entity_is_found_by_code_or_name_with_its_records(
    client: Client, seeded: Settings, shows: Callable[[Settings], None]
) -> None:
    shows(seeded)
    viewer = client("viewer")
    # The market regulator's sample names this USCC first (as 忻州市晋北商贸有限公司); the page test file
    # then sends ten more penalties about it.
    by_code = viewer.get("/gateway/entities", params={"q": "91140902-ma0k2b3c30"}).text
    link = re.search(r'href="(/gateway/entities/\d+)">忻州市晋北商贸有限公司</a>', by_code)
    assert link is not None, by_code[-3000:]
    by_name = viewer.get("/gateway/entities", params={"q": "晋北 商贸"}).text  # spaces do not matter
    assert link.group(0) in by_name
    profile = viewer.get(link.group(1)).text
    assert "关联的记录（按类型与来源）" in profile
    assert re.search(
        r"行政处罚</a></td>\s*<td>xz_amr</td>\s*<td>部门文件</td>\s*<td class=\"num\">(\d+)</td>", profile
    )
    one_type = viewer.get(link.group(1), params={"type": "admin_penalty"}).text
    assert "显示全部类型" in one_type and "忻页测罚〔2026〕2号" in one_type


def test_a_repaired_record_stays_in_the_entity_history_marked_as_such(
    client: Client, world_copy: Settings, shows: Callable[[Settings], None]
) -> None:
    """A repair takes the record out of every feed, not out of the entity's history: the page lists it as
    已信用修复 (and one whose publicity ended as 公示期满已撤下)."""
    from datetime import UTC, datetime

    from gateway.store.tables import record
    from gateway.store.withdrawals import withdraw

    with engine_for(world_copy.database_url).begin() as conn:
        penalties = conn.execute(
            select(record.c.id, record.c.entity_id).where(
                record.c.record_type == "admin_penalty", record.c.natural_key.contains("忻页测罚〔2026〕2号")
            )
        ).all()
        (repaired, entity_id), *_ = penalties
        withdraw(conn, [repaired], status="repaired", actor="test", now=datetime.now(UTC))
    shows(world_copy)
    page = client("viewer").get(f"/gateway/entities/{entity_id}", params={"type": "admin_penalty"}).text
    assert re.search(
        r"忻页测罚〔2026〕2号</td>\s*<td><span class=\"status status-repaired\">已信用修复", page
    )


def test_the_risk_class_is_shown_only_to_supervising_staff(
    client: Client, world_copy: Settings, shows: Callable[[Settings], None]
) -> None:
    """Internal: a reader sees the entity and nothing of its class; a user who may run credit_classify sees
    the class per month and the records behind the latest one's points."""
    from gateway.credit.risk.service import run

    run(world_copy, "2026-11")
    shows(world_copy)
    found = client("viewer").get("/gateway/entities", params={"q": "91140902MA0K2B3C30"}).text
    link = re.search(r'href="(/gateway/entities/\d+)">忻州市晋北商贸有限公司</a>', found)
    assert link is not None, found[-2000:]
    seen_by_reader = client("viewer").get(link.group(1)).text
    assert "关联的记录（按类型与来源）" in seen_by_reader
    assert "信用风险分类" not in seen_by_reader and "扣分" not in seen_by_reader
    seen_by_staff = client("clerk").get(link.group(1)).text
    assert "信用风险分类（内部使用，不对外公开）" in seen_by_staff
    assert re.search(r"<td>2026-11</td>\s*<td>[ABCD] 信用风险", seen_by_staff)
    assert "行政处罚（近三年）" in seen_by_staff  # the sample's penalties about this entity cost it points


# ------------------------------------------------------------------------------------------- actions


def test_resolving_from_the_queue_attaches_the_record(
    client: Client, world_copy: Settings, shows: Callable[[Settings], None]
) -> None:
    shows(world_copy)
    clerk = client("clerk")
    queue = clerk.get("/gateway/queue").text
    assert "偏关县老牛湾石料厂" in queue
    assert world.CANDIDATE_USCC in queue and "名称相近" in queue
    action = re.search(r'action="(/gateway/queue/(\d+)/resolve)"', queue)
    assert action is not None
    token = csrf_of(clerk, "/gateway/queue")
    done = clerk.post(
        action.group(1), data={"csrf_token": token, "candidate": world.CANDIDATE_USCC, "page": "1"}
    )
    assert done.status_code == 303
    assert "已关联到所选主体" in clerk.get(done.headers["location"]).text
    with engine_for(world_copy.database_url).connect() as conn:
        entry = conn.execute(
            select(resolution_queue.c.resolved_by, resolution_queue.c.resolved_at).where(
                resolution_queue.c.id == int(action.group(2))
            )
        ).one()
    assert entry.resolved_by == "clerk" and entry.resolved_at is not None
    again = clerk.post(action.group(1), data={"csrf_token": token, "candidate": world.CANDIDATE_USCC})
    assert again.status_code == 400 and "already resolved" in again.text


def test_checking_a_file_from_the_page_stores_nothing(
    client: Client, world_copy: Settings, shows: Callable[[Settings], None]
) -> None:
    shows(world_copy)
    viewer = client("viewer")  # checking needs read access only
    token = csrf_of(viewer, "/gateway/departments/xz_amr")
    with engine_for(world_copy.database_url).connect() as conn:
        before = conn.execute(select(func.count()).select_from(source_file)).scalar_one()
    answer = viewer.post(
        "/gateway/departments/xz_amr/check",
        data={"csrf_token": token},
        files={"file": ("新的处罚台账.csv", world.hostile_file(), "text/csv")},
    )
    assert answer.status_code == 200, answer.text[:1000]
    assert "这是检查结果，文件未入库" in answer.text
    assert "部分接收" in answer.text and "&lt;script&gt;" in answer.text
    with engine_for(world_copy.database_url).connect() as conn:
        assert conn.execute(select(func.count()).select_from(source_file)).scalar_one() == before
    assert list((world_copy.dropzone / "xz_amr" / "inbox").iterdir()) == []


def test_dropping_a_file_from_the_page_is_the_drop_folder(
    client: Client, world_copy: Settings, shows: Callable[[Settings], None]
) -> None:
    shows(world_copy)
    viewer, clerk = client("viewer"), client("clerk")
    upload = {
        "file": (
            "十一月处罚台账.csv",
            world.many_errors_file().replace(b"2026-13-45", b"2026-11-05"),
            "text/csv",
        )
    }
    token = csrf_of(viewer, "/gateway/departments/xz_amr")
    refused = viewer.post("/gateway/departments/xz_amr/submit", data={"csrf_token": token}, files=upload)
    assert refused.status_code == 403

    token = csrf_of(clerk, "/gateway/departments/xz_amr")
    answer = clerk.post("/gateway/departments/xz_amr/submit", data={"csrf_token": token}, files=upload)
    assert answer.status_code == 200, answer.text[:1000]
    assert "文件已处理并归档" in answer.text and "全部接收" in answer.text
    archived = list((world_copy.dropzone / "xz_amr" / "processed").rglob("*十一月处罚台账.csv"))
    assert len(archived) == 1
    assert archived[0].with_name(archived[0].name + ".receipt.txt").is_file()
    assert list((world_copy.dropzone / "xz_amr" / "inbox").iterdir()) == []
    receipt = re.search(r'href="(/gateway/departments/xz_amr/files/\d+)">查看回执', answer.text)
    assert receipt is not None
    assert "十一月处罚台账.csv" in clerk.get(receipt.group(1)).text

    token = csrf_of(clerk, "/gateway/departments/xz_amr")
    again = clerk.post("/gateway/departments/xz_amr/submit", data={"csrf_token": token}, files=upload)
    assert "内容完全相同，未重复入库" in again.text


def test_unknown_departments_and_files_are_not_found(
    client: Client, seeded: Settings, shows: Callable[[Settings], None]
) -> None:
    shows(seeded)
    viewer = client("viewer")
    assert viewer.get("/gateway/departments/no_such_department").status_code == 404
    assert viewer.get("/gateway/departments/..%2F..%2Fetc").status_code == 404
    elsewhere = file_id(seeded, "xz_12345", "投诉举报工单.csv")
    assert viewer.get(f"/gateway/departments/xz_12345/files/{elsewhere}").status_code == 200
    assert viewer.get(f"/gateway/departments/xz_ecology/files/{elsewhere}").status_code == 404
    assert viewer.get("/gateway/entities/999999").status_code == 404
