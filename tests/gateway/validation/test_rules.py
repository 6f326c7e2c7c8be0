"""Cross-field rules and facets, on small hand-made columns."""

from __future__ import annotations

import pyarrow as pa

from gateway.schema.model import Condition, FieldSpec, RecordType, Rule, SubjectSpec
from gateway.validation import validate

FIELDS = (
    FieldSpec("MC", "名称", "Y", max_length=4),
    FieldSpec("LB", "类别", "Y", enumeration=("法人", "自然人")),
    FieldSpec("USCC", "信用代码", "C", check="uscc"),
    FieldSpec("REG", "注册号", "C", check="regno"),
    FieldSpec("CFLB", "处罚类别", "Y"),
    FieldSpec("FK", "罚款金额", "C", base="decimal", fraction_digits=6),
    FieldSpec("ZJHM", "证件号码", "N"),
    FieldSpec("RQ", "日期", "N", base="date"),
)
RTYPE = RecordType(
    name="probe",
    element="Probe",
    label="测试",
    version="1",
    fields=FIELDS,
    natural_key=("MC",),
    subject=SubjectSpec(name="MC"),
    rules=(
        Rule(
            "E_CODE",
            "须填写信用代码或注册号",
            Condition("LB", "equals", ("法人",)),
            require_any=("USCC", "REG"),
        ),
        Rule("E_FINE", "含罚款须填金额", Condition("CFLB", "contains", ("罚款",)), require=("FK",)),
        Rule(
            "E_ID",
            "自然人证件号码无效",
            Condition("LB", "equals", ("自然人",)),
            check=(("ZJHM", "resident_id"),),
        ),
    ),
)


def run(rows: list[dict[str, str | None]]) -> list[tuple[int, str, str]]:
    columns = {code: pa.array([r.get(code) for r in rows], pa.string()) for code in RTYPE.codes}
    columns["__row__"] = pa.array(range(2, len(rows) + 2), pa.int64())
    result = validate(RTYPE, pa.table(columns), lambda code: f"[{code}]")
    return [(e.row, e.field, e.code) for e in result.errors]


def test_a_clean_row_passes() -> None:
    assert (
        run(
            [
                {
                    "MC": "甲",
                    "LB": "法人",
                    "USCC": "91140902MA0K2B3C30",
                    "CFLB": "警告;罚款",
                    "FK": "0.5",
                    "RQ": "2026-01-02",
                }
            ]
        )
        == []
    )


def test_each_rule_and_facet_names_its_cell() -> None:
    errors = run(
        [
            {"MC": "太长的名称啊", "LB": "法人", "CFLB": "罚款"},
            {"MC": "乙", "LB": "其他", "CFLB": "警告", "RQ": "2026/01/02"},
            {"MC": "丙", "LB": "自然人", "CFLB": "警告", "ZJHM": "110105194912310021"},
            {"MC": "丁", "LB": "法人", "REG": "140900200001233", "CFLB": "罚款", "FK": "1.1234567"},
            {"MC": None, "LB": "法人", "USCC": "91140902MA0K2B3C3X", "CFLB": "警告"},
        ]
    )
    assert errors == [
        (2, "[FK]", "E_FINE"),
        (2, "[MC]", "E_TOO_LONG"),
        (2, "[USCC]", "E_CODE"),
        (3, "[LB]", "E_CODELIST"),
        (3, "[RQ]", "E_DATE"),
        (4, "[ZJHM]", "E_ID"),
        (5, "[FK]", "E_DECIMAL"),
        (6, "[MC]", "E_REQUIRED"),
        (6, "[USCC]", "E_USCC"),
    ]


def test_bad_rows_are_split_off_and_good_rows_kept() -> None:
    columns = {
        code: pa.array(["甲", None], pa.string()) if code == "MC" else pa.array([None, None], pa.string())
        for code in RTYPE.codes
    }
    columns["LB"] = pa.array(["自然人", "自然人"])
    columns["CFLB"] = pa.array(["警告", "警告"])
    columns["__row__"] = pa.array([2, 3], pa.int64())
    result = validate(RTYPE, pa.table(columns), str)
    assert result.good.column("__row__").to_pylist() == [2]
    assert result.bad_rows == 1
