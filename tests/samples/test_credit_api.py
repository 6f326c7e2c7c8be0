"""The credit stand-in: its data is realistic and valid, it pages and filters like the real systems, it checks
signatures and tokens, and it misbehaves on request."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests

from gateway.ids import regno, uscc
from hub.server import ServerThread
from samples.standins.credit_api import (
    DATASETS,
    DEFAULT_DATA,
    DEMO_APP_KEY,
    DEMO_APP_SECRET,
    DEMO_TOKEN,
    Faults,
    StandIn,
    create_app,
)

BEIJING = timezone(timedelta(hours=8))
XINZHOU = re.compile(r"14(09\d\d|22\d\d)")  # current 1409xx and pre-2000 忻州地区 1422xx division codes


def records(dataset: str) -> list[dict[str, Any]]:
    return json.loads((DEFAULT_DATA / f"{dataset}.json").read_text(encoding="utf-8"))


def subject_codes(record: dict[str, Any]) -> tuple[str | None, str | None]:
    """(USCC, registration number) of the entity a record is about, in either system's field names."""
    subject = record.get("subject") or record.get("promisor") or {}
    code = record.get("UNISCID", subject.get("creditCode", subject.get("code")))
    return code, record.get("REGNO", subject.get("regNo"))


def signed_get(
    base: str, path: str, params: dict[str, str], *, secret: str = DEMO_APP_SECRET
) -> requests.Response:
    """Sign by the contract in docs/connectors.md, written out literally rather than with the connector."""
    query = "&".join(
        f"{k}={v}"
        for k, v in sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in params.items())
    )
    timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
    message = f"GET\n{path}\n{query}\n{timestamp}\n{nonce}"
    headers = {
        "X-App-Key": DEMO_APP_KEY,
        "X-Timestamp": timestamp,
        "X-Nonce": nonce,
        "X-Signature": hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest(),
    }
    return http().get(f"{base}{path}?{query}", headers=headers, timeout=10)


def http() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    return session


def token_get(base: str, path: str, params: dict[str, str], token: str = DEMO_TOKEN) -> requests.Response:
    return http().get(base + path, params=params, headers={"Authorization": f"Bearer {token}"}, timeout=10)


@pytest.fixture
def run() -> Iterator[Any]:
    threads: list[ServerThread] = []

    def start(**options: Any) -> tuple[str, StandIn]:
        app = create_app(DEFAULT_DATA, **options)
        thread = ServerThread(app)
        threads.append(thread)
        return thread.start(), app.state.standin

    yield start
    for thread in threads:
        thread.stop()


@pytest.fixture
def base(run: Any) -> str:
    url, _ = run()
    return url


# ------------------------------------------------------------------------------------------ the data
@pytest.mark.parametrize("dataset", sorted(DATASETS))
def test_each_dataset_has_20_to_60_records_of_xinzhou_entities_with_valid_codes(dataset: str) -> None:
    rows = records(dataset)
    spec = DATASETS[dataset]
    assert 20 <= len(rows) <= 60
    versions = [(r[spec.id_field], r[spec.updated_field]) for r in rows]
    assert len(set(versions)) == len(versions)
    for record in rows:
        code, number = subject_codes(record)
        assert code or number, record
        if code is not None:
            assert uscc.is_valid(code) and XINZHOU.fullmatch(code[2:8]), code
        if number is not None:
            assert regno.is_valid(number) and XINZHOU.fullmatch(number[:6]), number


def test_field_names_follow_each_system() -> None:
    abnormal = set().union(*(r.keys() for r in records("abnormal_operation")))
    assert {
        "ENTNAME",
        "UNISCID",
        "REGNO",
        "ABNTIME",
        "SPECAUSE_CN",
        "DECORG_CN",
        "REMDATE",
        "REMEXCPRES_CN",
    } <= abnormal
    assert {"ENTNAME", "UNISCID", "REGNO", "LEREP", "REGSTATE_CN", "UPDATETIME"} <= set(
        records("market_entity")[0]
    )
    for dataset in ("serious_dishonesty", "credit_commitment", "credit_repair"):
        for key in records(dataset)[0]:
            assert re.fullmatch(r"[a-z]+(?:[A-Z][a-z]*)*", key), (dataset, key)  # 信用中国 camelCase


