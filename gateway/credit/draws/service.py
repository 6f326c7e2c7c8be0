"""Running a task's draw and verifying it afterwards: the only module that writes draw_record and
draw_object.

A draw happens once per task, in one transaction: the population is frozen (the objects in scope, less those
another task drew this year unless the task allows repeats), the seed is made from it and the witnessed
nonce, objects are drawn per stratum and inspectors per object, and the whole is written as one canonical
JSON record signed with the gateway's key, next to the frozen population itself. Verification needs nothing
but that row and the gateway's public key: it is independent of whatever the store says later (an entity
that changes class, a list reloaded, a task deleted from the plan).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, insert, select, update

from gateway.credit.draws.algorithm import (
    ALGORITHM,
    DrawError,
    assign_inspectors,
    freeze,
    make_seed,
    thaw,
)
from gateway.credit.draws.algorithm import (
    select as select_objects,
)
from gateway.credit.draws.config import DrawConfig, load_config
from gateway.credit.draws.plans import Task, get_task
from gateway.credit.draws.population import apply_filters, directory, drawn_this_year
from gateway.credit.draws.signing import SignatureError, check_signature, gateway_keyring, record_signer
from gateway.credit.draws.tables import (
    draw_inspector,
    draw_item,
    draw_object,
    draw_plan,
    draw_record,
    draw_task,
)
from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.tables import entity
from gateway.transfer.errors import KeyringError


def canonical(obj: Any) -> str:
    """The record's one serialisation: sorted keys, no spaces, UTF-8 text (what is signed)."""
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


# ------------------------------------------------------------------------------------------ inspectors
def inspector_pools(
    conn: Connection, task: Task
) -> tuple[dict[str, list[str]], dict[str, list[str]], dict[str, str]]:
    """Per department of the task: its active inspectors holding every qualification its items require;
    with their declared conflicts and names. Conflicts are applied per object by the draw itself."""
    items = conn.execute(
        select(draw_item.c.code, draw_item.c.department, draw_item.c.qualifications).where(
            draw_item.c.code.in_(task.items)
        )
    ).all()
    needed: dict[str, set[str]] = {dept: set() for dept in task.departments}
    for item in items:
        needed.setdefault(item.department, set()).update(json.loads(item.qualifications))
    rows = conn.execute(
        select(draw_inspector).where(
            draw_inspector.c.active.is_(True), draw_inspector.c.department.in_(task.departments)
        )
    ).all()
    pools: dict[str, list[str]] = {dept: [] for dept in task.departments}
    conflicts: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    for row in rows:
        if needed[row.department] <= set(json.loads(row.qualifications)):
            pools[row.department].append(row.code)
            names[row.code] = row.name
            declared = json.loads(row.conflicts)
            if declared:
                conflicts[row.code] = sorted(declared)
    for dept in pools:
        pools[dept].sort()
        if not pools[dept]:
            need = "、".join(sorted(needed[dept])) or "无特别资质"
            raise DrawError(
                f"部门 {dept} 没有在岗且具备所需资质（{need}）的执法检查人员：请先导入执法检查人员名录库"
            )
    return pools, conflicts, names


# ------------------------------------------------------------------------------------------------- run
@dataclass(frozen=True)
class DrawResult:
    task_id: str
    record: dict[str, Any]

    @property
    def counts(self) -> dict[str, dict[str, int]]:
        return self.record["counts"]

    @property
    def drawn(self) -> list[dict[str, Any]]:
        return self.record["drawn"]


def _items_of(conn: Connection, task: Task) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(draw_item.c.code, draw_item.c.name, draw_item.c.kind, draw_item.c.department)
        .where(draw_item.c.code.in_(task.items))
        .order_by(draw_item.c.code)
    ).all()
    found = {r.code for r in rows}
    missing = [c for c in task.items if c not in found]
    if missing:
        raise DrawError(f"任务 {task.task_id} 的抽查事项 {'、'.join(missing)} 已不在清单中")
    return [dict(r._mapping) for r in rows]


