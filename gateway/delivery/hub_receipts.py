"""What the hub refused, told to the department that sent it, next to its archived export file.

``<archived file>.hub-receipt.json`` for systems and ``.hub-receipt.txt`` in Chinese for people. Both are
written again from the database whenever a receipt names records of that file, so they always list every
refusal so far, and a rerun after a crash (the receipt is pushed for again, the same rows come back) writes
the same files. They are written inside the transaction that records the refusals, before its commit: if
the write fails nothing is recorded and the next run tries again.
"""

from __future__ import annotations

import json
import logging
import os
import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, select

from gateway.delivery.ledger import utc
from gateway.schema import load_record_types
from gateway.schema.model import RecordType
from gateway.settings import Settings
from gateway.store.tables import record, record_version, source_file

log = logging.getLogger(__name__)
JSON_SUFFIX = ".hub-receipt.json"
TEXT_SUFFIX = ".hub-receipt.txt"
TEXT_LIMIT = 500
_FIELD_CODE = re.compile(r"\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b")


def _labelled(message: str, rtype: RecordType | None) -> str:
    """The hub speaks in field codes (CF_WFXW); the department knows its columns by their labels."""
    if rtype is None:
        return message
    codes = set(rtype.codes)
    return _FIELD_CODE.sub(
        lambda m: f"「{rtype.field(m.group()).label}」" if m.group() in codes else m.group(), message
    )


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with tmp.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _refusals(
    conn: Connection, source_file_id: int, settings: Settings, record_types: Mapping[str, RecordType]
) -> list[dict[str, object]]:
    stmt = (
        select(
            record_version.c.source_row,
            record.c.record_type,
            record.c.natural_key,
            record_version.c.version,
            record_version.c.operation,
            record_version.c.hub_code,
            record_version.c.hub_message,
            record_version.c.hub_batch_id,
            record_version.c.hub_rejected_at,
        )
        .join(record, record.c.id == record_version.c.record_id)
        .where(record_version.c.source_file_id == source_file_id, record_version.c.hub_code.is_not(None))
        .order_by(record_version.c.source_row, record_version.c.id)
    )
    return [
        {
            "row": r.source_row,
            "record_type": r.record_type,
            "key": r.natural_key,
            "version": r.version,
            "operation": r.operation,
            "code": r.hub_code,
            "message": _labelled(r.hub_message or "", record_types.get(r.record_type)),
            "hub_message": r.hub_message or "",
            "batch_id": r.hub_batch_id,
            "at": settings.local_time(utc(r.hub_rejected_at)) if r.hub_rejected_at else None,  # type: ignore[arg-type]
        }
        for r in conn.execute(stmt)
    ]


def render_text(document: dict[str, object]) -> str:
    refusals: list[dict[str, object]] = document["rejected"]  # type: ignore[assignment]
    lines = [
        "省级平台退回记录回执",
        f"文件：{document['file']}",
        f"报送单位目录：{document['department']}",
        f"SHA-256：{document['sha256']}",
        f"更新时间：{document['updated_at']}",
        "",
        f"省级平台拒收了本文件中的 {len(refusals)} 条记录，这些记录没有进入省级平台。"
        "请按下列原因更正后重新报送（更正后的记录会作为新版本上报）；本文件的其他记录不受影响。",
        "",
        "明细（行号按 Excel 行号计，表头为第 1 行）：",
    ]
    for item in refusals[:TEXT_LIMIT]:
        lines.append(
            f"  第 {item['row']} 行（{item['key']}，第 {item['version']} 版）：{item['message']}"
            f"（{item['code']}；批次 {item['batch_id']}，{item['at']}）"
        )
    if len(refusals) > TEXT_LIMIT:
        lines.append(f"  …… 共 {len(refusals)} 条，完整列表见同名 {JSON_SUFFIX} 文件")
    return "\n".join(lines) + "\n"


def write_for_files(
    conn: Connection, settings: Settings, source_file_ids: Iterable[int], now: datetime
) -> list[Path]:
    """Rewrite the hub receipts of these files; returns the text receipts written."""
    written: list[Path] = []
    wanted = sorted(set(source_file_ids))
    record_types = load_record_types(settings.schemas_dir) if wanted else {}
    for file_id in wanted:
        info = conn.execute(
            select(
                source_file.c.source_id,
                source_file.c.file_name,
                source_file.c.sha256,
                source_file.c.archived_path,
            ).where(source_file.c.id == file_id)
        ).one()
        if not info.archived_path:
            log.info(
                "hub refusals for %s/%s are recorded but it has no archived file to write them next to",
                info.source_id,
                info.file_name,
            )
            continue
        archived = Path(info.archived_path)
        if not archived.parent.is_dir():
            log.warning("archive folder of %s is gone; hub receipt not written", archived)
            continue
        document: dict[str, object] = {
            "file": info.file_name,
            "department": info.source_id,
            "sha256": info.sha256,
            "updated_at": settings.local_time(now),
            "rejected": _refusals(conn, file_id, settings, record_types),
        }
        _write_atomically(
            archived.with_name(archived.name + JSON_SUFFIX),
            json.dumps(document, ensure_ascii=False, indent=2).encode(),
        )
        text_path = archived.with_name(archived.name + TEXT_SUFFIX)
        _write_atomically(text_path, render_text(document).encode())
        written.append(text_path)
    return written
