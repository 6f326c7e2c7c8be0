"""The REST connector against the credit stand-in on loopback: paging, increments, auth, and every refusal."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pyarrow as pa
import pytest

from connectors.pulled import run_pull
from connectors.rest_api import BATCH_ROWS, RestApiPull, RestApiSource, SourceError
from connectors.rest_api_auth import auth_headers
from connectors.rest_api_config import ApiConfig, RestApiHook
from connectors.rest_api_cursor import CursorTracker, RestCursor, row_digest
from gateway.landing import read_cursor
from gateway.mapping.spec import load_mappings
from gateway.settings import Settings
from hub.server import ServerThread
from samples.standins.credit_api import (
    DEFAULT_DATA,
    DEMO_APP_KEY,
    DEMO_APP_SECRET,
    DEMO_TOKEN,
    Faults,
    StandIn,
    create_app,
)
from tests.connectors.connections import Connection

BEIJING = timezone(timedelta(hours=8))


def http(
    host: str | None,
    port: int | None,
    schema: str | None = "http",
    login: str | None = None,
    password: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Connection:
    """An http Connection, as the stand-in's are."""
    return Connection("http", host, port, schema, login, password, extra or {})


def api_config(conn: Connection, pull: dict[str, Any], source_id: str) -> ApiConfig:
    return RestApiHook(conn).api_config(pull, source_id)


def rest_pull(
    conn: Connection,
    pull: dict[str, Any],
    headers: list[str],
    source_id: str,
    cursor: str | None,
    **options: Any,
) -> RestApiPull:
    """One pull, configured as RestApiSource configures it, with the test's batch size, sleep and clock."""
    return RestApiPull(api_config(conn, pull, source_id), headers, cursor, **options)


@dataclass
class Server:
    url: str
    state: StandIn

    def credit(self, secret: str = DEMO_APP_SECRET, **extra: Any) -> Connection:
        host, port = self.url.removeprefix("http://").split(":")
        return http(
            host, int(port), login=DEMO_APP_KEY, password=secret, extra={"auth": "signature", **extra}
        )

    def gsxt(self, token: str = DEMO_TOKEN, **extra: Any) -> Connection:
        host, port = self.url.removeprefix("http://").split(":")
        return http(host, int(port), password=token, extra={"auth": "token", **extra})

    def statuses(self, dataset: str) -> list[int]:
        return [status for path, _, status in self.state.requests if path.endswith("/" + dataset)]


SERIOUS = {  # 信用中国: page-number paging, app-key signature
    "kind": "rest_api",
    "connection": "xz_creditchina",
    "path": "/creditchina/v1/serious_dishonesty",
    "paging": "page",
    "page_param": "pageNum",
    "size_param": "pageSize",
    "page_size": 10,
    "records": "data.list",
    "total": "data.total",
    "updated_since_param": "updatedSince",
    "updated_field": "updateTime",
    "id_field": "id",
}
COMMITMENT = {  # 信用中国: cursor paging
    "kind": "rest_api",
    "connection": "xz_creditchina",
    "path": "/creditchina/v1/credit_commitment",
    "paging": "cursor",
    "size_param": "pageSize",
    "page_size": 9,
    "records": "data.list",
    "next_cursor": "data.nextCursor",
    "updated_since_param": "updatedSince",
    "updated_field": "updateTime",
    "id_field": "commitmentCode",
}
MARKET = {  # 公示系统: cursor paging, bearer token, epoch-ms update times
    "kind": "rest_api",
    "connection": "xz_gsxt",
    "path": "/gsxt/api/market_entity",
    "paging": "cursor",
    "size_param": "size",
    "page_size": 20,
    "records": "result.items",
    "next_cursor": "result.next",
    "updated_since_param": "updatedSince",
    "updated_field": "UPDATETIME",
    "id_field": "PRIPID",
}
ABNORMAL = {  # 公示系统: page-number paging without a total
    "kind": "rest_api",
    "connection": "xz_gsxt",
    "path": "/gsxt/api/abnormal_operation",
    "paging": "page",
    "page_param": "page",
    "size_param": "size",
    "page_size": 8,
    "records": "result.items",
    "updated_since_param": "updatedSince",
    "updated_field": "UPDATETIME",
    "id_field": "BUSEXCLIST",
}
REPAIR = {
    **SERIOUS,
    "path": "/creditchina/v1/credit_repair",
    "updated_since_param": "updatedSince",
    "id_field": "repairNo",
}


