"""Credentials and roles: 401 without a valid credential, the risk class only for the internal role, the log
only for auditors, a revoked key refused."""

from __future__ import annotations

from fastapi.testclient import TestClient

from gateway.credit.lookup.keys import revoke
from gateway.store.db import engine_for
from tests.gateway.credit.lookup.conftest import USCC, World, bearer


def _get(client: TestClient, path: str, headers: dict[str, str]) -> object:
    return client.get(path, params={"matter": "XK-2026-0002"}, headers=headers)


def test_no_key_a_wrong_key_and_a_revoked_key_are_refused(client: TestClient, world: World) -> None:
    path = f"/v1/standing/{USCC}"
    missing = client.get(path, params={"matter": "m"})
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "credential_missing"
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    good = world.keys["xz-tax"]
    forged = good[: good.rindex("_") + 1] + "A" * 43  # the right key id, another secret
    for key in (forged, "gwl_nonsense", "Basic dXNlcjpwYXNz"):
        refused = client.get(path, params={"matter": "m"}, headers={"Authorization": f"Bearer {key}"})
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "credential_invalid", key
    revoked = client.get(path, params={"matter": "m"}, headers=bearer(world, "gone"))
    assert revoked.status_code == 401 and revoked.json()["error"]["code"] == "credential_revoked"
    assert client.get(path, params={"matter": "m"}, headers={"X-API-Key": good}).status_code == 200


def test_a_key_revoked_while_the_server_runs_is_refused_at_once(client: TestClient, world: World) -> None:
    """The server remembers callers it has seen; a revocation still holds from the very next request,
    because no answer leaves without a log row, and the row is written only for a caller not revoked."""
    tax = bearer(world, "xz-tax")
    path = f"/v1/standing/{USCC}"
    assert client.get(path, params={"matter": "m"}, headers=tax).status_code == 200
    with engine_for(world.settings.database_url).begin() as conn:
        revoke(conn, "xz-tax")
    refused = client.get(path, params={"matter": "m"}, headers=tax)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "credential_revoked"
    assert "忻州市恒通商贸有限公司" not in refused.text
    again = client.get(f"/v1/report/{USCC}.pdf", params={"matter": "m"}, headers=tax)
    assert again.status_code == 401
    with engine_for(world.settings.database_url).connect() as conn:
        outcomes = conn.exec_driver_sql("SELECT outcome FROM lookup_query").scalars().all()
    assert outcomes == ["found"]  # the refused requests left no row: there was no caller to answer


def test_only_the_internal_role_sees_the_risk_class(client: TestClient, world: World) -> None:
    department = _get(client, f"/v1/standing/{USCC}", bearer(world, "xz-tax")).json()
    internal = _get(client, f"/v1/standing/{USCC}", bearer(world, "xz-amr")).json()
    assert "risk" not in department
    risk = internal["risk"]
    # the latest *finished* run is 2026-11 (the December run is still running)
    assert (risk["class"], risk["period"], risk["label"]) == ("D", "2026-11", "信用风险高")
    assert "内部参考" in risk["notice"] and "国市监信发〔2022〕6号" in risk["notice"]
    department_html = client.get(
        f"/v1/report/{USCC}.html", params={"matter": "m"}, headers=bearer(world, "xz-tax")
    ).text
    assert "信用风险分类" not in department_html and "内部参考" not in department_html


def test_the_auditor_reads_the_log_and_nothing_else(client: TestClient, world: World) -> None:
    _get(client, f"/v1/standing/{USCC}", bearer(world, "xz-tax"))
    log = client.get("/v1/queries", headers=bearer(world, "audit"))
    assert log.status_code == 200 and log.json()["items"][0]["outcome"] == "audit_read"
    for caller in ("xz-tax", "xz-amr"):
        refused = client.get("/v1/queries", headers=bearer(world, caller))
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "role_forbidden"
    lookup = _get(client, f"/v1/standing/{USCC}", bearer(world, "audit"))
    assert lookup.status_code == 403 and lookup.json()["outcome"] == "forbidden"
    report = _get(client, f"/v1/report/{USCC}.pdf", bearer(world, "audit"))
    assert report.status_code == 403


def test_forbidden_attempts_are_logged(client: TestClient, world: World) -> None:
    _get(client, f"/v1/standing/{USCC}", bearer(world, "audit"))
    client.get("/v1/queries", headers=bearer(world, "xz-tax"))
    with engine_for(world.settings.database_url).connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT c.name, q.outcome FROM lookup_query q JOIN lookup_caller c ON c.id = q.caller_id"
            " ORDER BY q.id"
        ).all()
    assert [tuple(r) for r in rows] == [("audit", "forbidden"), ("xz-tax", "forbidden")]


def test_health_needs_no_credential(client: TestClient) -> None:
    answer = client.get("/v1/health")
    assert answer.status_code == 200 and answer.json()["status"] == "ok"
