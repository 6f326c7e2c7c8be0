"""The 逢办必查 lookup under load: requests/s and latency over a city-sized store, SQLite and PostgreSQL.

    .venv/bin/python bench/lookup.py                  # 300,000 entities, 3,000,000 records, both databases
    .venv/bin/python bench/lookup.py --entities 20000 --records 200000 --db sqlite --duration 10   # quick

Setup, not measured: a store filled the way intake leaves it (entity; record + record_version with the JSON
payload, one source_file per unit), with every field of each record type filled to a realistic length
(penalties ~2 KB of Chinese text, registrations ~0.6 KB) and a city's mix of types and statuses (expired and
repaired penalties, withdrawn listings); publicity periods for most penalties and listings, a few open
objections, a finished risk run classifying every enterprise, the sources' files and cursors, and callers
of the department and internal roles. It is written with gateway.store.bulk.insert_columns (COPY on
PostgreSQL) into SQLite and into a fresh PostgreSQL database, which is dropped afterwards.

Measured: `python -m gateway.credit.lookup serve --workers 2` (what `gateway lookup serve` runs) on
loopback, driven by wrk (https://github.com/wg/wrk, Debian package wrk) with a Lua script that picks, for
every request, a USCC from the seeded population and a caller key at random (GET /v1/standing/{uscc}?matter=…,
JSON). After a warm-up, one run of ``--duration`` seconds per concurrency in ``--connections``; each prints
requests/s and the latency p50/p90/p99 wrk measured. Then the query log is counted: every answered request
must have its row (rows ≥ requests wrk completed; at most the open connections' in-flight requests more).
Target (issue #14): ≥ 1,000 requests/s with p99 < 50 ms on this 2-core machine, on both databases. The
figures are in docs/lookup.md, "Load".
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

TODAY = datetime.now(UTC).date()
NOW = datetime.now(UTC)
CHUNK = 50_000
SAMPLE = 50_000  # USCCs the load generator draws from (uniformly over the population)

# Share of all records per type (sums to 1).
MIX: dict[str, float] = {
    "market_entity": 0.10,  # one per entity when records = 10 × entities
    "admin_penalty": 0.15,
    "admin_license": 0.18,
    "spot_check": 0.12,
    "complaint": 0.10,
    "credit_commitment": 0.10,
    "judicial_judgment": 0.05,
    "inspection_action": 0.05,
    "coercion_action": 0.03,
    "penalty_action": 0.03,
    "abnormal_operation": 0.04,
    "dishonest_debtor": 0.02,
    "serious_dishonesty": 0.01,
    "credit_repair": 0.02,
}
LISTS = ("abnormal_operation", "dishonest_debtor", "serious_dishonesty")
TEXT = (
    "经查，当事人在经营活动中存在违反市场监督管理法律法规的行为，执法人员依法进行了现场检查并制作了现场笔录，"
    "当事人对上述事实无异议。根据相关法律规定，责令当事人立即改正违法行为，并处以罚款。当事人应当自收到本决定书"
    "之日起十五日内缴纳罚款，逾期不缴纳的，每日按罚款数额的百分之三加处罚款。如不服本决定，可以在收到本决定书之日"
    "起六十日内依法申请行政复议，或者在六个月内依法向人民法院提起行政诉讼。忻州市辖区内食品经营、特种设备、计量、"
    "广告、价格、产品质量、知识产权等领域的监督检查结果依法公示，接受社会监督。"
)
WORDS = ("恒通", "晋源", "华泰", "鑫达", "宏远", "长城", "金泰", "顺达", "五台山", "汾河", "雁门", "云中")
KINDS = ("商贸", "运输", "建筑", "农业科技", "食品", "医药", "能源", "物流", "餐饮", "建材")


def _text(rng: random.Random, length: int) -> str:
    start = rng.randrange(len(TEXT))
    out = (TEXT[start:] + TEXT) * (length // len(TEXT) + 2)
    return out[:length]


def _day(rng: random.Random, back: int, forward: int = 0) -> str:
    return (TODAY + timedelta(days=rng.randint(-back, forward))).isoformat()


def _uscc(n: int) -> tuple[str, str]:
    """A valid enterprise (or, one in twenty, sole-trader) USCC and its organisation code, for entity n."""
    from gateway.ids import orgcode, uscc

    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    digits, m = [], n
    for _ in range(6):
        m, r = divmod(m, 31)
        digits.append(alphabet[r])
    body = "MA" + "".join(reversed(digits))
    org = body + orgcode.calc_check(body)
    head = ("92" if n % 20 == 0 else "91") + "140900" + org
    return head + uscc.calc_check(head), org


def _reg_no(n: int) -> str:
    from gateway.ids import regno

    body = f"140900{n:08d}"
    return body + regno.calc_check(body)


# ------------------------------------------------------------------------------------------- payloads
class Payloads:
    """Every field of a record type filled at a realistic length; the fields that name the record and its
    subject, and the ones the lookup reads, are set per record."""

    def __init__(self, rng: random.Random) -> None:
        from gateway.schema import load_record_types

        self.rng = rng
        self.types = load_record_types(ROOT / "schemas")

    def _generic(self, record_type: str) -> dict[str, str]:
        rng = self.rng
        out: dict[str, str] = {}
        for f in self.types[record_type].fields:
            if f.requirement == "N" and rng.random() < 0.5:
                continue
            if f.enumeration:
                out[f.code] = rng.choice(f.enumeration)
            elif f.base == "date":
                out[f.code] = _day(rng, 1500)
            elif f.base == "decimal":
                out[f.code] = f"{rng.randint(1, 5000) / 100:.2f}"
            elif f.check is not None:
                out[f.code] = "11140900MB0000000X"
            else:
                limit = f.max_length or 50
                typical = 10 if limit <= 64 else 24 if limit <= 256 else 40 if limit <= 1000 else 100
                out[f.code] = _text(rng, min(limit, rng.randint(typical // 2, typical * 3 // 2)))
        return out

    def make(self, record_type: str, serial: int, name: str, code: str) -> dict[str, str]:
        rng = self.rng
        p = self._generic(record_type)
        subject = self.types[record_type].subject
        p[subject.name] = name
        if subject.uscc:
            p[subject.uscc] = code
        if subject.kind:
            enum = self.types[record_type].field(subject.kind).enumeration
            p[subject.kind] = "法人及非法人组织" if "法人及非法人组织" in enum else enum[0] if enum else "2"
        for pid in self.types[record_type].personal_id_fields:
            p.pop(pid, None)
        if record_type == "market_entity":
            p |= {
                "PRIPID": f"P{serial:010d}",
                "NAME": rng.choice("张王李赵刘陈杨黄") + rng.choice(("建国", "晓明", "丽华", "志强", "海燕")),
                "ENTTYPE_CN": rng.choice(
                    ("有限责任公司（自然人投资或控股）", "个人独资企业", "股份有限公司")
                ),
                "REGSTATE_CN": rng.choice(("存续（在营、开业、在册）",) * 9 + ("吊销，未注销",)),
                "REGORG_CN": "忻州市市场监督管理局",
                "ESTDATE": _day(rng, 9000),
            }
        elif record_type == "admin_penalty":
            p |= {"CF_WSH": f"忻市监罚〔{2022 + serial % 5}〕{serial}号", "CF_JDRQ": _day(rng, 1460)}
        elif record_type in ("abnormal_operation", "serious_dishonesty"):
            p |= {"LIST_ID": f"{record_type[:2].upper()}{serial:010d}", "ABNTIME": _day(rng, 1460)}
            p.pop("REMDATE", None)
            p.pop("REMEXCPRES_CN", None)
            p.pop("REDECORG_CN", None)
        elif record_type == "dishonest_debtor":
            p |= {"caseCode": f"（{2020 + serial % 6}）晋09执{serial}号", "publishDate": _day(rng, 1000)}
            p |= {"performance": "全部未履行"}
            p.pop("removeDate", None)
        elif record_type == "credit_commitment":
            p |= {"code": f"CN{serial:012d}", "commitmentValidity": _day(rng, 400, 700)}
        elif record_type == "credit_repair":
            p |= {
                "repair_no": f"XF{serial:010d}",
                "repaired_type": "行政处罚信息",
                "repair_result": "准予修复",
            }
        return p


def _status(rng: random.Random, record_type: str) -> str:
    r = rng.random()
    if record_type == "admin_penalty":
        return "active" if r < 0.65 else "expired" if r < 0.95 else "repaired"
    if record_type in LISTS:
        return "active" if r < 0.55 else "withdrawn" if r < 0.95 else "repaired"
    return "active"


# ------------------------------------------------------------------------------------------- seeding
def seed(url: str, entities: int, records: int, callers: int, rng_seed: int = 7) -> dict[str, Any]:
    """Fill a migrated store; returns the key list and the USCC sample the load generator uses."""
    from sqlalchemy import MetaData, Table

    from gateway.credit.lookup.keys import add_key_caller
    from gateway.credit.risk.tables import credit_class, credit_model, credit_run
    from gateway.store.bulk import insert_columns
    from gateway.store.db import engine_for
    from gateway.store.tables import entity, record, record_version, source_cursor, source_file

    rng = random.Random(rng_seed)
    engine = engine_for(url)
    started = time.monotonic()
    usccs: list[str] = []
    names: list[str] = []
    with engine.begin() as conn:
        for start in range(0, entities, CHUNK):
            ids = list(range(start + 1, min(start + CHUNK, entities) + 1))
            codes = [_uscc(n) for n in ids]
            chunk_names = [f"忻州市{WORDS[n % 12]}{KINDS[n % 10]}{n}有限公司" for n in ids]
            usccs += [c[0] for c in codes]
            names += chunk_names
            insert_columns(
                conn,
                entity,
                {
                    "id": ids,
                    "uscc": [c[0] for c in codes],
                    "name": chunk_names,
                    "name_norm": chunk_names,
                    "org_code": [c[1] for c in codes],
                    "reg_no": [_reg_no(n) if n % 3 == 0 else None for n in ids],
                },
                {"origin": "registry", "created_at": NOW, "updated_at": NOW},
            )
        # sources: a few per record type, several units each (what the freshness block reads)
        files: dict[str, list[int]] = {}
        file_rows: dict[str, list[Any]] = {k: [] for k in ("id", "source_id", "kind", "file_name", "sha256")}
        file_rows |= {"record_type": [], "received_at": []}
        next_file = 1
        for record_type in MIX:
            for s in range(2):
                source = f"xz_{record_type}_{s}"
                for unit in range(10):
                    files.setdefault(record_type, []).append(next_file)
                    file_rows["id"].append(next_file)
                    file_rows["source_id"].append(source)
                    file_rows["kind"].append("api" if s else "file")
                    file_rows["file_name"].append(f"{source}-{unit}.csv")
                    file_rows["sha256"].append(hashlib.sha256(f"{source}{unit}".encode()).hexdigest())
                    file_rows["record_type"].append(record_type)
                    file_rows["received_at"].append(NOW - timedelta(hours=rng.randint(1, 24 * 30)))
                    next_file += 1
        insert_columns(
            conn,
            source_file,
            file_rows,
            {
                "size": 1,
                "status": "accepted",
                "receipt": "{}",
                "part": "",
                "rows_total": 0,
                "rows_accepted": 0,
            }
            | {"rows_rejected": 0, "rows_unchanged": 0},
        )
        cursors = sorted(
            {s for s, k in zip(file_rows["source_id"], file_rows["kind"], strict=True) if k == "api"}
        )
        insert_columns(
            conn,
            source_cursor,
            {
                "source_id": cursors,
                "updated_at": [NOW - timedelta(minutes=rng.randint(1, 600)) for _ in cursors],
            },
            {"cursor": "{}"},
        )
    print(f"  {entities:,} entities ({time.monotonic() - started:.0f} s)", file=sys.stderr)

    payloads = Payloads(rng)
    record_id = 0
    per_type: dict[str, int] = {}
    publicity: dict[str, list[Any]] = {k: [] for k in ("record_id", "starts_on", "repairable_on", "ends_on")}
    objections: dict[str, list[Any]] = {k: [] for k in ("record_id", "raised_on", "deadline", "state")}
    payload_bytes = 0
    for record_type, share in MIX.items():
        count = entities if record_type == "market_entity" else int(records * share)
        per_type[record_type] = count
        for start in range(0, count, CHUNK):
            cols: dict[str, list[Any]] = {
                k: []
                for k in (
                    *("id", "record_type", "natural_key", "entity_id", "subject_name", "status"),
                    *("content_hash", "source_file_id", "source_row"),
                )
            }
            versions: dict[str, list[Any]] = {"id": [], "record_id": [], "payload": [], "entity_uscc": []}
            for serial in range(start, min(start + CHUNK, count)):
                record_id += 1
                owner = serial + 1 if record_type == "market_entity" else rng.randint(1, entities)
                body = json.dumps(
                    payloads.make(record_type, serial, names[owner - 1], usccs[owner - 1]),
                    ensure_ascii=False,
                    sort_keys=True,
                    separators=(",", ":"),
                )
                payload_bytes += len(body.encode())
                digest = hashlib.sha256(body.encode()).hexdigest()
                status = _status(rng, record_type)
                cols["id"].append(record_id)
                cols["record_type"].append(record_type)
                cols["natural_key"].append(f"{record_type}:{serial}")
                cols["entity_id"].append(owner)
                cols["subject_name"].append(names[owner - 1])
                cols["status"].append(status)
                cols["content_hash"].append(digest)
                cols["source_file_id"].append(rng.choice(files[record_type]))
                cols["source_row"].append(serial)
                versions["id"].append(record_id)
                versions["record_id"].append(record_id)
                versions["payload"].append(body)
                versions["entity_uscc"].append(usccs[owner - 1])
                if record_type in ("admin_penalty", *LISTS) and rng.random() < 0.8:
                    starts = TODAY - timedelta(days=rng.randint(0, 1400))
                    ends = starts + timedelta(days=rng.choice((90, 365, 1095)))
                    publicity["record_id"].append(record_id)
                    publicity["starts_on"].append(starts)
                    publicity["repairable_on"].append(starts + timedelta(days=90))
                    publicity["ends_on"].append(ends)
                if record_type in ("admin_penalty", *LISTS) and rng.random() < 0.003:
                    objections["record_id"].append(record_id)
                    objections["raised_on"].append(TODAY - timedelta(days=rng.randint(0, 20)))
                    objections["deadline"].append(TODAY + timedelta(days=rng.randint(0, 15)))
                    objections["state"].append(rng.choice(("open", "open", "upheld")))
            with engine.begin() as conn:
                insert_columns(
                    conn,
                    record,
                    cols,
                    {"attach_method": "uscc", "version": 1, "created_at": NOW, "updated_at": NOW},
                )
                insert_columns(
                    conn,
                    record_version,
                    versions
                    | {
                        "content_hash": cols["content_hash"],
                        "source_file_id": cols["source_file_id"],
                        "source_row": cols["source_row"],
                    },
                    {
                        "version": 1,
                        "operation": "i",
                        "attach_method": "uscc",
                        "source_sha256": "0" * 64,
                        "outbound": False,
                        "created_at": NOW,
                    },
                )
        print(f"  {record_type}: {count:,} records ({time.monotonic() - started:.0f} s)", file=sys.stderr)
    with engine.begin() as conn:
        # the publicity and objection packages' tables, as the migrations made them (their modules are theirs)
        credit_publicity = Table("credit_publicity", MetaData(), autoload_with=conn)
        credit_objection = Table("credit_objection", MetaData(), autoload_with=conn)
        insert_columns(
            conn,
            credit_publicity,
            publicity,
            {"version": 1, "regime": "samr", "tier": "general", "basis": "罚款", "computed_at": NOW},
        )
        n = len(objections["record_id"])
        insert_columns(
            conn,
            credit_objection,
            objections | {"id": list(range(1, n + 1))},
            {
                "record_version": 1,
                "raised_by": "xz_credit",
                "channel": "credit_platform",
                "reason": "当事人对记录内容有异议",
                "raised_at": NOW,
            },
        )
        insert_columns(
            conn,
            credit_model,
            {"sha256": ["b" * 64]},
            {"model_id": "bench", "version": "1", "body": "{}", "first_used_at": NOW},
        )
        insert_columns(
            conn,
            credit_run,
            {"id": [1]},
            {
                "period": f"{TODAY:%Y-%m}",
                "as_of": TODAY,
                "model_sha256": "b" * 64,
                "status": "finished",
                "entities": entities,
                "started_at": NOW,
                "finished_at": NOW,
                "actor": "bench",
            },
        )
        enterprises = [n for n in range(1, entities + 1) if usccs[n - 1].startswith("91")]
        insert_columns(
            conn,
            credit_class,
            {"entity_id": enterprises, "class": rng.choices("ABCD", (30, 55, 12, 3), k=len(enterprises))},
            {"run_id": 1, "score_class": "B", "score": 80.0, "dimensions": "{}", "evidence": "[]"},
        )
        keys = []
        for c in range(callers):
            role = "internal" if c % 5 == 0 else "department"
            _, key = add_key_caller(conn, f"bench-{c:02d}", f"部门{c:02d}", role)
            keys.append(key)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:  # committed: statistics written by a rolled-back ANALYZE are lost
            conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    return {
        "entities": entities,
        "records": record_id,
        "per_type": per_type,
        "payload_mb": round(payload_bytes / 2**20),
        "seed_seconds": round(time.monotonic() - started, 1),
        "keys": keys,
        "sample": random.Random(11).sample(usccs, min(SAMPLE, len(usccs))),
    }


# --------------------------------------------------------------------------------------------- load
LUA = """
local codes = {%(codes)s}
local keys = {%(keys)s}
local n = 0
request = function()
  n = n + 1
  local code = codes[math.random(#codes)]
  local key = keys[math.random(#keys)]
  return wrk.format("GET", "/v1/standing/" .. code .. "?matter=XK-2026-" .. n,
                    {["Authorization"] = "Bearer " .. key})
end
done = function(summary, latency, requests)
  io.write(string.format(
    'WRK {"requests": %%d, "duration_us": %%d, "non2xx": %%d, "socket_errors": %%d, '
    .. '"p50_ms": %%.2f, "p90_ms": %%.2f, "p99_ms": %%.2f, "max_ms": %%.2f}\\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000))
end
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(base: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(base + "/v1/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("the server did not answer /v1/health in time")


def _wrk(base: str, script: Path, connections: int, seconds: int, threads: int) -> dict[str, Any]:
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "5s",
        "-s",
        str(script),
    ]
    out = subprocess.run([*command, base], capture_output=True, text=True, check=True, timeout=seconds + 60)
    line = next(line for line in out.stdout.splitlines() if line.startswith("WRK "))
    result = json.loads(line[4:])
    result["rps"] = round(result["requests"] / (result["duration_us"] / 1e6), 1)
    result["connections"] = connections
    return result


def _serve(url: str, port: int, home: Path) -> subprocess.Popen[bytes]:
    env = os.environ | {"GATEWAY_DATABASE_URL": url, "GATEWAY_HOME": str(home)}
    command = [sys.executable, "-m", "gateway.credit.lookup", "serve", "--port", str(port), "--workers", "2"]
    return subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def measure(url: str, made: dict[str, Any], args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    from sqlalchemy import func, select

    from gateway.credit.lookup.tables import lookup_query
    from gateway.store.db import engine_for

    script = folder / "lookup.lua"
    script.write_text(
        LUA
        % {
            "codes": ",".join(f'"{c}"' for c in made["sample"]),
            "keys": ",".join(f'"{k}"' for k in made["keys"]),
        },
        encoding="utf-8",
    )
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = _serve(url, port, folder / "home")
    runs = []
    try:
        _wait_healthy(base, server)
        warm = _wrk(base, script, 8, args.warmup, args.threads)
        completed = warm["requests"]
        for connections in args.connections:
            result = _wrk(base, script, connections, args.duration, args.threads)
            completed += result["requests"]
            runs.append(result)
            print(
                f"  c={connections}: {result['rps']:,.0f} req/s, p50 {result['p50_ms']} ms, "
                f"p90 {result['p90_ms']} ms, p99 {result['p99_ms']} ms (non-2xx {result['non2xx']}, "
                f"socket errors {result['socket_errors']})",
                file=sys.stderr,
            )
    finally:
        _stop(server)
    with engine_for(url).connect() as conn:
        logged = conn.execute(select(func.count()).select_from(lookup_query)).scalar_one()
        found = conn.execute(
            select(func.count()).select_from(lookup_query).where(lookup_query.c.outcome == "found")
        ).scalar_one()
    engine_for(url).dispose()
    in_flight = 8 + sum(args.connections)
    return {
        "runs": runs,
        "completed_requests": completed,
        "logged_rows": logged,
        "logged_found": found,
        "every_request_logged": completed <= logged <= completed + in_flight,
    }


@contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    """A migrated empty store: a SQLite file in ``folder``, or a new PostgreSQL database (dropped after)."""
    from gateway.store.db import engine_for, migrate

    if kind == "sqlite":
        url = f"sqlite:///{folder / 'gateway.db'}"
        migrate(url)
        try:
            yield url
        finally:
            engine_for(url).dispose()
        return
    from run import postgres_database  # bench/run.py's throw-away database (BENCH_PG_URL)

    with postgres_database() as url:
        if url is None:
            raise SystemExit("bench/lookup.py: PostgreSQL is not reachable (BENCH_PG_URL); use --db sqlite")
        try:
            migrate(url)
            yield url
        finally:
            engine_for(url).dispose()


def one_database(kind: str, args: argparse.Namespace) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="bench-lookup-"))
    try:
        with database(kind, folder) as url:
            print(f"{kind}: seeding {args.entities:,} entities and {args.records:,} records", file=sys.stderr)
            made = seed(url, args.entities, args.records, args.callers)
            print(f"{kind}: serving with 2 workers, driving with wrk", file=sys.stderr)
            measured = measure(url, made, args, folder)
            size = (folder / "gateway.db").stat().st_size if kind == "sqlite" else None
        summary = {k: v for k, v in made.items() if k not in ("keys", "sample")}
        return {"database": kind, **summary, "sqlite_mb": size and round(size / 2**20), **measured}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "?",
    )
    return f"{os.cpu_count()} cores ({model}), Python {sys.version.split()[0]}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entities", type=int, default=300_000)
    parser.add_argument("--records", type=int, default=3_000_000)
    parser.add_argument(
        "--db", default="sqlite,postgresql", help="sqlite, postgresql or both (comma-separated)"
    )
    parser.add_argument("--duration", type=int, default=30, help="seconds per measured run")
    parser.add_argument("--warmup", type=int, default=5, help="seconds of warm-up before the runs")
    parser.add_argument(
        "--connections",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[8, 16, 32],
        help="wrk concurrencies, one run each (comma-separated)",
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="wrk threads (the load generator shares the cores)"
    )
    parser.add_argument("--callers", type=int, default=10, help="caller keys (one in five internal)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install -y wrk")
    print(_machine(), file=sys.stderr)
    results = [one_database(kind.strip(), args) for kind in args.db.split(",")]
    for result in results:
        print(json.dumps(result, ensure_ascii=False))
    for result in results:
        best = max(result["runs"], key=lambda run: run["rps"])
        print(
            f"{result['database']}: {result['entities']:,} entities, {result['records']:,} records "
            f"({result['payload_mb']:,} MB of payload); best {best['rps']:,.0f} req/s at "
            f"c={best['connections']} (p50 {best['p50_ms']} ms, p90 {best['p90_ms']} ms, "
            f"p99 {best['p99_ms']} ms); "
            f"query log {result['logged_rows']:,} rows for {result['completed_requests']:,} completed "
            "requests "
            f"({'every request logged' if result['every_request_logged'] else 'MISSING ROWS'})"
        )


if __name__ == "__main__":
    main()