def latest(
    dataset: str, id_field: str, updated: str, as_of: datetime | None = None
) -> dict[str, dict[str, Any]]:
    """The truth the stand-in should serve, worked out from its data files independently of its code."""
    records = json.loads((DEFAULT_DATA / f"{dataset}.json").read_text(encoding="utf-8"))
    chosen: dict[str, dict[str, Any]] = {}
    for record in records:
        moment = record[updated]
        when = (
            datetime.fromtimestamp(moment / 1000, BEIJING)
            if isinstance(moment, int)
            else datetime.fromisoformat(moment).replace(tzinfo=BEIJING)
        )
        if as_of is not None and when > as_of:
            continue
        if record[id_field] not in chosen or _key(chosen[record[id_field]][updated]) < _key(moment):
            chosen[record[id_field]] = record
    return chosen


def _key(value: Any) -> Any:
    return value if isinstance(value, int) else datetime.fromisoformat(value)


def _updated(cursor: str | None) -> Any:
    """The update time a stored cursor holds (numbers as int, so _key compares them)."""
    value = RestCursor.parse(cursor).updated
    assert value is not None
    return int(value) if value.isdigit() else value


def pull_all(source: RestApiPull) -> list[dict[str, Any]]:
    batches = list(source.batches())
    assert all(b.schema.field("__row__").type == pa.int64() for b in batches)
    table = pa.Table.from_batches(batches) if batches else None
    if table is None:
        return []
    names = {f"c{i}": header for i, header in enumerate(source.headers)}
    return [{names.get(k, k): v for k, v in row.items()} for row in table.to_pylist()]


@pytest.fixture
def standin() -> Iterator[Callable[..., Server]]:
    """Start stand-ins on free loopback ports, each with its own faults and clock."""
    threads: list[ServerThread] = []

    def start(**options: Any) -> Server:
        app = create_app(DEFAULT_DATA, **options)
        thread = ServerThread(app)
        threads.append(thread)
        return Server(thread.start(), app.state.standin)

    yield start
    for thread in threads:
        thread.stop()


@pytest.fixture
def server(standin: Callable[..., Server]) -> Server:
    return standin()


@pytest.fixture
def sleeps() -> list[float]:
    """Backoff and rate-limit waits are recorded instead of slept, so retry tests take no time."""
    return []


