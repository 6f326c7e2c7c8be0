"""Every query is logged — who, when, which code, entity, matter, outcome, report number, format — committed
before the answer leaves; never a whole personal ID number; the auditor reads it back filtered."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from gateway.credit.lookup import querylog
from gateway.credit.lookup.cli import app as cli
from gateway.store.db import engine_for
from tests.gateway.credit.lookup.conftest import PERSON_ID, REG_NO, UNKNOWN_USCC, USCC, World, bearer

WRONG_CHECK = USCC[:-1] + ("0" if USCC[-1] != "0" else "1")


def _log(world: World) -> list[dict[str, Any]]:
    with engine_for(world.settings.database_url).connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT c.name, q.code, q.code_kind, q.entity_id, q.matter, q.outcome, q.report_no, q.format,"
            " q.at FROM lookup_query q JOIN lookup_caller c ON c.id = q.caller_id ORDER BY q.id"
        ).all()
    return [dict(r._mapping) for r in rows]


def test_every_outcome_is_logged_with_caller_matter_and_report(client: TestClient, world: World) -> None:
    tax = bearer(world, "xz-tax")
    asked = [
        (f"/v1/standing/{USCC}", {"matter": "XK-2026-0100"}, tax),
        (f"/v1/report/{REG_NO}.pdf", {"matter": "XK-2026-0101"}, tax),
        (f"/v1/standing/{UNKNOWN_USCC}", {"matter": "XK-2026-0102"}, tax),
        (f"/v1/standing/{WRONG_CHECK}", {"matter": "XK-2026-0103"}, tax),
        ("/v1/standing/12345", {"matter": "XK-2026-0104"}, tax),
        (f"/v1/standing/{USCC}", {}, tax),
        (f"/v1/report/{USCC}.html", {"matter": "审计抽查"}, bearer(world, "audit")),
    ]
    answers = [client.get(path, params=params, headers=headers) for path, params, headers in asked]
    rows = _log(world)
    assert [(r["name"], r["outcome"], r["format"]) for r in rows] == [
        ("xz-tax", "found", "json"),
        ("xz-tax", "found", "pdf"),
        ("xz-tax", "unknown", "json"),
        ("xz-tax", "bad_check", "json"),
        ("xz-tax", "malformed", "json"),
        ("xz-tax", "bad_matter", "json"),
        ("audit", "forbidden", "html"),
    ]
    assert [r["matter"] for r in rows] == [*(f"XK-2026-010{n}" for n in range(5)), "", "审计抽查"]
    found, pdf, unknown = rows[0], rows[1], rows[2]
    assert (found["code"], found["code_kind"], found["entity_id"]) == (USCC, "uscc", world.ids["entity"])
    assert (pdf["code"], pdf["code_kind"], pdf["entity_id"]) == (REG_NO, "reg_no", world.ids["entity"])
    assert found["report_no"] == answers[0].json()["report_no"]
    assert pdf["report_no"] == answers[1].headers["X-Report-No"]
    assert unknown["report_no"] == answers[2].json()["report_no"] and unknown["entity_id"] is None
    assert all(r["report_no"] is None for r in rows[3:])
    assert answers[5].status_code == 400 and answers[5].json()["error"]["code"] == "matter_required"


def test_personal_id_numbers_are_masked_in_the_log(client: TestClient, world: World) -> None:
    client.get(
        f"/v1/standing/{PERSON_ID}",
        params={"matter": f"张三 {PERSON_ID} 的申请"},
        headers=bearer(world, "xz-tax"),
    )
    row = _log(world)[0]
    assert PERSON_ID not in row["code"] and PERSON_ID not in row["matter"]
    assert row["code"] == "110105********002X" and row["matter"] == "张三 110105********002X 的申请"


def test_no_answer_leaves_when_the_log_cannot_be_written(
    client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: object, raw: object, entry: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(querylog.QueryLog, "_insert_row", broken)
    answer = client.get(f"/v1/standing/{USCC}", params={"matter": "m"}, headers=bearer(world, "xz-amr"))
    assert answer.status_code == 503 and answer.json() == {
        "error": {"code": "log_unavailable", "message": answer.json()["error"]["message"]}
    }
    assert "忻州市恒通商贸有限公司" not in answer.text
    monkeypatch.undo()
    assert _log(world) == []


def test_the_auditor_filters_by_caller_entity_and_day(client: TestClient, world: World) -> None:
    client.get(f"/v1/standing/{USCC}", params={"matter": "a"}, headers=bearer(world, "xz-tax"))
    client.get(f"/v1/standing/{REG_NO}", params={"matter": "b"}, headers=bearer(world, "xz-amr"))
    client.get(f"/v1/standing/{UNKNOWN_USCC}", params={"matter": "c"}, headers=bearer(world, "xz-amr"))
    audit = bearer(world, "audit")

    def items(**params: Any) -> list[dict[str, Any]]:
        answer = client.get("/v1/queries", params=params, headers=audit)
        assert answer.status_code == 200, answer.text
        return [i for i in answer.json()["items"] if i["outcome"] != "audit_read"]

    assert [i["matter"] for i in items(caller="xz-amr")] == ["c", "b"]
    assert [i["matter"] for i in items(entity=USCC)] == ["b", "a"]  # asked by USCC and by reg. no.
    assert [i["matter"] for i in items(entity=UNKNOWN_USCC)] == ["c"]
    assert [i["matter"] for i in items(outcome="unknown")] == ["c"]
    today = world.today.isoformat()
    assert len(items(since=today, until=today)) == 3
    assert items(until=(world.today - timedelta(days=1)).isoformat()) == []
    page = {"caller": "xz-amr", "limit": 1}
    first = client.get("/v1/queries", params=page, headers=audit).json()
    assert [i["matter"] for i in first["items"]] == ["c"] and first["next_before"] == first["items"][0]["id"]
    rest = client.get("/v1/queries", params=page | {"before": first["next_before"]}, headers=audit).json()
    assert [i["matter"] for i in rest["items"]] == ["b"] and rest["next_before"] is None  # the last page
    row = items(caller="xz-tax")[0]
    assert (row["entity_uscc"], row["entity_name"], row["department"]) == (
        USCC,
        "忻州市恒通商贸有限公司",
        "忻州市税务局",
    )


def test_the_cli_reads_the_log(client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    client.get(f"/v1/standing/{USCC}", params={"matter": "XK-9"}, headers=bearer(world, "xz-tax"))
    monkeypatch.setenv("GATEWAY_HOME", str(world.settings.home))
    monkeypatch.setenv("GATEWAY_DATABASE_URL", world.settings.database_url)
    done = CliRunner().invoke(cli, ["queries", "--caller", "xz-tax", "--json"])
    assert done.exit_code == 0, done.output
    [row] = json.loads(done.output)
    assert (row["code"], row["matter"], row["outcome"]) == (USCC, "XK-9", "found")
    table = CliRunner().invoke(cli, ["queries", "--entity", USCC])
    assert table.exit_code == 0 and "XK-9" in table.output
