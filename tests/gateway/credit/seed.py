"""Rows in the store for the credit tests: entities and the current versions of their records, the way
intake leaves them (record + record_version with the payload, from a source_file of a department), and risk
runs with given classes (what the warnings' class_drop rule compares)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import Connection, insert, select, update

from gateway.credit.risk.tables import credit_class, credit_model, credit_run
from gateway.store.tables import entity, record, record_version, source_file

NOW = datetime(2026, 6, 30, 4, tzinfo=UTC)
AS_OF = date(2026, 6, 30)


@dataclass
class Seed:
    conn: Connection
    files: dict[str, int] = field(default_factory=dict)
    _uscc: int = 0

    def _file(self, department: str) -> int:
        if department not in self.files:
            known = self.conn.execute(
                select(source_file.c.id).where(source_file.c.source_id == department)
            ).scalar()
            self.files[department] = known or int(
                self.conn.execute(
                    insert(source_file)
                    .values(
                        source_id=department,
                        kind="file",
                        file_name=f"{department}.csv",
                        sha256=hashlib.sha256(department.encode()).hexdigest(),
                        size=1,
                        status="accepted",
                        receipt="{}",
                        received_at=NOW,
                    )
                    .returning(source_file.c.id)
                ).scalar_one()
            )
        return self.files[department]

    def entity(self, name: str, uscc: str | None = None) -> int:
        """An entity named ``name``; its USCC is ``uscc`` or the next made-up enterprise code."""
        self._uscc += 1
        uscc = uscc or f"91140900MA{self._uscc:07d}X"[:18]
        return int(
            self.conn.execute(
                insert(entity)
                .values(uscc=uscc, name=name, name_norm=name, origin="record", created_at=NOW, updated_at=NOW)
                .returning(entity.c.id)
            ).scalar_one()
        )

    def record(
        self,
        entity_id: int | None,
        record_type: str,
        key: str,
        payload: dict[str, str],
        *,
        department: str = "xz_amr",
        status: str = "active",
    ) -> int:
        file_id = self._file(department)
        body, digest = _body(payload)
        record_id = int(
            self.conn.execute(
                insert(record)
                .values(
                    record_type=record_type,
                    natural_key=key,
                    entity_id=entity_id,
                    attach_method="uscc" if entity_id else None,
                    status=status,
                    version=1,
                    content_hash=digest,
                    source_file_id=file_id,
                    source_row=1,
                    created_at=NOW,
                    updated_at=NOW,
                )
                .returning(record.c.id)
            ).scalar_one()
        )
        self._version(record_id, 1, body, digest, file_id)
        return record_id

    def new_version(self, record_id: int, version: int, payload: dict[str, str]) -> None:
        """A changed record: version ``version`` becomes the current one."""
        body, digest = _body(payload)
        file_id = self._file("xz_amr")
        self._version(record_id, version, body, digest, file_id)
        self.conn.execute(
            update(record).where(record.c.id == record_id).values(version=version, content_hash=digest)
        )

    def _version(self, record_id: int, version: int, body: str, digest: str, file_id: int) -> None:
        self.conn.execute(
            insert(record_version).values(
                record_id=record_id,
                version=version,
                operation="i" if version == 1 else "u",
                content_hash=digest,
                payload=body,
                source_file_id=file_id,
                source_sha256="0" * 64,
                source_row=1,
                created_at=NOW,
            )
        )

    def run(self, period: str, as_of: date, classes: dict[int, str], status: str = "finished") -> int:
        """A risk run with these classes (entity id → class)."""
        if self.conn.execute(select(credit_model.c.sha256)).first() is None:
            self.conn.execute(
                insert(credit_model).values(
                    sha256="a" * 64, model_id="m", version="1", body="{}", first_used_at=NOW
                )
            )
        run_id = int(
            self.conn.execute(
                insert(credit_run)
                .values(
                    period=period,
                    as_of=as_of,
                    model_sha256="a" * 64,
                    status=status,
                    entities=len(classes),
                    started_at=NOW,
                    finished_at=NOW,
                    actor="test",
                )
                .returning(credit_run.c.id)
            ).scalar_one()
        )
        self.conn.execute(
            insert(credit_class),
            [
                {
                    "run_id": run_id,
                    "entity_id": entity_id,
                    "class": cls,
                    "score_class": cls,
                    "score": 50.0,
                    "dimensions": "{}",
                    "evidence": "[]",
                }
                for entity_id, cls in classes.items()
            ],
        )
        return run_id


def _body(payload: dict[str, str]) -> tuple[str, str]:
    body = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return body, hashlib.sha256(body.encode()).hexdigest()


def penalty(seed: Seed, entity_id: int, doc_no: str, decided: str, fine: str = "1.5", **kw: str) -> int:
    return seed.record(
        entity_id,
        "admin_penalty",
        f"11140900MB0000000X|{doc_no}",
        {"CF_WSH": doc_no, "CF_JDRQ": decided, "CF_NR_FK": fine, "CF_CFJG": "忻州市市场监督管理局"},
        **kw,
    )


def market_entity(
    seed: Seed,
    entity_id: int,
    name: str,
    representative: str,
    address: str,
    state: str = "存续（在营、开业、在册）",
) -> int:
    return seed.record(
        entity_id,
        "market_entity",
        f"PRIPID{entity_id}",
        {"ENTNAME": name, "NAME": representative, "DOM": address, "REGSTATE_CN": state},
    )
