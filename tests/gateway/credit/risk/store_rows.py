"""Rows in the store for the risk tests: entities and the current versions of their records, written the
way intake leaves them (record + record_version with the payload, from a source_file of a department)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Connection, insert, update

from gateway.store.tables import entity, record, record_version, source_file

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


@dataclass
class Store:
    conn: Connection
    files: dict[str, int] = field(default_factory=dict)

    def _file(self, department: str) -> int:
        if department not in self.files:
            self.files[department] = int(
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

    def entity(self, uscc: str, name: str = "") -> int:
        return int(
            self.conn.execute(
                insert(entity)
                .values(
                    uscc=uscc,
                    name=name or uscc,
                    name_norm=name or uscc,
                    origin="record",
                    created_at=NOW,
                    updated_at=NOW,
                )
                .returning(entity.c.id)
            ).scalar_one()
        )

    def record(
        self,
        entity_id: int,
        record_type: str,
        key: str,
        payload: dict[str, str],
        *,
        department: str = "xz_amr",
        status: str = "active",
        versions: int = 1,
        stored_at: datetime = NOW,
    ) -> int:
        """A record with ``versions`` versions (the later ones stored at ``stored_at``), the last current."""
        file_id = self._file(department)
        body = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        digest = hashlib.sha256(body.encode()).hexdigest()
        record_id = int(
            self.conn.execute(
                insert(record)
                .values(
                    record_type=record_type,
                    natural_key=key,
                    entity_id=entity_id,
                    attach_method="uscc",
                    status=status,
                    version=versions,
                    content_hash=digest,
                    source_file_id=file_id,
                    source_row=1,
                    created_at=NOW,
                    updated_at=NOW,
                )
                .returning(record.c.id)
            ).scalar_one()
        )
        for version in range(1, versions + 1):
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
                    created_at=NOW if version == 1 else stored_at,
                )
            )
        return record_id

    def withdraw(self, record_id: int) -> None:
        self.conn.execute(update(record).where(record.c.id == record_id).values(status="withdrawn"))
