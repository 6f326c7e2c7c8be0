"""Risk classes at city scale: classify N entities holding M records, on SQLite and on PostgreSQL.

    .venv/bin/python bench/credit_classes.py        # 1,000,000 entities, 10,000,000 records, both databases
    .venv/bin/python bench/credit_classes.py --entities 20000 --records 200000 --db sqlite   # a quick look

The store is filled the way intake leaves it (record + record_version with the JSON payload, one
source_file per department), with the record types the default model reads in proportions of a real city
(market registrations, penalties, complaints, licences, spot checks; few listings). The classification runs
in a child process of its own, which reports its wall time and its peak RSS (VmHWM), so the figure is the
classification's alone and not the generator's. Targets (issue #13): under 10 minutes and 2 GB for 1M / 10M
on this 2-core machine. Figures: docs/credit.md, "Scale".
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
AS_OF = date(2026, 11, 30)
CHUNK = 100_000

# Share of all records per type, and the payload each carries (the fields the default model reads).
MIX: dict[str, float] = {
    "market_entity": 0.10,  # one per entity when records = 10 × entities
    "admin_penalty": 0.20,
    "complaint": 0.20,
    "admin_license": 0.20,
    "spot_check": 0.15,
    "judicial_judgment": 0.05,
    "coercion_action": 0.03,
    "abnormal_operation": 0.03,
    "inspection_action": 0.025,
    "dishonest_debtor": 0.01,
    "serious_dishonesty": 0.005,
}


def _day(rng: random.Random, back: int) -> str:
    return (AS_OF - timedelta(days=rng.randint(0, back))).isoformat()


def _payload(record_type: str, rng: random.Random, serial: int) -> dict[str, str]:
    if record_type == "market_entity":
        return {"NAME": f"法人{rng.randint(1, 400_000)}", "ESTDATE": _day(rng, 9000), "REGSTATE_CN": "存续"}
    if record_type == "admin_penalty":
        return {"CF_WSH": f"忻罚〔2026〕{serial}号", "CF_JDRQ": _day(rng, 1600)}
    if record_type == "complaint":
        return {"complaint_no": f"TS{serial}", "accept_date": _day(rng, 900)}
    if record_type == "admin_license":
        return {
            "XK_WSH": f"XK{serial}",
            "XK_YXQZI": (AS_OF + timedelta(days=rng.randint(-400, 1500))).isoformat(),
        }
    if record_type == "spot_check":
        return {
            "CheckId": f"C{serial}",
            "InspectDate": _day(rng, 1200),
            "InspectResult": rng.choice(["未发现问题"] * 6 + ["发现问题，已责令改正"]),
        }
    if record_type == "judicial_judgment":
        return {"case_no": f"(2026)晋{serial}号", "judgment_date": _day(rng, 1500)}
    if record_type == "coercion_action":
        return {"measure_start_date": _day(rng, 1500)}
    if record_type == "dishonest_debtor":
        return {"caseCode": f"(2026)晋执{serial}号", "regDate": _day(rng, 900)}
    return {"LIST_ID": f"L{serial}", "ABNTIME": _day(rng, 1500)}


def generate(url: str, entities: int, records: int, seed: int = 7) -> dict[str, Any]:
    """Fill a migrated store with ``entities`` entities (95 % enterprises) and ``records`` records."""
    from sqlalchemy import insert

    from gateway.store.bulk import bulk_insert
    from gateway.store.db import engine_for
    from gateway.store.tables import entity, record, record_version, source_file

    rng = random.Random(seed)
    now = datetime(2026, 11, 30, tzinfo=UTC)
    started = time.monotonic()
    engine = engine_for(url)
    with engine.begin() as conn:
        conn.execute(
            insert(source_file).values(
                id=1,
                source_id="xz_bench",
                kind="file",
                file_name="bench.csv",
                sha256="0" * 64,
                size=1,
                status="accepted",
                receipt="{}",
                received_at=now,
            )
        )
        for start in range(0, entities, CHUNK):
            rows = []
            for n in range(start + 1, min(start + CHUNK, entities) + 1):
                kind = "91" if n % 20 else "92"  # one in twenty a sole trader, out of scope
                rows.append((n, f"{kind}1409{n:012d}", f"企业{n}", f"企业{n}", "record", now, now))
            bulk_insert(
                conn, entity, ["id", "uscc", "name", "name_norm", "origin", "created_at", "updated_at"], rows
            )
    record_id = 0
    per_type: dict[str, int] = {}
    for record_type, share in MIX.items():
        count = int(records * share)
        per_type[record_type] = count
        for start in range(0, count, CHUNK):
            rows, versions = [], []
            for serial in range(start, min(start + CHUNK, count)):
                record_id += 1
                owner = (
                    serial + 1
                    if record_type == "market_entity" and serial < entities
                    else rng.randint(1, entities)
                )
                body = json.dumps(
                    _payload(record_type, rng, serial),
                    ensure_ascii=False,
                    sort_keys=True,
                    separators=(",", ":"),
                )
                digest = hashlib.sha256(body.encode()).hexdigest()
                rows.append(
                    (
                        record_id,
                        record_type,
                        f"{record_type}:{serial}",
                        owner,
                        "uscc",
                        "active",
                        1,
                        digest,
                        1,
                        serial,
                        now,
                        now,
                    )
                )
                versions.append((record_id, record_id, 1, "i", digest, body, 1, "0" * 64, serial, now))
            with engine.begin() as conn:
                bulk_insert(
                    conn,
                    record,
                    [
                        "id",
                        "record_type",
                        "natural_key",
                        "entity_id",
                        "attach_method",
                        "status",
                        "version",
                        "content_hash",
                        "source_file_id",
                        "source_row",
                        "created_at",
                        "updated_at",
                    ],
                    rows,
                )
                bulk_insert(
                    conn,
                    record_version,
                    [
                        "id",
                        "record_id",
                        "version",
                        "operation",
                        "content_hash",
                        "payload",
                        "source_file_id",
                        "source_sha256",
                        "source_row",
                        "created_at",
                    ],
                    versions,
                )
        print(f"  {record_type}: {count:,} records ({time.monotonic() - started:.0f} s)", file=sys.stderr)
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
    return {
        "entities": entities,
        "records": record_id,
        "per_type": per_type,
        "generate_seconds": round(time.monotonic() - started, 1),
    }


def classify_child(url: str) -> dict[str, Any]:
    """Runs in its own process: classify once, report the time and this process's peak RSS."""
    from gateway.credit.facts import load_repair_rules
    from gateway.credit.risk.classify import classify
    from gateway.credit.risk.model import load_model
    from gateway.credit.risk.service import REPAIRS_FILE
    from gateway.schema import load_record_types
    from gateway.settings import CREDIT_DEFAULTS
    from gateway.store.db import engine_for

    model = load_model(CREDIT_DEFAULTS / "risk_model.yaml", load_record_types(ROOT / "schemas"))
    rules = load_repair_rules(CREDIT_DEFAULTS / REPAIRS_FILE)
    started = time.monotonic()
    with engine_for(url).begin() as conn:
        report = classify(conn, model, "2026-11", AS_OF, rules, actor="bench")
    seconds = time.monotonic() - started
    peak = next(
        int(line.split()[1]) * 1024
        for line in Path("/proc/self/status").read_text().splitlines()
        if line.startswith("VmHWM:")
    )
    return {
        "seconds": round(seconds, 1),
        "peak_rss_mb": round(peak / 2**20),
        "entities_classified": report.entities,
        "counts": report.counts,
        "vetoed": report.vetoed,
    }