# ------------------------------------------------------------------------------------------ happy paths
def test_full_pull_page_paging_with_signature(server: Server) -> None:
    source = rest_pull(
        server.credit(), SERIOUS, ["id", "subject.creditCode", "status", "updateTime"], "xz_serious", None
    )
    rows = pull_all(source)
    truth = latest("serious_dishonesty", "id", "updateTime")
    assert source.kind == "api" and source.cursor_from is None
    assert sorted(r["id"] for r in rows) == sorted(truth)
    assert [r["__row__"] for r in rows] == list(range(1, len(truth) + 1))
    assert {r["id"]: r["status"] for r in rows} == {k: v["status"] for k, v in truth.items()}
    newest = max((r["updateTime"] for r in truth.values()), key=datetime.fromisoformat)
    assert RestCursor.parse(source.cursor_to).updated == newest
    assert source.pages == -(-len(truth) // 10)
    assert server.statuses("serious_dishonesty") == [200] * source.pages


def test_full_pull_cursor_paging_with_token(server: Server) -> None:
    source = rest_pull(
        server.gsxt(), MARKET, ["PRIPID", "ENTNAME", "UNISCID", "REGNO", "UPDATETIME"], "xz_market", None
    )
    rows = pull_all(source)
    truth = latest("market_entity", "PRIPID", "UPDATETIME")
    assert {r["PRIPID"]: r["ENTNAME"] for r in rows} == {k: v["ENTNAME"] for k, v in truth.items()}
    assert RestCursor.parse(source.cursor_to).updated == str(max(v["UPDATETIME"] for v in truth.values()))
    assert source.pages == -(-len(truth) // 20)
    legacy = [r for r in rows if r["UNISCID"] is None]
    assert legacy and all(r["REGNO"] and len(r["REGNO"]) == 15 for r in legacy)


def test_cursor_paging_with_signature_and_page_paging_without_total(server: Server) -> None:
    commitments = pull_all(rest_pull(server.credit(), COMMITMENT, ["commitmentCode"], "xz_commitment", None))
    abnormal = pull_all(rest_pull(server.gsxt(), ABNORMAL, ["BUSEXCLIST"], "xz_abnormal", None))
    assert sorted(r["commitmentCode"] for r in commitments) == sorted(
        latest("credit_commitment", "commitmentCode", "updateTime")
    )
    assert sorted(r["BUSEXCLIST"] for r in abnormal) == sorted(
        latest("abnormal_operation", "BUSEXCLIST", "UPDATETIME")
    )


@pytest.mark.parametrize(
    ("pull", "dataset", "id_field", "updated"),
    [
        (SERIOUS, "serious_dishonesty", "id", "updateTime"),
        (ABNORMAL, "abnormal_operation", "BUSEXCLIST", "UPDATETIME"),
    ],
)
def test_incremental_pull_brings_only_what_changed_since_the_cursor(
    standin: Callable[..., Server], pull: dict[str, Any], dataset: str, id_field: str, updated: str
) -> None:
    as_of = datetime(2026, 3, 1, tzinfo=BEIJING)
    server = standin(as_of=as_of)
    conn = server.credit() if dataset == "serious_dishonesty" else server.gsxt()
    first = rest_pull(conn, pull, [id_field, updated], dataset, None)
    assert sorted(r[id_field] for r in pull_all(first)) == sorted(latest(dataset, id_field, updated, as_of))

    server.state.as_of = None  # time passes: removals and new listings appear
    second = rest_pull(conn, pull, [id_field, updated], dataset, first.cursor_to)
    rows = pull_all(second)
    cursor = _key(_updated(first.cursor_to))
    changed = {k for k, v in latest(dataset, id_field, updated).items() if _key(v[updated]) > cursor}
    assert changed, "the data files should hold changes after the first pull"
    # The inclusive updatedSince sends the record at the cursor again unless it changed since; unchanged,
    # it is known by its fingerprint in the cursor, so only what changed is taken.
    assert {r[id_field] for r in rows} == changed
    assert all(_key(int(r[updated]) if r[updated].isdigit() else r[updated]) > cursor for r in rows)
    assert _key(_updated(second.cursor_to)) > cursor


def test_removal_arrives_as_a_newer_version_in_the_next_pull(standin: Callable[..., Server]) -> None:
    server = standin(as_of=datetime(2026, 3, 1, tzinfo=BEIJING))
    headers = ["id", "status", "removeDate", "updateTime"]
    first = rest_pull(server.credit(), SERIOUS, headers, "xz_serious", None)
    before = {r["id"]: r for r in pull_all(first)}
    server.state.as_of = None
    after = pull_all(rest_pull(server.credit(), SERIOUS, headers, "xz_serious", first.cursor_to))
    removed = [r for r in after if r["status"] == "移出"]
    assert removed
    for row in removed:
        assert row["removeDate"] is not None
        if row["id"] in before:
            assert before[row["id"]]["status"] == "列入" and before[row["id"]]["removeDate"] is None


def test_nothing_new_keeps_the_cursor(server: Server) -> None:
    truth = latest("credit_commitment", "commitmentCode", "updateTime")
    newest = max((v["updateTime"] for v in truth.values()), key=datetime.fromisoformat)
    later = (datetime.fromisoformat(newest) + timedelta(seconds=1)).strftime("%Y-%m-%d %H:%M:%S")
    source = rest_pull(server.credit(), COMMITMENT, ["commitmentCode"], "xz_commitment", later)
    assert pull_all(source) == []
    assert source.cursor_to == later


@pytest.mark.parametrize(
    ("pull", "dataset"), [(SERIOUS, "serious"), (MARKET, "market")], ids=["page", "cursor"]
)
def test_a_quiet_source_brings_nothing_however_often_it_is_pulled(
    server: Server, pull: dict[str, Any], dataset: str
) -> None:
    """updatedSince is inclusive, so the rows at the cursor come again every time; the cursor knows them."""
    conn = server.credit() if pull is SERIOUS else server.gsxt()
    headers = [pull["id_field"], pull["updated_field"]]
    first = rest_pull(conn, pull, headers, dataset, None)
    assert pull_all(first)
    cursor = first.cursor_to
    assert RestCursor.parse(cursor).taken, "the rows at the newest time are remembered"
    for _ in range(10):
        again = rest_pull(conn, pull, headers, dataset, cursor)
        assert pull_all(again) == []
        assert again.cursor_to == cursor
    _, params, _ = server.state.requests[-1]
    assert params[pull["updated_since_param"]] == RestCursor.parse(cursor).updated  # the bare time, not JSON


def test_a_row_changed_within_the_cursors_second_still_arrives() -> None:
    config = api_config(http("h", None), ABNORMAL, "a")
    known = row_digest(["A", "列入"])
    tracker = CursorTracker(config, RestCursor("100", frozenset({known})).text())
    assert not tracker.accept({"BUSEXCLIST": "A", "UPDATETIME": 100}, ["A", "列入"])
    assert tracker.accept({"BUSEXCLIST": "B", "UPDATETIME": 100}, ["B", "列入"])
    assert tracker.known == 1
    end = tracker.end
    assert end.updated == "100" and end.taken == {known, row_digest(["B", "列入"])}
    later = CursorTracker(config, end.text())
    assert later.accept({"BUSEXCLIST": "A", "UPDATETIME": 100}, ["A", "移出"])  # changed, same second
    assert later.accept({"BUSEXCLIST": "C", "UPDATETIME": 101}, ["C", "列入"])
    assert later.end == RestCursor("101", frozenset({row_digest(["C", "列入"])}))


@pytest.mark.parametrize("stored", ['{"updated": 5}', '{"taken": []}', "{not json"])
def test_a_damaged_stored_cursor_is_reported(stored: str) -> None:
    with pytest.raises(SourceError) as caught:
        CursorTracker(api_config(http("h", None), ABNORMAL, "a"), stored)
    assert caught.value.code == "bad_cursor" and "a" in caught.value.message


def test_nested_fields_numbers_booleans_and_nulls_become_text(server: Server) -> None:
    headers = [
        "repairNo",
        "subject.creditCode",
        "repairedRecord.type",
        "repairedRecord",
        "publicPeriodMonths",
        "isPublic",
        "no.such.field",
    ]
    rows = {r["repairNo"]: r for r in pull_all(rest_pull(server.credit(), REPAIR, headers, "r", None))}
    truth = latest("credit_repair", "repairNo", "updateTime")
    assert rows.keys() == truth.keys()
    for key, record in truth.items():
        row = rows[key]
        assert row["subject.creditCode"] == record["subject"]["creditCode"]
        assert row["repairedRecord.type"] == record["repairedRecord"]["type"]
        assert json.loads(row["repairedRecord"]) == record["repairedRecord"]
        assert "\\u" not in row["repairedRecord"]  # Chinese kept as it is
        assert row["publicPeriodMonths"] == str(record["publicPeriodMonths"])
        assert row["isPublic"] == ("true" if record["isPublic"] else "false")
        assert row["no.such.field"] is None


def test_list_items_and_decimals(server: Server) -> None:
    spot = {**MARKET, "path": "/gsxt/api/spot_check", "id_field": "CHECKID"}
    rows = pull_all(rest_pull(server.gsxt(), spot, ["CHECKID", "INSITEMS.0.RESULT"], "s", None))
    truth = latest("spot_check", "CHECKID", "UPDATETIME")
    assert {r["CHECKID"]: r["INSITEMS.0.RESULT"] for r in rows} == {
        k: v["INSITEMS"][0]["RESULT"] for k, v in truth.items()
    }
    market = pull_all(rest_pull(server.gsxt(), MARKET, ["PRIPID", "REGCAP"], "m", None))
    capitals = {r["PRIPID"]: r["REGCAP"] for r in market}
    for key, record in latest("market_entity", "PRIPID", "UPDATETIME").items():
        expected = None if record["REGCAP"] is None else repr(record["REGCAP"])  # as written in the JSON file
        assert capitals[key] == expected


def test_batches_are_bounded_and_rows_numbered_across_them(server: Server) -> None:
    source = rest_pull(server.gsxt(), MARKET, ["PRIPID"], "m", None, batch_rows=7)
    batches = list(source.batches())
    total = len(latest("market_entity", "PRIPID", "UPDATETIME"))
    assert BATCH_ROWS == 5000
    assert all(b.num_rows <= 7 for b in batches) and sum(b.num_rows for b in batches) == total
    rows = [n for b in batches for n in b.column("__row__").to_pylist()]
    assert rows == list(range(1, total + 1))
    assert batches[0].schema.names == ["c0", "__row__"]


def test_cursor_to_is_unknown_before_the_pull_ends(server: Server) -> None:
    source = rest_pull(server.gsxt(), MARKET, ["PRIPID"], "m", None)
    with pytest.raises(RuntimeError):
        _ = source.cursor_to


def test_run_pull_lands_the_mappings_fields_and_advances_the_stored_cursor(
    server: Server, settings: Settings
) -> None:
    """The DAG's way in: the mapping's pull block and `from` names, the Connection, the stored cursor."""
    spec = load_mappings(settings.mappings_dir)["xz_credit_commitment"]
    source = RestApiSource.open(settings, spec, server.credit())
    assert source.source_id == "xz_credit_commitment" and "commitmentCode" in source.headers
    run = run_pull(settings, spec, server.credit())
    (unit,) = run.landed
    assert run.ok and run.rows == unit.rows == len(
        latest("credit_commitment", "commitmentCode", "updateTime")
    )
    assert read_cursor(settings, "xz_credit_commitment") == run.cursor == unit.cursor_to
    assert run.summary()["cursor"] == run.cursor and run.summary()["units"] == 1
    files = sorted(settings.landing_dir.rglob("*"))
    for _ in range(10):  # a quiet source: the record at the inclusive cursor comes again and is known
        again = run_pull(settings, spec, server.credit())
        assert (again.landed, again.cursor) == ([], run.cursor)
    assert read_cursor(settings, "xz_credit_commitment") == run.cursor
    assert sorted(settings.landing_dir.rglob("*")) == files


def test_a_failed_pull_lands_nothing_and_keeps_the_cursor(server: Server, settings: Settings) -> None:
    spec = load_mappings(settings.mappings_dir)["xz_credit_commitment"]
    with pytest.raises(SourceError) as caught:
        run_pull(settings, spec, server.credit(secret="wrong-secret"))
    assert caught.value.code == "http_401"
    assert read_cursor(settings, "xz_credit_commitment") is None
    assert not any(path.is_file() for path in settings.landing_dir.rglob("*"))


# ------------------------------------------------------------------------------------------ rate, retries
def test_rate_limit_spaces_requests(server: Server, sleeps: list[float]) -> None:
    source = rest_pull(
        server.gsxt(rate_per_s=20), MARKET, ["PRIPID"], "m", None, sleep=sleeps.append, clock=lambda: 100.0
    )
    pull_all(source)
    # A frozen clock: every request after the first must wait one more interval than the one before.
    assert sleeps == pytest.approx([i / 20 for i in range(1, source.pages)])


def test_429_then_success_waits_at_least_retry_after(
    standin: Callable[..., Server], sleeps: list[float]
) -> None:
    server = standin(faults=Faults(fail_status=429, retry_after=3))
    source = rest_pull(
        server.credit(backoff_s=0.01), SERIOUS, ["id"], "xz_serious", None, sleep=sleeps.append
    )
    rows = pull_all(source)
    assert len(rows) == len(latest("serious_dishonesty", "id", "updateTime"))
    assert server.statuses("serious_dishonesty")[:2] == [429, 200]
    assert len(sleeps) == 1 and sleeps[0] >= 3


def test_500_is_retried_with_backoff(standin: Callable[..., Server], sleeps: list[float]) -> None:
    server = standin(faults=Faults(fail_status=500, fail_times=2))
    source = rest_pull(server.gsxt(backoff_s=0.5), MARKET, ["PRIPID"], "m", None, sleep=sleeps.append)
    assert len(pull_all(source)) == len(latest("market_entity", "PRIPID", "UPDATETIME"))
    assert server.statuses("market_entity")[:3] == [500, 500, 200]
    assert len(sleeps) == 2
    assert 0.25 <= sleeps[0] <= 0.5 and 0.5 <= sleeps[1] <= 1.0  # equal jitter around 0.5 s, then 1 s


def test_persistent_5xx_gives_up_after_the_configured_retries(
    standin: Callable[..., Server], sleeps: list[float]
) -> None:
    server = standin(faults=Faults(fail_status=503, fail_times=99))
    source = rest_pull(server.gsxt(retries=2), MARKET, ["PRIPID"], "xz_market", None, sleep=sleeps.append)
    with pytest.raises(SourceError) as caught:
        pull_all(source)
    assert caught.value.code == "unavailable"
    assert "xz_market" in caught.value.message and "503" in caught.value.message
    assert server.statuses("market_entity") == [503, 503, 503] and len(sleeps) == 2


def test_retry_after_beyond_max_wait_fails_at_once(
    standin: Callable[..., Server], sleeps: list[float]
) -> None:
    server = standin(faults=Faults(fail_status=429, retry_after=600))
    source = rest_pull(server.gsxt(max_wait_s=60), MARKET, ["PRIPID"], "m", None, sleep=sleeps.append)
    with pytest.raises(SourceError) as caught:
        pull_all(source)
    assert caught.value.code == "rate_limited" and "600" in caught.value.message
    assert sleeps == [] and server.statuses("market_entity") == [429]


def test_timeouts_are_retried(standin: Callable[..., Server], sleeps: list[float]) -> None:
    server = standin(faults=Faults(slow_s=1.0))
    source = rest_pull(server.gsxt(timeout_s=0.2), MARKET, ["PRIPID"], "m", None, sleep=sleeps.append)
    assert len(pull_all(source)) == len(latest("market_entity", "PRIPID", "UPDATETIME"))
    assert len(sleeps) == 1


def test_connection_refused_is_retried_then_reported(sleeps: list[float]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    conn = http("127.0.0.1", port, password="t", extra={"auth": "token", "retries": 2})
    source = rest_pull(conn, MARKET, ["PRIPID"], "xz_market", None, sleep=sleeps.append)
    with pytest.raises(SourceError) as caught:
        pull_all(source)
    assert caught.value.code == "unavailable" and "ConnectionError" in caught.value.message
    assert len(sleeps) == 2


# ------------------------------------------------------------------------------------------ refusals
def test_bad_signature_is_a_clear_4xx_error_without_retry(server: Server, sleeps: list[float]) -> None:
    source = rest_pull(
        server.credit(secret="wrong-secret"), SERIOUS, ["id"], "xz_serious", None, sleep=sleeps.append
    )
    with pytest.raises(SourceError) as caught:
        pull_all(source)
    error = caught.value
    assert error.code == "http_401"
    assert "xz_serious" in error.message and "401" in error.message and "签名校验失败" in error.message
    assert server.statuses("serious_dishonesty") == [401] and sleeps == []


def test_bad_token_is_refused(server: Server) -> None:
    with pytest.raises(SourceError) as caught:
        pull_all(rest_pull(server.gsxt(token="expired"), MARKET, ["PRIPID"], "xz_market", None))
    assert caught.value.code == "http_401" and "访问令牌无效" in caught.value.message


def test_html_instead_of_json(standin: Callable[..., Server]) -> None:
    server = standin(faults=Faults(html=True))
    with pytest.raises(SourceError) as caught:
        pull_all(rest_pull(server.credit(), SERIOUS, ["id"], "xz_serious", None))
    assert caught.value.code == "not_json" and "HTML" in caught.value.message
    assert "统一身份认证平台" in caught.value.message  # the start of the page tells the engineer what it was


@pytest.mark.parametrize("pull", [SERIOUS, COMMITMENT], ids=["page", "cursor"])
def test_repeated_page_stops_with_an_error(standin: Callable[..., Server], pull: dict[str, Any]) -> None:
    server = standin(faults=Faults(repeat=True))
    with pytest.raises(SourceError) as caught:
        pull_all(rest_pull(server.credit(), pull, ["updateTime"], "xz_credit", None))
    assert caught.value.code == "page_repeated"
    assert len(server.state.requests) == 2


def test_repeated_cursor_is_caught_even_when_the_records_differ() -> None:
    config = api_config(http("h", None, password="t"), MARKET, "m")
    responses = iter(
        [
            {"result": {"items": [{"PRIPID": "1", "UPDATETIME": 1}], "next": "A"}},
            {"result": {"items": [{"PRIPID": "2", "UPDATETIME": 2}], "next": "B"}},
            {"result": {"items": [{"PRIPID": "3", "UPDATETIME": 3}], "next": "A"}},
        ]
    )

    class Scripted:
        requests_made = 0

        def get_json(self, params: list[tuple[str, str]], label: str) -> Any:
            return next(responses)

    source = RestApiPull(config, ["PRIPID"], None)
    with pytest.raises(SourceError) as caught:
        list(source._pages(Scripted(), None))  # type: ignore[arg-type]
    assert caught.value.code == "page_repeated"


def test_records_older_than_the_cursor_are_an_error(standin: Callable[..., Server]) -> None:
    server = standin(faults=Faults(backwards=True))
    cursor = "2026-01-01 00:00:00"
    with pytest.raises(SourceError) as caught:
        pull_all(rest_pull(server.credit(), SERIOUS, ["id"], "xz_serious", cursor))
    assert caught.value.code == "cursor_backwards" and cursor in caught.value.message


def test_records_older_than_the_cursor_can_be_tolerated(standin: Callable[..., Server]) -> None:
    server = standin(faults=Faults(backwards=True))
    cursor = "2026-01-01 00:00:00"
    pull = {**SERIOUS, "tolerate_backwards": True}
    source = rest_pull(server.credit(), pull, ["id", "updateTime"], "xz_serious", cursor)
    rows = pull_all(source)
    older = [r for r in rows if datetime.fromisoformat(r["updateTime"]) < datetime.fromisoformat(cursor)]
    assert len(older) == 1
    assert datetime.fromisoformat(_updated(source.cursor_to)) >= datetime.fromisoformat(cursor)


def test_fault_switched_by_query_parameter(server: Server) -> None:
    pull = {**SERIOUS, "params": {"_fault": "html"}}
    with pytest.raises(SourceError) as caught:
        pull_all(rest_pull(server.credit(), pull, ["id"], "xz_serious", None))
    assert caught.value.code == "not_json"


def test_missing_records_path_names_the_path_and_what_the_server_said(server: Server) -> None:
    pull = {**SERIOUS, "records": "data.items"}
    with pytest.raises(SourceError) as caught:
        pull_all(rest_pull(server.credit(), pull, ["id"], "xz_serious", None))
    assert caught.value.code == "records_missing"
    assert "data.items" in caught.value.message and "code=200" in caught.value.message


def test_bad_parameter_reports_the_servers_message(server: Server) -> None:
    pull = {**SERIOUS, "page_size": 500}
    with pytest.raises(SourceError) as caught:
        pull_all(rest_pull(server.credit(), pull, ["id"], "xz_serious", None))
    assert caught.value.code == "http_400" and "pageSize" in caught.value.message


def test_secrets_never_reach_logs_or_errors(server: Server, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    pull_all(rest_pull(server.credit(), SERIOUS, ["id"], "xz_serious", None))
    with pytest.raises(SourceError) as caught:
        pull_all(rest_pull(server.gsxt(token="secret-token-xyz"), MARKET, ["PRIPID"], "m", None))
    text = caplog.text + str(caught.value) + repr(api_config(server.credit(), SERIOUS, "x"))
    assert DEMO_APP_SECRET not in text and "secret-token-xyz" not in text


# ------------------------------------------------------------------------------------------ signing, config
def test_signature_follows_the_documented_string_to_sign() -> None:
    config = api_config(http("api.example.cn", 8443, "https", "key-1", "s3cret"), SERIOUS, "x")
    query = "pageNum=2&pageSize=50&updatedSince=2026-10-08%2009%3A00%3A00"
    headers = auth_headers(
        config,
        "GET",
        "/creditchina/v1/serious_dishonesty",
        query,
        clock=lambda: 1793242800.9,
        nonce=lambda: "ab" * 16,
    )
    message = f"GET\n/creditchina/v1/serious_dishonesty\n{query}\n1793242800\n{'ab' * 16}"
    assert headers == {
        "X-App-Key": "key-1",
        "X-Timestamp": "1793242800",
        "X-Nonce": "ab" * 16,
        "X-Signature": hmac.new(b"s3cret", message.encode(), hashlib.sha256).hexdigest(),
    }


def test_connection_fields_make_the_url() -> None:
    assert api_config(http("api.example.cn", 8443, "https"), SERIOUS, "x").url == (
        "https://api.example.cn:8443/creditchina/v1/serious_dishonesty"
    )
    assert api_config(http("https://gw.example.cn/open/", None, None), SERIOUS, "x").url == (
        "https://gw.example.cn/open/creditchina/v1/serious_dishonesty"
    )
    config = api_config(
        http("h", None, login="k", password="p", extra={"verify": "/etc/ca.pem"}), SERIOUS, "x"
    )
    assert config.auth == "signature" and config.verify == "/etc/ca.pem"
    assert api_config(http("h", None, extra={"verify": "false"}), SERIOUS, "x").verify is False


@pytest.mark.parametrize(
    ("conn", "pull", "words"),
    [
        (http(None, None), SERIOUS, "host"),
        (http("h", None), {**SERIOUS, "pagesize": 5}, "pagesize"),
        (http("h", None), {k: v for k, v in MARKET.items() if k != "next_cursor"}, "next_cursor"),
        (http("h", None, password="p", extra={"auth": "signature"}), SERIOUS, "login"),
        (http("h", None, extra={"rate_per_s": "fast"}), SERIOUS, "rate_per_s"),
        (http("h", None), {**SERIOUS, "records": "data..list"}, "records"),
    ],
)
def test_configuration_mistakes_fail_before_any_request(
    conn: Connection, pull: dict[str, Any], words: str
) -> None:
    with pytest.raises(SourceError) as caught:
        api_config(conn, pull, "xz_serious")
    assert (
        caught.value.code == "config"
        and words in caught.value.message
        and "xz_serious" in caught.value.message
    )


def test_a_record_seen_twice_holds_the_cursor_at_its_first_copy() -> None:
    """Pages shifted under a page-number pull: B was updated mid-pull and came again at the end."""
    config = api_config(http("h", None), ABNORMAL, "a")
    tracker = CursorTracker(config, "100")
    taken = [
        tracker.accept(record, [record["BUSEXCLIST"]])
        for record in (
            {"BUSEXCLIST": "A", "UPDATETIME": 100},
            {"BUSEXCLIST": "B", "UPDATETIME": 120},
            {"BUSEXCLIST": "C", "UPDATETIME": 130},
            {"BUSEXCLIST": "B", "UPDATETIME": 190, "REMDATE": "2026-11-01"},
        )
    ]
    assert taken == [True, True, True, False]
    assert tracker.duplicates == 1 and tracker.cursor_to == "120"


def test_mixed_kinds_of_update_time_are_refused() -> None:
    tracker = CursorTracker(api_config(http("h", None), SERIOUS, "s"), None)
    tracker.accept({"id": "1", "updateTime": "2026-10-08 09:00:00"}, ["1"])
    with pytest.raises(SourceError) as caught:
        tracker.accept({"id": "2", "updateTime": 1793242800000}, ["2"])
    assert caught.value.code == "bad_update_time"


def test_record_without_update_time_is_an_error() -> None:
    tracker = CursorTracker(api_config(http("h", None), SERIOUS, "s"), None)
    with pytest.raises(SourceError) as caught:
        tracker.accept({"id": "7"}, ["7"])
    assert caught.value.code == "bad_update_time" and "7" in caught.value.message


def test_the_cursor_formats_doctests() -> None:
    import doctest

    import connectors.rest_api_cursor as module

    result = doctest.testmod(module)
    assert result.attempted >= 4 and result.failed == 0
