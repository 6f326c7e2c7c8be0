"""Credit repair applied: the repaired record leaves every feed (a d version for the hub, status repaired),
the decision stays a record of its own, warnings resting on it close, classes and warnings run again."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from sqlalchemy import Connection, insert, select

from gateway.credit import facts
from gateway.credit.repairs import apply_repairs
from gateway.credit.warnings.tables import credit_warning, credit_warning_event
from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.tables import outbox, record, record_version
from tests.gateway.credit.seed import NOW, Seed, penalty

LATER = datetime(2026, 12, 1, 1, tzinfo=UTC)
AS_OF = date(2026, 12, 1)


def _repair(seed: Seed, entity_id: int, number: str, names: str, result: str = "准予修复") -> int:
    return seed.record(
        entity_id,
        "credit_repair",
        number,
        {
            "repair_no": number,
            "repaired_type": "行政处罚",
            "repaired_key": names,
            "repair_date": "2026-11-20",
            "repair_result": result,
        },
        department="xz_credit_repair",
    )


def _sent(conn: Connection, record_id: int) -> None:
    """The record's first version went to the outbox: the hub has (or will have) it."""
    version_id = conn.execute(
        select(record_version.c.id).where(record_version.c.record_id == record_id)
    ).scalar_one()
    conn.execute(
        insert(outbox).values(record_version_id=version_id, record_type="admin_penalty", created_at=NOW)
    )


def _warning(conn: Connection, entity_id: int, record_ids: list[int], key: str) -> int:
    evidence = {"rule": "repeat_penalties", "records": [{"record_id": rid} for rid in record_ids]}
    return int(
        conn.execute(
            insert(credit_warning)
            .values(
                rule_id="repeat_penalties",
                entity_id=entity_id,
                level="yellow",
                department="xz_amr",
                title="多次处罚",
                evidence_key=key,
                evidence=json.dumps(evidence),
                state="new",
                raised_on=AS_OF,
                raised_at=NOW,
                updated_at=NOW,
            )
            .returning(credit_warning.c.id)
        ).scalar_one()
    )


def test_a_repaired_penalty_is_withdrawn_once_and_its_warning_closed(settings: Settings) -> None:
    with engine_for(settings.database_url).begin() as conn:
        seed = Seed(conn)
        firm = seed.entity("忻州甲公司")
        repaired = penalty(seed, firm, "忻市监罚〔2025〕6号", "2025-01-20")
        kept = penalty(seed, firm, "忻市监罚〔2025〕7号", "2025-02-20")
        _sent(conn, repaired)
        repair = _repair(seed, firm, "XF-1", "忻市监罚〔2025〕6号")
        on_repaired = _warning(conn, firm, [repaired, kept], "k1")
        on_kept = _warning(conn, firm, [kept], "k2")

    report = apply_repairs(settings, LATER, AS_OF, recompute=False)
    again = apply_repairs(settings, LATER, AS_OF, recompute=False)

    with engine_for(settings.database_url).connect() as conn:
        status = dict(conn.execute(select(record.c.id, record.c.status)).all())
        last = conn.execute(
            select(record_version.c.operation, record_version.c.reason)
            .where(record_version.c.record_id == repaired)
            .order_by(record_version.c.version.desc())
        ).first()
        queued = conn.execute(select(outbox.c.id)).all()
        states = dict(conn.execute(select(credit_warning.c.id, credit_warning.c.state)).all())
        why = conn.execute(
            select(credit_warning_event.c.actor, credit_warning_event.c.reason).where(
                credit_warning_event.c.warning_id == on_repaired
            )
        ).one()
        in_use = facts.records(conn, ["admin_penalty"])["record_id"].to_pylist()
    assert [(w.record_id, w.sent) for w in report.withdrawn] == [(repaired, True)]
    assert report.repairs == {repaired: repair} and report.entities == [firm]
    assert again.withdrawn == [] and again.warnings_closed == []
    assert status[repaired] == "repaired" and status[kept] == "active"
    assert status[repair] == "active"  # the decision stays, as a record of its own
    assert tuple(last) == ("d", "credit_repaired")  # type: ignore[arg-type]
    assert len(queued) == 2  # the first version and the withdrawal
    assert states == {on_repaired: "dismissed", on_kept: "new"}
    assert why[0] == "credit_repair" and f"信用修复记录 {repair}" in why[1]
    assert in_use == [kept]  # the credit computations no longer see it


def test_refused_and_unmatched_repairs_withdraw_nothing_and_are_reported(settings: Settings) -> None:
    with engine_for(settings.database_url).begin() as conn:
        seed = Seed(conn)
        firm = seed.entity("忻州乙公司")
        stays = penalty(seed, firm, "忻市监罚〔2025〕8号", "2025-03-01")
        _repair(seed, firm, "XF-2", "忻市监罚〔2025〕8号", result="不予修复")
        waiting = _repair(seed, firm, "XF-3", "忻市监罚〔2024〕99号")

    report = apply_repairs(settings, LATER, AS_OF, recompute=False)

    with engine_for(settings.database_url).connect() as conn:
        assert conn.execute(select(record.c.status).where(record.c.id == stays)).scalar_one() == "active"
    assert report.withdrawn == []
    assert report.unmatched == [(waiting, "行政处罚", "忻市监罚〔2024〕99号")]
    assert "1 条修复决定未找到被修复记录" in report.summary()


def test_a_repair_recomputes_the_classes_where_they_exist(settings: Settings) -> None:
    with engine_for(settings.database_url).begin() as conn:
        seed = Seed(conn)
        firm = seed.entity("忻州丙公司")
        repaired = penalty(seed, firm, "忻市监罚〔2025〕9号", "2025-04-01")
        _repair(seed, firm, "XF-4", "忻市监罚〔2025〕9号")
        seed.run("2026-11", date(2026, 11, 30), {firm: "C"})

    report = apply_repairs(settings, LATER, AS_OF)

    assert [w.record_id for w in report.withdrawn] == [repaired]
    assert report.risk_run is not None and report.warnings_raised is not None
    from gateway.credit.risk.tables import credit_class

    with engine_for(settings.database_url).connect() as conn:
        evidence = conn.execute(
            select(credit_class.c.evidence).where(
                credit_class.c.run_id == report.risk_run, credit_class.c.entity_id == firm
            )
        ).scalar_one()
    assert repaired not in {item[1] for item in json.loads(evidence)}
