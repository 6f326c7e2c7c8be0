"""Attachment order: USCC, then legacy registration number / organisation code, then a unique exact name."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
from sqlalchemy import insert, select

from gateway.entities import attach, normalize_name
from gateway.schema.model import FieldSpec, RecordType, SubjectSpec
from gateway.store.db import engine_for
from gateway.store.tables import entity

NOW = datetime(2026, 11, 28, tzinfo=UTC)
RTYPE = RecordType(
    name="probe",
    element="Probe",
    label="测试",
    version="1",
    fields=tuple(FieldSpec(code, code) for code in ("MC", "LB", "USCC", "REG", "ORG")),
    natural_key=("MC",),
    subject=SubjectSpec(
        name="MC", kind="LB", uscc="USCC", reg_no="REG", org_code="ORG", natural_person_values=("自然人",)
    ),
)


def table(rows: list[tuple[str | None, ...]]) -> pa.Table:
    columns = list(zip(*rows, strict=True))
    return pa.table(
        {code: pa.array(col, pa.string()) for code, col in zip(RTYPE.codes, columns, strict=True)}
    )


def test_names_normalise_width_and_spaces() -> None:
    assert normalize_name(" 忻州市 晋北商贸（有限）公司 ") == normalize_name("忻州市晋北商贸(有限)公司")


def test_each_way_of_attaching(database_url: str) -> None:
    engine = engine_for(database_url)
    with engine.begin() as conn:
        conn.execute(
            insert(entity),
            [
                {
                    "uscc": "91140921MA0K4D5E9E",
                    "name": "定襄县宏达机械制造有限公司",
                    "name_norm": "定襄县宏达机械制造有限公司",
                    "org_code": "MA0K4D5E9",
                    "reg_no": "140900200001233",
                    "origin": "registry",
                    "created_at": NOW,
                    "updated_at": NOW,
                },
                {
                    "uscc": "91140930MA0KCQ3R14",
                    "name": "河曲县黄河人家餐饮有限公司",
                    "name_norm": "河曲县黄河人家餐饮有限公司",
                    "org_code": "MA0KCQ3R1",
                    "reg_no": None,
                    "origin": "registry",
                    "created_at": NOW,
                    "updated_at": NOW,
                },
                # Two entities with one name: a name match between them would be a guess, so none is made.
                {
                    "uscc": "91140902MA0K2B3C30",
                    "name": "同名公司",
                    "name_norm": "同名公司",
                    "org_code": "MA0K2B3C3",
                    "reg_no": None,
                    "origin": "registry",
                    "created_at": NOW,
                    "updated_at": NOW,
                },
                {
                    "uscc": "91140981MA0K8H9J8Y",
                    "name": "同名公司",
                    "name_norm": "同名公司",
                    "org_code": "MA0K8H9J8",
                    "reg_no": None,
                    "origin": "registry",
                    "created_at": NOW,
                    "updated_at": NOW,
                },
            ],
        )
        result = attach(
            conn,
            RTYPE,
            table(
                [
                    ("新公司", "法人及非法人组织", "91140923MA0KBN2P5E", "140932200009876", None),
                    ("旧名", "法人及非法人组织", None, "140900200001233", None),
                    ("旧名", "法人及非法人组织", None, None, "MA0KCQ3R1"),
                    ("河曲县 黄河人家餐饮有限公司", "法人及非法人组织", None, None, None),
                    ("同名公司", "法人及非法人组织", None, None, None),
                    ("张三", "自然人", None, None, None),
                ]
            ),
            NOW,
        )
        assert result.method == ["uscc", "reg_no", "org_code", "name", None, "natural_person"]
        assert result.entity_uscc[:4] == [
            "91140923MA0KBN2P5E",
            "91140921MA0K4D5E9E",
            "91140930MA0KCQ3R14",
            "91140930MA0KCQ3R14",
        ]
        assert result.created == 1
        # The new entity learned its legacy registration number from the record that named it.
        again = attach(conn, RTYPE, table([("x", "法人及非法人组织", None, "140932200009876", None)]), NOW)
        assert again.entity_uscc == ["91140923MA0KBN2P5E"]


def test_a_registry_source_is_authoritative_and_registers_legacy_entities(database_url: str) -> None:
    from dataclasses import replace

    registry = replace(RTYPE, registry=True)
    with engine_for(database_url).begin() as conn:
        attach(
            conn,
            RTYPE,
            table([("记录里的旧名称", "法人及非法人组织", "91140921MA0K4D5E9E", None, None)]),
            NOW,
        )
        facts = attach(
            conn,
            registry,
            table(
                [
                    (
                        "定襄县宏达机械制造有限公司",
                        "法人及非法人组织",
                        "91140921MA0K4D5E9E",
                        "140900200001233",
                        None,
                    ),
                    ("偏关县老牛湾石料厂", "法人及非法人组织", None, "140932200009876", None),
                ]
            ),
            NOW,
        )
        assert facts.created == 1  # the legacy entity, registered without a USCC
        assert facts.method == ["uscc", "reg_no"]
        later = attach(
            conn,
            RTYPE,
            table(
                [
                    ("x", "法人及非法人组织", None, "140900200001233", None),
                    ("y", "法人及非法人组织", None, "140932200009876", None),
                ]
            ),
            NOW,
        )
        names = dict(conn.execute(select(entity.c.reg_no, entity.c.name)).all())
    assert later.method == ["reg_no", "reg_no"]
    assert later.entity_uscc == ["91140921MA0K4D5E9E", None]
    assert (
        names["140900200001233"] == "定襄县宏达机械制造有限公司"
    )  # the registry's name replaced the record's
