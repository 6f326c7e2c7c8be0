"""hub/fastpath.py: what it accepts it reads as the careful path does; the rest it leaves to that path."""

from __future__ import annotations

import io
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.delivery.render import RenderRow, render_batch
from gateway.schema import load_record_types
from hub.fastpath import FastRead, NotFast
from hub.validate import BatchValidator, Row, Verdict

from .conftest import _PENALTY, SENDER, BatchWriter, Rec

PIECE = 2048  # a few records a piece, so that every batch here spans several pieces and the worker thread


def _fast(validator: BatchValidator, document: bytes, *, piece: int = PIECE) -> tuple[Verdict, list[Row]]:
    rows: list[Row] = []
    with FastRead(
        validator,
        batch_id="b-1",
        sender=SENDER,
        seq=1,
        sink=lambda _record_type, got: rows.extend(got),
        piece_bytes=piece,
    ) as fast:
        for at in range(0, len(document), 1000):
            fast.write(document[at : at + 1000])
        return fast.finish(), rows


def _careful(validator: BatchValidator, path: Path) -> tuple[Verdict, list[Row]]:
    verdict = validator.check(path, batch_id="b-1", sender=SENDER, seq=1)
    rows = [
        (r.idx, r.op, r.record_id, r.natural_key, r.version, r.entity, r.payload, r.reason)
        for r in validator.records(path, verdict.record_type)
    ]
    return verdict, rows


def _rendered(schemas_dir: Path, tmp_path: Path, rows: list[RenderRow]) -> Path:
    out = io.BytesIO()
    render_batch(
        out,
        rtype=load_record_types(schemas_dir)["admin_penalty"],
        batch_id="b-1",
        seq=1,
        sender=SENDER,
        created_at=datetime(2026, 11, 28, tzinfo=UTC),
        count=len(rows),
        rows=rows,
    )
    path = tmp_path / "b.xml"
    path.write_bytes(out.getvalue())
    return path


def test_a_batch_it_accepts_is_read_as_the_careful_path_reads_it(
    validator: BatchValidator, schemas_dir: Path, tmp_path: Path
) -> None:
    def payload(n: int) -> str:
        # Text that needs escaping in XML and in JSON, and a CRLF the parser turns into LF.
        fields = {
            **_PENALTY,
            "CF_WSH": f"忻市监罚〔2024〕{n}号",
            "CF_SY": f'经查 <{n}> & "引号" \\ 行一\r\n行二',
        }
        return json.dumps(fields, ensure_ascii=False)

    rows = [
        RenderRow("d" if n % 7 == 0 else "i", n, f"k{n}", 1 + n % 3, payload(n), entity="91140900MA0K000000")
        for n in range(1, 40)
    ]
    rows.append(RenderRow("d", 99, "k99", 2, payload(99), reason="credit_repaired"))
    path = _rendered(schemas_dir, tmp_path, rows)
    verdict, fast_rows = _fast(validator, path.read_bytes())
    careful, careful_rows = _careful(validator, path)
    assert careful.ok and (verdict.record_type, verdict.count) == (careful.record_type, careful.count) == (
        "admin_penalty",
        40,
    )
    assert fast_rows == careful_rows
    assert json.loads(fast_rows[0][6])["CF_SY"] == '经查 <1> & "引号" \\ 行一\n行二'
    assert fast_rows[-1][7] == "credit_repaired" and fast_rows[0][5] == "91140900MA0K000000"


def test_an_empty_batch_is_accepted(
    validator: BatchValidator, batch_writer: BatchWriter, tmp_path: Path
) -> None:
    path = batch_writer(tmp_path / "b.xml", batch_id="b-1", seq=1, records=[])
    assert _fast(validator, path.read_bytes()) == (Verdict(record_type="admin_penalty", count=0), [])