def test_some_entities_are_known_only_by_a_legacy_registration_number() -> None:
    for dataset in ("market_entity", "abnormal_operation", "spot_check", "serious_dishonesty"):
        legacy = [r for r in records(dataset) if subject_codes(r)[0] is None]
        assert legacy, dataset
        assert all(subject_codes(r)[1] for r in legacy)


@pytest.mark.parametrize(
    ("dataset", "removal", "listed"),
    [("abnormal_operation", "REMDATE", "ABNTIME"), ("serious_dishonesty", "removeDate", "listDate")],
)
def test_removals_are_newer_versions_of_earlier_listings(dataset: str, removal: str, listed: str) -> None:
    spec = DATASETS[dataset]
    by_id: dict[str, list[dict[str, Any]]] = {}
    for record in records(dataset):
        by_id.setdefault(record[spec.id_field], []).append(record)
    removed = [versions for versions in by_id.values() if len(versions) > 1]
    assert len(removed) >= 5
    for versions in removed:
        first, last = sorted(versions, key=lambda r: _ms(r[spec.updated_field]))
        assert first[removal] is None and last[removal] is not None
        assert last[removal] >= first[listed] and last[listed] == first[listed]


def test_commitment_codes_are_division_date_and_serial() -> None:
    for record in records("credit_commitment"):
        code = record["commitmentCode"]
        assert re.fullmatch(r"1409\d{16}", code)
        assert code[6:14] == record["commitmentDate"].replace("-", "")


def _ms(value: Any) -> int:
    if isinstance(value, int):
        return value
    return int(datetime.fromisoformat(value).replace(tzinfo=BEIJING).timestamp() * 1000)


# ------------------------------------------------------------------------------------------ paging, filters
def test_page_number_paging_covers_every_record_once(base: str) -> None:
    seen: list[str] = []
    total = None
    for page in range(1, 10):
        body = token_get(base, "/gsxt/api/abnormal_operation", {"page": str(page), "size": "10"}).json()
        assert body["status"] == "0"
        total = body["result"]["total"]
        seen += [r["BUSEXCLIST"] for r in body["result"]["items"]]
    assert (
        len(seen) == len(set(seen)) == total == len({r["BUSEXCLIST"] for r in records("abnormal_operation")})
    )


def test_cursor_paging_covers_every_record_once_in_update_order(base: str) -> None:
    seen: list[tuple[int, str]] = []
    cursor = None
    while True:
        params = {"size": "7", **({"cursor": cursor} if cursor else {})}
        result = token_get(base, "/gsxt/api/spot_check", params).json()["result"]
        seen += [(r["UPDATETIME"], r["CHECKID"]) for r in result["items"]]
        cursor = result["next"]
        if cursor is None:
            break
    assert seen == sorted(seen) and len(seen) == len(records("spot_check"))


def test_updated_since_is_inclusive(base: str) -> None:
    rows = records("credit_commitment")
    since = sorted(r["updateTime"] for r in rows)[10]
    got = signed_get(
        base, "/creditchina/v1/credit_commitment", {"pageSize": "100", "updatedSince": since}
    ).json()
    assert got["code"] == 200
    assert sorted(r["updateTime"] for r in got["data"]["list"]) == sorted(r["updateTime"] for r in rows)[10:]


def test_as_of_hides_later_versions(run: Any) -> None:
    url, state = run(as_of=datetime(2025, 1, 1, tzinfo=BEIJING))
    early = signed_get(url, "/creditchina/v1/serious_dishonesty", {"pageSize": "100"}).json()["data"]
    assert all(r["updateTime"] <= "2025-01-01 00:00:00" for r in early["list"])
    state.as_of = None
    later = signed_get(url, "/creditchina/v1/serious_dishonesty", {"pageSize": "100"}).json()["data"]
    assert later["total"] > early["total"] and any(r["status"] == "移出" for r in later["list"])


def test_oversized_page_and_unknown_dataset_are_json_errors(base: str) -> None:
    too_big = token_get(base, "/gsxt/api/market_entity", {"size": "1000"})
    assert too_big.status_code == 400 and "size" in too_big.json()["message"]
    missing = token_get(base, "/gsxt/api/serious_dishonesty", {})  # a 信用中国 dataset is not served by gsxt
    assert missing.status_code == 404 and missing.json()["status"] == "404"


