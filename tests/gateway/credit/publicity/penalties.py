"""Administrative penalties for the publicity tests: payloads as intake stores them (field code → text), and
the same rows as the Arrow table periods.py reads (a column per binding)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pyarrow as pa
from sqlalchemy import Connection, insert, select

from gateway.credit.publicity.rules import PublicityRules, load_rules
from gateway.schema import load_record_types
from gateway.settings import CREDIT_DEFAULTS
from gateway.store.tables import outbox, record, record_version
from tests.gateway.credit.seed import NOW, Seed

AMR = "忻州市市场监督管理局"
AMR_CODE = "11140900MB1958231X"
ECOLOGY = "忻州市生态环境局"
ECOLOGY_CODE = "11140900MB1963712Y"
LEGAL = "法人及非法人组织"
PERSON = "自然人"
SOLE_TRADER = "个体工商户"


def shipped_rules(schemas_dir: Path) -> PublicityRules:
    return load_rules(CREDIT_DEFAULTS / "publicity.yaml", load_record_types(schemas_dir))


def payload(
    doc_no: str,
    decided: str | None,
    kinds: str,
    *,
    authority: str = ECOLOGY,
    authority_code: str = ECOLOGY_CODE,
    fine: str | None = None,
    confiscated: str | None = None,
    subject: str = LEGAL,
    own_end: str | None = None,
    until: str = "2099-12-31",
    violation: str = "违反《中华人民共和国大气污染防治法》",
) -> dict[str, str]:
    """A penalty's payload; fields given as None are left out, as intake leaves empty cells out."""
    fields = {
        "CF_WSH": doc_no,
        "CF_CFLB": kinds,
        "CF_JDRQ": decided,
        "CF_NR_FK": fine,
        "CF_NR_WFFF": confiscated,
        "CF_XDR_LB": subject,
        "CF_GSJZQ": own_end,
        "CF_YXQ": until,
        "CF_CFJG": authority,
        "CF_CFJGDM": authority_code,
        "CF_WFXW": violation,
        "CF_YJ": "《中华人民共和国行政处罚法》",
    }
    return {code: value for code, value in fields.items() if value is not None}


def as_table(rules: PublicityRules, payloads: Mapping[int, Mapping[str, str]]) -> pa.Table:
    """The rows periods() reads: record_id, a text column per binding, sector_text."""
    binding = rules.record_types["admin_penalty"]
    ids = list(payloads)
    columns: dict[str, pa.Array] = {"record_id": pa.array(ids, pa.int64())}
    for name, code in binding.fields.items():
        columns[name] = pa.array([payloads[i].get(code) for i in ids], pa.string())
    columns["sector_text"] = pa.array(
        [" ".join(payloads[i].get(code, "") for code in binding.sector_fields) for i in ids], pa.string()
    )
    return pa.table(columns)


def put(
    seed: Seed,
    entity_id: int | None,
    body: dict[str, str],
    *,
    status: str = "active",
    department: str = "xz_eco",
) -> int:
    """A penalty record in the store; its key is the authority's code and the decision's number."""
    key = f"{body.get('CF_CFJGDM', '')}|{body['CF_WSH']}"
    return seed.record(entity_id, "admin_penalty", key, body, status=status, department=department)


def mark_sent(conn: Connection, record_id: int) -> None:
    """The record's current version went to the outbox: the hub has (or will have) it."""
    version_id = conn.execute(
        select(record_version.c.id)
        .join(record, record.c.id == record_version.c.record_id)
        .where(record.c.id == record_id, record_version.c.version == record.c.version)
    ).scalar_one()
    conn.execute(
        insert(outbox).values(record_version_id=version_id, record_type="admin_penalty", created_at=NOW)
    )
