"""A workbook through the pipeline: each sheet that holds records is its own part, with its own header,
mapping, transaction and section of the receipt.

A licence sheet and a penalty sheet in one workbook both arrive; the 填报说明 sheet and the hidden code list
are named in the receipt as skipped; a sheet whose rows match no template or mapping is reported with the
row taken as its header and the template that came closest — never silently left out. Each part commits on
its own (as one source_file row, ``part`` = the sheet's name), so a crash between two sheets loses nothing
and repeats nothing: the rerun finds the parts already stored and processes the others. Once every part is
done the file's receipt is composed from the parts' and stored on each part's row, which is how a re-sent
file is answered as a duplicate.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from gateway.intake.source import WorkbookFile
from gateway.intake.workbook import header_spans
from gateway.mapping.engine import UnknownHeaders
from gateway.mapping.header_rows import header_note, locate_header
from gateway.mapping.spec import MappingSpec, choose_specs
from gateway.processing import process_rows
from gateway.receipts import MAX_ERRORS, IntakeReceipt
from gateway.schema.model import RecordType
from gateway.settings import Settings
from gateway.source_units import IngestResult, record_rejection, share_receipt

log = logging.getLogger(__name__)
_COUNTS = ("rows", "accepted", "rejected", "new", "updated", "unchanged", "queued", "withdrawn", "skipped")
_PART_KEYS = (
    "sheet",
    "status",
    "record_type",
    "record_type_label",
    "mapping",
    "mapping_label",
    "header_row",
    "header_rows",
    *_COUNTS,
    "file_error",
)


def ingest_workbook(
    settings: Settings,
    engine: Engine,
    book: WorkbookFile,
    base: IntakeReceipt,
    specs: Mapping[str, MappingSpec],
    record_types: Mapping[str, RecordType],
    now: datetime,
    *,
    land: bool,
    mapping_id: str | None = None,
    done: Mapping[str, IntakeReceipt] | None = None,
) -> IngestResult:
    """Every sheet of ``book``; ``done``: parts an interrupted run already stored (sheet → their receipt)."""
    base.format = book.format
    candidates, source = choose_specs(specs, base.department, mapping_id)
    parts: list[IntakeReceipt] = []
    skipped: list[dict[str, str]] = []
    ids: list[int] = []
    for sheet in book.sheets:
        if sheet.skipped:
            skipped.append({"sheet": sheet.name, "reason": sheet.skipped})
            continue
        if done and sheet.name in done:
            parts.append(done[sheet.name])
            continue
        part = base.fresh(sheet=sheet.name)
        try:
            choice = locate_header(sheet.preamble, candidates, record_types, source, header_spans(sheet))
        except UnknownHeaders as exc:
            part.fail("E_HEADERS", f"工作表「{sheet.name}」：{exc.message}")
            result = record_rejection(engine, part, now, part=sheet.name)
        else:
            part.header_row, part.header_rows = choice.row, choice.depth
            if note := header_note(choice):
                part.warnings.append(note)
            with book.open_sheet(
                sheet.name, header_row=choice.row, headers=choice.headers, depth=choice.depth
            ) as source_sheet:
                result = process_rows(
                    settings, engine, source_sheet, choice.plan, part, now, land=land, part=sheet.name
                )
        parts.append(result.receipt)
        if result.source_file_id is not None:
            ids.append(result.source_file_id)
    receipt = compose(base, parts, skipped)
    if receipt.parts or skipped:
        with engine.begin() as conn:  # every part's row now answers for the whole file
            share_receipt(conn, base.department, base.sha256, receipt)
    if not parts:
        return record_rejection(engine, receipt, now)
    first = ids[0] if ids else None
    return IngestResult(receipt, "rejected" if receipt.status == "rejected" else "processed", first)


def compose(
    base: IntakeReceipt, parts: Sequence[IntakeReceipt], skipped: list[dict[str, str]]
) -> IntakeReceipt:
    """The file's receipt: the parts' counts added up, their errors and skipped rows named by sheet."""
    receipt = base.fresh()
    receipt.skipped_sheets = skipped
    receipt.parts = [_summary(part) for part in parts]
    for key in _COUNTS:
        setattr(receipt, key, sum(int(getattr(part, key)) for part in parts))
    receipt.error_count = sum(part.error_count for part in parts)
    receipt.errors = _tagged([part for part in parts], "errors")[:MAX_ERRORS]
    receipt.skipped_rows = _tagged(parts, "skipped_rows")[:MAX_ERRORS]
    receipt.queued_rows = _tagged(parts, "queued_rows")[:MAX_ERRORS]
    receipt.warnings = [f"工作表「{part.sheet}」：{text}" for part in parts for text in part.warnings]
    receipt.warnings += [f"工作表「{entry['sheet']}」未读取：{entry['reason']}" for entry in skipped]
    statuses = {part.status for part in parts}
    if len(parts) == 1:
        only = parts[0]
        receipt.record_type, receipt.record_type_label = only.record_type, only.record_type_label
        receipt.mapping, receipt.mapping_label, receipt.threshold = (
            only.mapping,
            only.mapping_label,
            only.threshold,
        )
        receipt.encoding, receipt.header_row, receipt.header_rows = None, only.header_row, only.header_rows
    if not parts:
        names = "、".join(f"「{entry['sheet']}」" for entry in skipped) or "（无）"
        receipt.fail("E_NO_DATA", f"工作簿中没有可读取数据的工作表（{names}均未读取，原因见回执）")
    elif statuses == {"rejected"}:
        if len(parts) == 1 and parts[0].file_error:
            receipt.fail(str(parts[0].file_error["code"]), str(parts[0].file_error["message"]))
        else:
            receipt.fail("E_SHEETS", "工作簿中所有工作表均未接收，各工作表的原因见回执")
    elif statuses == {"accepted"}:
        receipt.status = "accepted"
    else:
        receipt.status = "partial"
    return receipt


def _summary(part: IntakeReceipt) -> dict[str, Any]:
    return {key: getattr(part, key) for key in _PART_KEYS}


def _tagged(parts: Sequence[IntakeReceipt], attribute: str) -> list[dict[str, object]]:
    return [{"sheet": part.sheet, **entry} for part in parts for entry in getattr(part, attribute)]
