"""A store with entities, market_entity records, risk classes, lists, a plan and tasks, written straight into
the tables (the intake path has its own tests), for the draw tests and the DAG test."""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import Connection, func, insert, select

from gateway.credit.draws.lists import load_file
from gateway.credit.draws.plans import add_plan, add_task
from gateway.credit.draws.tables import draw_plan
from gateway.credit.risk.tables import credit_class, credit_model, credit_run
from gateway.ids.uscc import calc_check
from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.tables import entity, record, record_version, source_file
from gateway.transfer import generate_keys
from gateway.transfer.suites import DEFAULT_SUITE_ID, SM_SUITE_ID
from tests.paths import REPO_ROOT

HUB_ID = "SX-HUB"
SAMPLES = REPO_ROOT / "samples" / "credit"
ITEMS = SAMPLES / "抽查事项清单.csv"
INSPECTORS = SAMPLES / "执法检查人员名录.csv"
NOW = datetime(2025, 6, 1, tzinfo=UTC)


def uscc(n: int, prefix: str = "91", area: str = "140902") -> str:
    body = f"{prefix}{area}{n:09d}"
    return body + calc_check(body)


def make_keys(root: Path) -> Path:
    """Clear-text keys for both suites (tests only), made once and copied into each test's keys_dir."""
    generate_keys(
        root, Settings.sender_id, HUB_ID, suites=(DEFAULT_SUITE_ID, SM_SUITE_ID), insecure_plaintext=True
    )
    return root


def install_keys(template: Path, settings: Settings) -> None:
    shutil.copytree(template, settings.keys_dir, dirs_exist_ok=True)


def _source_file(conn: Connection, record_type: str) -> int:
    return conn.execute(
        insert(source_file)
        .values(
            source_id="xz_gsxt",
            kind="api",
            file_name=f"{record_type}.json",
            sha256=f"{record_type:0>64}"[-64:],
            size=1,
            record_type=record_type,
            status="accepted",
            receipt="{}",
            received_at=NOW,
        )
        .returning(source_file.c.id)
    ).scalar_one()


def add_records(
    conn: Connection, record_type: str, rows: Sequence[tuple[int | None, str, Mapping[str, str]]]
) -> None:
    """(entity_id, natural key, payload) per record, each as version 1, active."""
    if not rows:
        return
    file_id = _source_file(conn, record_type)
    first = (conn.execute(select(func.max(record.c.id))).scalar() or 0) + 1
    conn.execute(
        insert(record),
        [
            {
                "id": first + n,
                "record_type": record_type,
                "natural_key": key,
                "entity_id": entity_id,
                "status": "active" if entity_id else "unattached",
                "version": 1,
                "content_hash": "0" * 64,
                "source_file_id": file_id,
                "source_row": n + 1,
                "created_at": NOW,
                "updated_at": NOW,
            }
            for n, (entity_id, key, _) in enumerate(rows)
        ],
    )
    conn.execute(
        insert(record_version),
        [
            {
                "record_id": first + n,
                "version": 1,
                "operation": "i",
                "content_hash": "0" * 64,
                "payload": json.dumps(payload, ensure_ascii=False),
                "source_file_id": file_id,
                "source_sha256": "0" * 64,
                "source_row": n + 1,
                "created_at": NOW,
            }
            for n, (_, _, payload) in enumerate(rows)
        ],
    )


def add_entities(
    conn: Connection,
    classes: Mapping[str | None, int],
    *,
    start: int = 1,
    prefix: str = "91",
    area: str = "140902",
    enttype: str = "有限责任公司",
    state: str = "存续",
    run_id: int | None = None,
) -> list[tuple[int, str, str | None]]:
    """``classes[c]`` entities of class c (None: not classified) with a market_entity record each; the
    classes go into the finished credit run ``run_id`` (made if None). Returns (entity id, USCC, class)."""
    made: list[tuple[int, str, str | None]] = []
    n = start
    for cls, count in classes.items():
        for _ in range(count):
            code = uscc(n, prefix, area)
            entity_id = conn.execute(
                insert(entity)
                .values(
                    uscc=code,
                    name=f"忻州测试企业{n}有限公司",
                    name_norm=f"忻州测试企业{n}有限公司",
                    origin="record",
                    created_at=NOW,
                    updated_at=NOW,
                )
                .returning(entity.c.id)
            ).scalar_one()
            made.append((entity_id, code, cls))
            n += 1
    add_records(
        conn,
        "market_entity",
        [
            (
                entity_id,
                f"PRIPID-{code}",
                {
                    "ENTNAME": "x",
                    "UNISCID": code,
                    "ENTTYPE_CN": enttype,
                    "REGSTATE_CN": state,
                    "DOMDISTRICT": area,
                },
            )
            for entity_id, code, _ in made
        ],
    )
    classified = [(e, c) for e, _, c in made if c is not None]
    if classified:
        run_id = run_id or finished_run(conn, "2025-05")
        conn.execute(
            insert(credit_class),
            [
                {
                    "run_id": run_id,
                    "entity_id": e,
                    "class": c,
                    "score_class": c,
                    "score": 80.0,
                    "dimensions": "{}",
                    "evidence": "[]",
                }
                for e, c in classified
            ],
        )
    return made


def finished_run(conn: Connection, period: str, status: str = "finished") -> int:
    sha = f"{period:0>64}"[-64:]
    if not conn.execute(select(credit_model.c.sha256).where(credit_model.c.sha256 == sha)).first():
        conn.execute(
            insert(credit_model).values(sha256=sha, model_id="m", version="1", body="x", first_used_at=NOW)
        )
    return conn.execute(
        insert(credit_run)
        .values(
            period=period,
            as_of=date.fromisoformat(period + "-28"),
            model_sha256=sha,
            status=status,
            entities=0,
            started_at=NOW,
            finished_at=NOW,
            actor="test",
        )
        .returning(credit_run.c.id)
    ).scalar_one()


def load_samples(settings: Settings) -> None:
    load_file(settings, "items", ITEMS)
    load_file(settings, "inspectors", INSPECTORS)


def plan_and_task(
    settings: Settings,
    task_id: str = "T1",
    *,
    plan_id: str = "P2025",
    year: int = 2025,
    items: Sequence[str] = ("SC-AMR-001",),
    end_date: date = date(2025, 9, 26),
    mode: str = "不定向",
    filters: Mapping[str, object] | None = None,
    allow_repeat: bool = False,
) -> None:
    with engine_for(settings.database_url).begin() as conn:
        if not conn.execute(select(draw_plan.c.plan_id).where(draw_plan.c.plan_id == plan_id)).first():
            add_plan(conn, plan_id, f"{year}年度双随机抽查计划", year, "市市场监督管理局")
        add_task(
            conn,
            task_id,
            plan_id,
            f"任务{task_id}",
            items,
            mode,
            end_date,
            filters,
            allow_repeat=allow_repeat,
        )