def one_database(kind: str, entities: int, records: int) -> dict[str, Any]:
    from gateway.store.db import engine_for, migrate

    folder = Path(tempfile.mkdtemp(prefix="bench-credit-"))
    if kind == "sqlite":
        url, drop = f"sqlite:///{folder / 'gateway.db'}", None
    else:
        import psycopg

        name = f"bench_credit_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        url, drop = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}", name
    try:
        migrate(url)
        print(f"{kind}: generating {entities:,} entities and {records:,} records", file=sys.stderr)
        made = generate(url, entities, records)
        engine_for(url).dispose()
        print(f"{kind}: classifying (child process)", file=sys.stderr)
        out = subprocess.run(
            [sys.executable, __file__, "--child", url], capture_output=True, text=True, check=True
        )
        return {"database": kind, **made, **json.loads(out.stdout.strip().splitlines()[-1])}
    finally:
        if drop:
            import psycopg

            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{drop}" WITH (FORCE)')
        else:
            for path in folder.glob("*"):
                path.unlink()
            folder.rmdir()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entities", type=int, default=1_000_000)
    parser.add_argument("--records", type=int, default=10_000_000)
    parser.add_argument(
        "--db", default="sqlite,postgresql", help="sqlite, postgresql or both (comma-separated)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(classify_child(args.child)))
        return
    results = [one_database(kind.strip(), args.entities, args.records) for kind in args.db.split(",")]
    for result in results:
        print(json.dumps(result, ensure_ascii=False))
        print(
            f"{result['database']}: {result['entities_classified']:,} entities classified from "
            f"{result['records']:,} records in {result['seconds']} s, peak RSS {result['peak_rss_mb']} MB "
            f"(classes {result['counts']})"
        )


if __name__ == "__main__":
    main()
