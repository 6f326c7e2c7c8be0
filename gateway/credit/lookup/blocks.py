"""An entity's records → the blocks of a standing (docs/lookup.md, "What a lookup returns").

Each block takes from a record's current payload only the fields a department needs to decide — never a
person's ID number (法定代表人证件号码, 身份证号码 are not read) — under English keys; the labels people read
are the renderers' (gateway.credit.lookup.report). Which fields of which record type are read is declared
in FIELDS, and :func:`check_fields` holds it against the XSDs when the app starts, so a renamed field fails
the start with its name rather than every answer with a missing value.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from gateway.credit.lookup.db import day, moment
from gateway.schema import RecordType

RED_LISTS = ("serious_dishonesty", "dishonest_debtor", "abnormal_operation")
"""The 红线 lists, in the order a report shows them."""

RECORD_TYPES = ("market_entity", *RED_LISTS, "admin_penalty", "credit_commitment", "credit_repair")

# record type → {key in the answer: field code in the payload}
FIELDS: dict[str, dict[str, str]] = {
    "market_entity": {
        "name": "ENTNAME",
        "legal_representative": "NAME",
        "type": "ENTTYPE_CN",
        "registration_state": "REGSTATE_CN",
        "registration_authority": "REGORG_CN",
        "established_on": "ESTDATE",
        "address": "DOM",
        "reg_no": "REGNO",
    },
    "serious_dishonesty": {
        "list_id": "LIST_ID",
        "reason": "SERILLREA_CN",
        "listed_on": "ABNTIME",
        "listed_by": "DECORG_CN",
    },
    "abnormal_operation": {
        "list_id": "LIST_ID",
        "reason": "SPECAUSE_CN",
        "listed_on": "ABNTIME",
        "listed_by": "DECORG_CN",
    },
    "dishonest_debtor": {
        "case_no": "caseCode",
        "court": "courtName",
        "performance": "performance",
        "unperformed": "unperformPart",
        "reason": "disruptTypeName",
        "basis_no": "gistId",
        "filed_on": "regDate",
        "listed_on": "publishDate",
    },
    "admin_penalty": {
        "decision_no": "CF_WSH",
        "decided_on": "CF_JDRQ",
        "category": "CF_CFLB",
        "violation": "CF_WFXW",
        "content": "CF_NR",
        "fine_wan_yuan": "CF_NR_FK",
        "authority": "CF_CFJG",
        "declared_end": "CF_GSJZQ",
    },
    "credit_commitment": {
        "code": "code",
        "type": "commitmentType",
        "matter": "reason",
        "made_on": "commitmentDate",
        "valid_until": "commitmentValidity",
        "fulfilment": "fulfillmentStatus",
        "fulfilment_on": "fulfillmentStatusDate",
        "unperformed": "unperformedCommitmentContent",
        "accepted_by": "acceptanceUnit",
        "publication": "publicationType",
    },
    "credit_repair": {
        "repair_no": "repair_no",
        "repaired_type": "repaired_type",
        "repaired_key": "repaired_key",
        "repair_date": "repair_date",
        "repair_authority": "repair_authority",
        "repair_mode": "repair_mode",
        "repair_result": "repair_result",
    },
}

# The field that names a record to a person (the document or list number), per type that can be repaired
# or objected to; other types are named by their natural key.
KEY_FIELD = {
    "admin_penalty": "CF_WSH",
    "serious_dishonesty": "LIST_ID",
    "abnormal_operation": "LIST_ID",
    "dishonest_debtor": "caseCode",
    "credit_commitment": "code",
    "credit_repair": "repair_no",
    "market_entity": "PRIPID",
}

FULFILLED = "全部履行"
NOT_PUBLIC = "不可公开"


def check_fields(record_types: Mapping[str, RecordType]) -> None:
    """Refuse to start when a field this module reads is not in the record type's XSD."""
    for name, fields in FIELDS.items():
        known = record_types.get(name)
        if known is None:
            raise ValueError(f"schemas/{name}.xsd: record type {name} is missing; the lookup reads it")
        codes = set(known.codes)
        missing = [code for code in [*fields.values(), KEY_FIELD[name]] if code not in codes]
        if missing:
            raise ValueError(f"schemas/{name}.xsd: the lookup reads fields {missing} that {name} lacks")