def build_record(
    conn: Connection, task: Task, nonce: str, config: DrawConfig, drawn_at: datetime, kid: str
) -> tuple[dict[str, Any], str, pa.Table]:
    """The record of a draw (not yet signed), the frozen population text and the drawn objects' rows."""
    items = _items_of(conn, task)
    scope = directory(conn, config)
    if task.mode == "定向":
        scope = apply_filters(scope, task.filters)
    scope_counts = (
        {v["values"]: v["counts"] for v in pc.value_counts(scope["stratum"]).to_pylist()}
        if scope.num_rows
        else {}
    )
    eligible = scope
    already = 0
    if not task.allow_repeat:
        earlier = pc.is_in(scope["entity_id"], drawn_this_year(conn, task.year))
        already = pc.sum(earlier).as_py() or 0
        eligible = scope.filter(pc.invert(earlier))
    if eligible.num_rows == 0:
        raise DrawError(
            f"任务 {task.task_id} 没有可抽取的对象（范围内 {scope.num_rows} 户，本年度已抽 {already} 户）"
        )
    frozen = freeze(eligible["uscc"], eligible["stratum"])
    seed = make_seed(task.plan_id, task.task_id, frozen.sha256, nonce)
    chosen = select_objects(frozen, seed, config.ratios, config.floor, scope_counts)
    pools, conflicts, names = inspector_pools(conn, task)
    assigned = assign_inspectors(seed, chosen.uscc, pools, conflicts, config.inspectors_per_department)
    objects = eligible.filter(pc.is_in(eligible["uscc"], pa.array(chosen.uscc, pa.string())))
    objects = objects.take(pc.sort_indices(objects, sort_keys=[("uscc", "ascending")]))
    entity_names = objects["name"].to_pylist()
    record = {
        "algorithm": ALGORITHM,
        "plan": task.plan_dict(),
        "task": task.as_dict(),
        "items": items,
        "nonce": nonce,
        "seed": seed.hex(),
        "population": {
            "sha256": frozen.sha256,
            "size": frozen.size,
            "scope_size": scope.num_rows,
            "drawn_earlier_this_year": already,
            "scope": config.uscc_prefixes,
            "exclude_states": config.exclude_states,
            "unclassified_stratum": config.unclassified_stratum,
        },
        "ratios": config.ratios,
        "floor": config.floor,
        "floor_total": chosen.floor_total,
        "counts": {name: q.as_dict() for name, q in chosen.quotas.items()},
        "inspectors_per_department": config.inspectors_per_department,
        "inspector_pool": pools,
        "inspector_conflicts": conflicts,
        "inspector_names": names,
        "drawn": [
            {"uscc": u, "name": n, "stratum": s, "inspectors": assigned[u]}
            for u, n, s in zip(chosen.uscc, entity_names, chosen.stratum, strict=True)
        ],
        "drawn_at": drawn_at.astimezone(UTC).isoformat(),
        "key_id": kid,
    }
    return record, frozen.text, objects