# ------------------------------------------------------------------------------------------ authentication
def test_valid_signature_is_accepted_and_a_wrong_secret_refused(base: str) -> None:
    assert signed_get(base, "/creditchina/v1/credit_repair", {"pageNum": "1"}).status_code == 200
    refused = signed_get(base, "/creditchina/v1/credit_repair", {"pageNum": "1"}, secret="guess")
    assert refused.status_code == 401 and refused.json() == {"code": 401, "msg": "签名校验失败"}


def test_signature_covers_the_query_and_refuses_replays_and_stale_times(base: str) -> None:
    good = signed_get(
        base, "/creditchina/v1/credit_repair", {"pageNum": "1", "updatedSince": "2025-01-01 00:00:00"}
    )
    request = good.request
    assert good.status_code == 200
    replay = http().get(request.url, headers=dict(request.headers), timeout=10)
    assert replay.status_code == 401 and "nonce" in replay.json()["msg"]
    tampered = http().get(
        request.url.replace("pageNum=1", "pageNum=2"), headers=dict(request.headers), timeout=10
    )
    assert tampered.status_code == 401
    stale = dict(request.headers, **{"X-Timestamp": str(int(time.time()) - 3600)})
    assert http().get(request.url, headers=stale, timeout=10).json()["msg"] == "时间戳超出允许范围"
    bare = http().get(base + "/creditchina/v1/credit_repair", timeout=10)
    assert bare.status_code == 401 and "X-Signature" in bare.json()["msg"]


def test_token_group(base: str) -> None:
    assert token_get(base, "/gsxt/api/market_entity", {}).status_code == 200
    refused = token_get(base, "/gsxt/api/market_entity", {}, token="nope")
    assert refused.status_code == 401 and refused.json() == {
        "status": "401",
        "message": "访问令牌无效或已过期",
    }


# ------------------------------------------------------------------------------------------ faults
def test_fault_html(run: Any) -> None:
    url, _ = run(faults=Faults(html=True))
    response = token_get(url, "/gsxt/api/market_entity", {})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")


def test_fault_fails_the_given_number_of_times_with_retry_after(run: Any) -> None:
    url, state = run(faults=Faults.parse("429,times=2,retry_after=4"))
    statuses = [token_get(url, "/gsxt/api/market_entity", {}) for _ in range(3)]
    assert [r.status_code for r in statuses] == [429, 429, 200]
    assert statuses[0].headers["Retry-After"] == "4"
    assert [s for _, _, s in state.requests] == [429, 429, 200]


def test_fault_by_query_parameter_fails_once_per_switch(base: str) -> None:
    first = token_get(base, "/gsxt/api/spot_check", {"_fault": "500"})
    second = token_get(base, "/gsxt/api/spot_check", {"_fault": "500"})
    assert (first.status_code, second.status_code) == (500, 200)


def test_fault_repeat_and_backwards(run: Any) -> None:
    url, _ = run(faults=Faults(repeat=True, backwards=True))
    pages = [
        token_get(url, "/gsxt/api/abnormal_operation", {"page": str(n), "size": "5"}).json() for n in (1, 2)
    ]
    assert pages[0]["result"]["items"] == pages[1]["result"]["items"]
    since = "1767196800000"  # 2026-01-01 Beijing
    items = token_get(url, "/gsxt/api/abnormal_operation", {"size": "100", "updatedSince": since}).json()
    assert sum(r["UPDATETIME"] < int(since) for r in items["result"]["items"]) == 1


def test_unknown_fault_is_refused() -> None:
    with pytest.raises(ValueError):
        Faults.parse("explode")


# ------------------------------------------------------------------------------------------ CLI
def test_cli_prints_the_address_it_listens_on(repo_root: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(repo_root), "CREDIT_API_TOKEN": "cli-token"}
    process = subprocess.Popen(
        [sys.executable, "-m", "samples.standins.credit_api", "--port", "0", "--data", str(DEFAULT_DATA)],
        cwd=repo_root,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.fullmatch(r"credit api listening on (http://127\.0\.0\.1:\d+)\n", line)
        assert match, line
        deadline = time.monotonic() + 20
        while True:
            try:
                response = token_get(
                    match.group(1), "/gsxt/api/market_entity", {"size": "3"}, token="cli-token"
                )
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert response.status_code == 200 and len(response.json()["result"]["items"]) == 3
    finally:
        process.terminate()
        process.wait(timeout=10)