def _edited(batch_writer: BatchWriter, tmp_path: Path, old: str, new: str, *, count: int = 9) -> Path:
    path = batch_writer(tmp_path / "b.xml", batch_id="b-1", seq=1, records=[Rec()] * count)
    text = path.read_text("utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), "utf-8")
    return path


@pytest.mark.parametrize(
    ("old", "new", "careful_says"),
    [
        # the identity constraints span pieces: checked in code, as the XSD compares (version as a number)
        ('id="r8"', 'id="r0"', "RecordIdUnique"),
        (
            'id="r8" key="11140900MB0000000X|忻市监罚〔2024〕9号" version="1"',
            'id="r8" key="11140900MB0000000X|忻市监罚〔2024〕1号" version="01"',
            "RecordVersionUnique",
        ),
        ('count="9"', 'count="10"', "Batch/@count"),
        ('seq="1"', 'seq="2"', "Batch/@seq"),
        ("<CF_NR_FK>0.5</CF_NR_FK>", "<CF_NR_FK>-1</CF_NR_FK>", "CF_NR_FK"),
    ],
    ids=["duplicate-id", "duplicate-key-version-01", "count", "seq", "invalid-field"],
)
def test_anything_amiss_is_left_to_the_careful_path(
    validator: BatchValidator,
    batch_writer: BatchWriter,
    tmp_path: Path,
    old: str,
    new: str,
    careful_says: str,
) -> None:
    path = _edited(batch_writer, tmp_path, old, new)
    with pytest.raises(NotFast):
        _fast(validator, path.read_bytes())
    verdict, _ = _careful(validator, path)
    assert verdict.problem is not None
    assert careful_says in verdict.problem.message + "".join(r.message for r in verdict.rejections)


def test_another_record_type_is_left_to_the_careful_path(
    validator: BatchValidator, batch_writer: BatchWriter, tmp_path: Path
) -> None:
    path = batch_writer(
        tmp_path / "b.xml", batch_id="b-1", seq=1, records=[Rec()] * 6, record_type="admin_license"
    )
    path.write_text(path.read_text("utf-8").replace('"admin_license"', '"admin_penalty"'), "utf-8")
    with pytest.raises(NotFast):
        _fast(validator, path.read_bytes())
    assert not _careful(validator, path)[0].ok


def test_a_record_start_inside_a_comment_cannot_mislead_the_cuts(
    validator: BatchValidator, batch_writer: BatchWriter, tmp_path: Path
) -> None:
    # A cut inside the comment leaves it open at the end of its piece: that piece is not well-formed, the
    # fast path gives up and the careful path finds the batch valid.
    filler = "<Record " * 400
    path = _edited(
        batch_writer, tmp_path, '\n<Record op="i" id="r4"', f'\n<!-- {filler} -->\n<Record op="i" id="r4"'
    )
    with pytest.raises(NotFast, match="libxml2"):
        _fast(validator, path.read_bytes())
    verdict, rows = _careful(validator, path)
    assert verdict.ok and len(rows) == 9


def test_comments_inside_records_are_read_the_careful_way(
    validator: BatchValidator, batch_writer: BatchWriter, tmp_path: Path
) -> None:
    path = _edited(
        batch_writer,
        tmp_path,
        "<CF_SY>经查，当事人销售过期食品</CF_SY>",
        "<CF_SY>经查，<!-- 注 -->当事人销售过期食品</CF_SY>",
    )
    path.write_text(
        path.read_text("utf-8").replace("<AdminPenalty>", "<!-- 前 --><AdminPenalty>", 1), "utf-8"
    )
    verdict, rows = _fast(validator, path.read_bytes())
    assert verdict.ok and verdict.count == 9
    # All of the field's text, where the careful path's reading stops at the comment.
    assert json.loads(rows[0][6])["CF_SY"] == "经查，当事人销售过期食品"
    assert [row[1:6] for row in rows] == [row[1:6] for row in _careful(validator, path)[1]]


def test_a_doctype_is_left_to_the_careful_path_which_refuses_it(
    validator: BatchValidator, tmp_path: Path
) -> None:
    document = b'<?xml version="1.0"?><!DOCTYPE Batch [<!ENTITY x "xxxxxxxx">]><Batch>&x;</Batch>'
    with pytest.raises(NotFast):
        _fast(validator, document)
    path = tmp_path / "b.xml"
    path.write_bytes(document)
    verdict = validator.check(path, batch_id="b-1", sender=SENDER, seq=1)
    assert verdict.problem is not None and verdict.problem.code == "invalid_xml"


def test_other_identity_constraints_turn_the_fast_path_off(schemas_dir: Path, tmp_path: Path) -> None:
    changed = tmp_path / "schemas"
    shutil.copytree(schemas_dir, changed)
    xsd = changed / "batch.xsd"
    xsd.write_text(
        xsd.read_text("utf-8").replace('<xs:field xpath="@key"/>', '<xs:field xpath="@op"/>'), "utf-8"
    )
    validator = BatchValidator.from_dir(changed)
    assert validator.lean_schema is None
    with pytest.raises(NotFast):
        FastRead(validator, batch_id="b-1", sender=SENDER, seq=1, sink=lambda *_: None)