def run_draw(settings: Settings, task_id: str, nonce: str, *, now: datetime | None = None) -> DrawResult:
    """Draw the task's objects and inspectors, sign the record and store it; a task is drawn only once."""
    nonce = nonce.strip()
    if not nonce or len(nonce) > 128:
        raise DrawError("见证随机数（--nonce）不能为空，且不超过 128 个字符")
    config = load_config(settings.credit_dir)
    drawn_at = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    signer = record_signer(settings, int(drawn_at.timestamp()))  # before any work: no key, no draw
    with engine_for(settings.database_url).begin() as conn:
        task = get_task(conn, task_id)
        # One draw per year at a time (PostgreSQL): the year's plans are locked, so two tasks drawn at once
        # cannot both miss the other's objects in the no-repeat rule. SQLite has a single writer anyway.
        conn.execute(select(draw_plan.c.plan_id).where(draw_plan.c.year == task.year).with_for_update())
        done = conn.execute(select(draw_record.c.task_id).where(draw_record.c.task_id == task_id)).first()
        if done or task.status != "planned":
            raise DrawError(f"任务 {task_id} 已抽取，抽取结果不能重做；用 verify 复核、show 查看")
        record, population, objects = build_record(conn, task, nonce, config, drawn_at, signer.kid)
        text = canonical(record)
        signature = signer.sign(text.encode("utf-8"))
        conn.execute(
            insert(draw_record).values(
                task_id=task_id,
                seed=record["seed"],
                population_hash=record["population"]["sha256"],
                population_size=record["population"]["size"],
                nonce=nonce,
                record=text,
                population=population,
                signature=base64.b64encode(signature).decode("ascii"),
                key_id=signer.kid,
                drawn_at=drawn_at,
            )
        )
        by_uscc = dict(zip(objects["uscc"].to_pylist(), objects["entity_id"].to_pylist(), strict=True))
        rows = [
            {
                "task_id": task_id,
                "entity_id": by_uscc[o["uscc"]],
                "year": task.year,
                "stratum": o["stratum"],
                "inspectors": json.dumps(o["inspectors"]),
            }
            for o in record["drawn"]
        ]
        if rows:
            conn.execute(insert(draw_object), rows)
        conn.execute(update(draw_task).where(draw_task.c.task_id == task_id).values(status="drawn"))
    return DrawResult(task_id, record)


# ---------------------------------------------------------------------------------------------- verify
@dataclass(frozen=True)
class Verification:
    task_id: str
    ok: bool
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"task_id": self.task_id, "ok": self.ok, "reason": self.reason}


class Refused(Exception):
    """Why a stored draw does not verify."""


def _stored_objects(conn: Connection, task_id: str) -> list[tuple[str, str, list[str]]]:
    rows = conn.execute(
        select(entity.c.uscc, draw_object.c.stratum, draw_object.c.inspectors)
        .join(entity, entity.c.id == draw_object.c.entity_id)
        .where(draw_object.c.task_id == task_id)
        .order_by(entity.c.uscc)
    ).all()
    return [(r.uscc, r.stratum, json.loads(r.inspectors)) for r in rows]