@dataclass(frozen=True)
class Row:
    """One record as the standing query returns it (gateway.credit.lookup.standing.RECORDS)."""

    record_id: int
    record_type: str
    status: str
    natural_key: str
    version: int
    updated_at: datetime | None
    source: str
    payload: dict[str, Any]
    publicity_version: int | None
    repairable_on: str | None
    ends_on: str | None

    @classmethod
    def of(cls, values: tuple[Any, ...]) -> Row:
        rid, rtype, status, key, version, updated, source, payload, pver, repairable, ends = values
        return cls(
            int(rid),
            rtype,
            status,
            key,
            int(version),
            moment(updated),
            source,
            json.loads(payload),
            pver,
            day(repairable),
            day(ends),
        )

    def pick(self) -> dict[str, Any]:
        return {key: self.payload.get(code) for key, code in FIELDS[self.record_type].items()}

    @property
    def publicity_end(self) -> str | None:
        """The computed last day of publicity, when it was computed for the current version."""
        return self.ends_on if self.publicity_version == self.version else None

    @property
    def shown_key(self) -> str:
        return self.payload.get(KEY_FIELD.get(self.record_type, ""), None) or self.natural_key


def entity_block(entity: Mapping[str, Any], rows: Iterable[Row]) -> dict[str, Any]:
    """主体: the registry's name and codes, completed from the newest market-entity registration record."""
    registrations = [row for row in rows if row.record_type == "market_entity" and row.status == "active"]
    registration = max(registrations, key=lambda row: (row.updated_at, row.record_id), default=None)
    picked = registration.pick() if registration is not None else {}
    return {
        "name": picked.get("name") or entity["name"],
        "uscc": entity["uscc"],
        "reg_no": entity["reg_no"] or picked.get("reg_no"),
        "org_code": entity["org_code"],
        "legal_representative": picked.get("legal_representative"),
        "type": picked.get("type"),
        "registration_state": picked.get("registration_state"),
        "registration_authority": picked.get("registration_authority"),
        "established_on": picked.get("established_on"),
        "address": picked.get("address"),
        "registration_record": registration is not None,
    }


def red_list_item(row: Row) -> dict[str, Any]:
    item = {"record_id": row.record_id, **row.pick()}
    if row.record_type == "dishonest_debtor":
        item["listed_by"] = item["court"]
    item["until"] = row.publicity_end
    item["source"] = row.source
    return item


def penalty_item(row: Row, today: str) -> dict[str, Any] | None:
    """A penalty still in its publicity period, or None. Without a period computed for its current version
    it is shown with the end unknown: leaving it out would hide a penalty the department must see."""
    end = row.publicity_end
    if end is not None and end < today:
        return None  # ended; the daily withdrawal has not run yet
    return {
        "record_id": row.record_id,
        **row.pick(),
        "publicity_ends_on": end,
        "publicity_end_known": end is not None,
        "repairable_on": row.repairable_on if end is not None else None,
        "source": row.source,
    }


def commitment_item(row: Row, today: str, *, internal: bool) -> dict[str, Any] | None:
    """A commitment still in force, or one not fully performed (a breach stays relevant after its term);
    one marked 不可公开 only for the internal role."""
    item = row.pick()
    if item["publication"] == NOT_PUBLIC and not internal:
        return None
    in_force = not item["valid_until"] or item["valid_until"] >= today
    if not in_force and item["fulfilment"] == FULFILLED:
        return None
    return {"record_id": row.record_id, **item, "in_force": in_force, "source": row.source}


def repair_item(row: Row) -> dict[str, Any]:
    return {"record_id": row.record_id, **row.pick(), "source": row.source}


def repaired_record_item(row: Row, labels: Mapping[str, str], zone: tzinfo) -> dict[str, Any]:
    """A record a credit repair took out of use: the gateway withdrew it (status repaired) when it did."""
    return {
        "record_id": row.record_id,
        "record_type": row.record_type,
        "label": labels.get(row.record_type, row.record_type),
        "key": row.shown_key,
        "repaired_on": row.updated_at.astimezone(zone).date().isoformat() if row.updated_at else None,
    }