def _check(settings: Settings, conn: Connection, task_id: str) -> str:
    row = conn.execute(select(draw_record).where(draw_record.c.task_id == task_id)).first()
    if row is None:
        raise Refused(f"任务 {task_id} 没有抽取记录")
    try:
        record = json.loads(row.record)
    except json.JSONDecodeError as exc:
        raise Refused(f"抽取记录不是有效的 JSON（{exc.msg}，第 {exc.pos} 个字符）") from exc
    if not isinstance(record, dict) or canonical(record) != row.record:
        raise Refused("抽取记录不是规范 JSON（键须排序、无空白），记录被改动过")
    try:
        drawn_at = int(datetime.fromisoformat(record["drawn_at"]).timestamp())
        signature = base64.b64decode(row.signature, validate=True)
        check_signature(
            gateway_keyring(settings),
            settings.sender_id,
            row.key_id,
            signature,
            row.record.encode("utf-8"),
            drawn_at,
        )
    except (KeyError, ValueError, TypeError, binascii.Error) as exc:
        raise Refused(f"签名无法核验：签名或记录格式不对（{exc}）") from exc
    except (SignatureError, KeyringError) as exc:
        raise Refused(f"签名验证失败：{exc}") from exc
    if record.get("algorithm") != ALGORITHM:
        raise Refused(f"记录使用的算法 {record.get('algorithm')!r} 不是本网关的 {ALGORITHM}")
    if record["task"]["id"] != task_id or record["key_id"] != row.key_id:
        raise Refused(f"签名有效，但记录属于任务 {record['task']['id']}，不是 {task_id}")
    columns = (row.seed, row.population_hash, row.population_size, row.nonce)
    said = (record["seed"], record["population"]["sha256"], record["population"]["size"], record["nonce"])
    if columns != said:
        raise Refused("抽取记录表的种子、范围哈希、范围大小或随机数与签名的记录不一致")
    if hashlib.sha256(row.population.encode("utf-8")).hexdigest() != record["population"]["sha256"]:
        raise Refused("冻结的抽取范围与记录中的哈希不符：范围被改动过")
    try:
        frozen = thaw(row.population)
    except DrawError as exc:
        raise Refused(str(exc)) from exc
    if frozen.size != record["population"]["size"]:
        raise Refused("冻结的抽取范围户数与记录不符")
    seed = make_seed(record["plan"]["id"], task_id, frozen.sha256, record["nonce"])
    if seed.hex() != record["seed"]:
        raise Refused("种子与 计划编号‖任务编号‖范围哈希‖随机数 重新计算的结果不符")
    scope_counts = {name: c["scope"] for name, c in record["counts"].items()}
    chosen = select_objects(frozen, seed, record["ratios"], record["floor"], scope_counts)
    expected = list(zip(chosen.uscc, chosen.stratum, strict=True))
    listed = [(o["uscc"], o["stratum"]) for o in record["drawn"]]
    if expected != listed:
        # USCCs only: the strata are risk classes, which whoever may verify a draw need not be allowed to see.
        wrong = sorted({uscc for uscc, _ in set(listed) ^ set(expected)})[:3]
        raise Refused(f"按记录重新抽取，抽中的对象与记录不同（如 {wrong}）")
    counts = {name: q.as_dict() for name, q in chosen.quotas.items()}
    if counts != record["counts"]:
        raise Refused("按记录重新抽取，各类别抽取数与记录不同")
    assigned = assign_inspectors(
        seed,
        chosen.uscc,
        record["inspector_pool"],
        record["inspector_conflicts"],
        record["inspectors_per_department"],
    )
    for obj in record["drawn"]:
        if assigned[obj["uscc"]] != obj["inspectors"]:
            raise Refused(f"按记录重新抽取，{obj['uscc']} 的执法检查人员与记录不同")
    stored = _stored_objects(conn, task_id)
    wanted = [(o["uscc"], o["stratum"], o["inspectors"]) for o in record["drawn"]]
    if stored != wanted:
        extra = [s[0] for s in stored if s not in wanted][:3]
        gone = [w[0] for w in wanted if w not in stored][:3]
        raise Refused(f"抽中对象表与签名的记录不一致：多出 {extra}，缺少 {gone}")
    return f"复核通过：{len(wanted)} 户对象，范围 {frozen.size} 户，签名密钥 {row.key_id}"


def verify_draw(settings: Settings, task_id: str) -> Verification:
    """Re-check a stored draw from its own row: signature, population hash, seed, the draw re-run, and the
    drawn-object rows; the first thing that does not hold is the reason it is refused."""
    with engine_for(settings.database_url).connect() as conn:
        try:
            return Verification(task_id, True, _check(settings, conn, task_id))
        except Refused as exc:
            return Verification(task_id, False, str(exc))
        except DrawError as exc:
            return Verification(task_id, False, f"按记录无法重新抽取：{exc}")
        except (KeyError, TypeError, AttributeError) as exc:
            return Verification(task_id, False, f"抽取记录缺少或写错了字段（{exc!r}）")


def stored_record(conn: Connection, task_id: str) -> dict[str, Any] | None:
    text = conn.execute(select(draw_record.c.record).where(draw_record.c.task_id == task_id)).scalar()
    return json.loads(text) if text is not None else None


__all__ = [
    "DrawResult",
    "Verification",
    "build_record",
    "canonical",
    "inspector_pools",
    "run_draw",
    "stored_record",
    "verify_draw",
]
