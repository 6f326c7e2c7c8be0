"""Batches must validate against schemas/batch.xsd with xmlschema and with libxml2 (lxml and xmllint).

The province may validate with either engine, so every case runs on all three; a bad batch must fail for
the reason the case is about, not merely fail, so each negative case names what the error must mention.
"""

from __future__ import annotations

import functools
import hashlib
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from lxml import etree
from stdnum.cn import uscc

from gateway.schema import TARGET_NAMESPACE, RecordType, batch_schema, load_record_types

XMLLINT = Path("/usr/bin/xmllint")

# Subjects: the GB 32100-2015 worked example (a 91 enterprise) and a real 92 个体工商户 code from
# python-stdnum's test list. Authorities: synthetic 忻州 机关 codes (11 + 140900), with valid GB 11714 and
# GB 32100 check characters, because no public Xinzhou USCC was found (docs/standards.md §1.5).
ENTERPRISE = "91350100M000100Y43"
SOLE_TRADER = "92340621MA2UK3PJXE"
MARKET_REGULATOR = "11140900MB19574292"  # 忻州市市场监督管理局 (synthetic)
APPROVAL_BUREAU = "11140900MB1958309H"  # 忻州市行政审批服务管理局 (synthetic)
ID_NUMBER = "11010519491231002X"  # GB 11643-1999 standard example, not a real person

PENALTY = {
    "CF_XDR_MC": "忻州市晋北食品贸易有限公司",
    "CF_XDR_LB": "法人及非法人组织",
    "CF_XDR_SHXYM": ENTERPRISE,
    "CF_XDR_GSZC": "110108000000016",
    "CF_XDR_ZZJG": ENTERPRISE[8:17],
    "CF_FRDB": "张三",
    "CF_FR_ZJLX": "身份证",
    "CF_FR_ZJHM": ID_NUMBER,
    "CF_WSH": "忻市监罚〔2024〕12号",
    "CF_WFXW": "销售超过保质期的食品",
    "CF_SY": "2024年1月9日，当事人在其经营场所销售超过保质期的预包装食品“老陈醋”12瓶，货值金额320元。",
    "CF_YJ": "《中华人民共和国食品安全法》第一百二十四条第一款第（五）项",
    "CF_CFLB": "罚款;没收违法所得",
    "CF_NR": "没收违法所得320元，并处罚款50000元。",
    "CF_NR_FK": "5.000000",
    "CF_NR_WFFF": "0.032",
    "CF_JDRQ": "2024-03-05",
    "CF_YXQ": "2024-09-05",
    "CF_GSJZQ": "2025-03-05",
    "CF_CFJG": "忻州市市场监督管理局",
    "CF_CFJGDM": MARKET_REGULATOR,
    "CF_SJLY": "忻州市市场监督管理局",
    "CF_SJLYDM": MARKET_REGULATOR,
}
LICENCE = {
    "XK_XDR_MC": "忻府区老王杂粮店",
    "XK_XDR_LB": "个体工商户",
    "XK_XDR_SHXYM": SOLE_TRADER,
    "XK_FRDB": "王五",
    "XK_XKWS": "食品经营许可决定书",
    "XK_WSH": "忻审批食经〔2024〕88号",
    "XK_XKLB": "普通",
    "XK_XKZS": "食品经营许可证",
    "XK_XKBH": "JY11409020012345",
    "XK_NR": "预包装食品（不含冷藏冷冻食品）销售；散装食品（不含冷藏冷冻食品）销售",
    "XK_JDRQ": "2024-04-10",
    "XK_YXQZ": "2024-04-10",
    "XK_YXQZI": "2029-04-09",
    "XK_XKJG": "忻州市行政审批服务管理局",
    "XK_XKJGDM": APPROVAL_BUREAU,
    "XK_ZT": "1",
    "XK_LYDW": "忻州市行政审批服务管理局",
    "XK_LYDWDM": APPROVAL_BUREAU,
    "BZ": "新办",
}

Values = dict[str, str]
Attributes = dict[str, str]


def _q(local: str) -> str:
    return f"{{{TARGET_NAMESPACE}}}{local}"


def _record(rt: RecordType, values: Values, **attributes: str) -> tuple[RecordType, Values, Attributes]:
    natural_key = "|".join(values.get(code, "") for code in rt.natural_key)
    base = {
        "op": "i",
        "id": f"r-{hashlib.sha1(natural_key.encode()).hexdigest()[:12]}",
        "key": natural_key,
        "version": "1",
        "sourceSha256": hashlib.sha256(natural_key.encode()).hexdigest(),
        "sourceRow": "2",
    }
    return rt, values, base | attributes


def _render(records: list[tuple[RecordType, Values, Attributes]], **batch_attributes: str) -> bytes:
    """A batch as the renderer will write it: fields in schema order, empty values left out."""
    ET.register_namespace("", TARGET_NAMESPACE)
    attributes = {
        "batchId": "20261128-000001-admin_penalty",
        "seq": "1",
        "sender": "XZ140900",
        "recordType": "admin_penalty",
        "createdAt": "2026-11-28T02:00:00Z",
        "count": str(len(records)),
        "schemaVersion": "1",
    }
    batch = ET.Element(_q("Batch"), attributes | batch_attributes)
    for rt, values, record_attributes in records:
        record = ET.SubElement(batch, _q("Record"), record_attributes)
        body = ET.SubElement(record, _q(rt.element))
        for code in rt.codes:
            if values.get(code):
                ET.SubElement(body, _q(code)).text = values[code]
    return ET.tostring(batch, encoding="utf-8", xml_declaration=True)


# -------------------------------------------------------------------------------------------- validators

Validator = Callable[[Path, Path], str]


def _with_xmlschema(schemas_dir: Path, document: Path) -> str:
    return "\n".join(str(e) for e in batch_schema(schemas_dir).iter_errors(str(document)))


@functools.cache
def _lxml_schema(batch_xsd: Path) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(batch_xsd)))


def _with_lxml(schemas_dir: Path, document: Path) -> str:
    schema = _lxml_schema(schemas_dir / "batch.xsd")
    if schema.validate(etree.parse(str(document))):
        return ""
    return "\n".join(e.message for e in schema.error_log)


def _with_xmllint(schemas_dir: Path, document: Path) -> str:
    run = subprocess.run(
        [str(XMLLINT), "--noout", "--schema", str(schemas_dir / "batch.xsd"), str(document)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode in (0, 3), f"xmllint could not run the check: {run.stderr}"
    return "" if run.returncode == 0 else run.stderr


VALIDATORS = [
    pytest.param(_with_xmlschema, id="xmlschema"),
    pytest.param(_with_lxml, id="lxml"),
    pytest.param(
        _with_xmllint,
        id="xmllint",
    ),
]


@pytest.fixture(scope="module")
def types(schemas_dir: Path) -> dict[str, RecordType]:
    return load_record_types(schemas_dir)


@pytest.fixture
def write(tmp_path: Path) -> Callable[[bytes], Path]:
    def _write(document: bytes) -> Path:
        path = tmp_path / "batch.xml"
        path.write_bytes(document)
        return path

    return _write


def test_sample_identifiers_are_real_format() -> None:
    """The sample data would pass the gateway's own identifier checks, not just the XSD patterns."""
    assert all(uscc.is_valid(code) for code in (ENTERPRISE, SOLE_TRADER, MARKET_REGULATOR, APPROVAL_BUREAU))


# ------------------------------------------------------------------------------------------ valid batches


@pytest.mark.parametrize("validate", VALIDATORS)
def test_example_batch_is_valid(
    validate: Validator, schemas_dir: Path, types: dict[str, RecordType], write: Callable[[bytes], Path]
) -> None:
    document = _render(
        [
            _record(types["admin_penalty"], PENALTY, id="r-42", entity=ENTERPRISE, attach="uscc"),
            _record(types["admin_license"], LICENCE, id="r-43", entity=SOLE_TRADER, attach="reg_no"),
        ]
    )
    assert validate(schemas_dir, write(document)) == ""


@pytest.mark.parametrize("validate", VALIDATORS)
def test_empty_batch_is_valid(validate: Validator, schemas_dir: Path, write: Callable[[bytes], Path]) -> None:
    assert validate(schemas_dir, write(_render([]))) == ""


@pytest.mark.parametrize("validate", VALIDATORS)
def test_natural_person_and_other_categories_are_valid(
    validate: Validator, schemas_dir: Path, types: dict[str, RecordType], write: Callable[[bytes], Path]
) -> None:
    person = {
        **{k: v for k, v in PENALTY.items() if not k.startswith(("CF_XDR_", "CF_FR"))},
        "CF_XDR_MC": "李四",
        "CF_XDR_LB": "自然人",
        "CF_XDR_ZJLX": "身份证",
        "CF_XDR_ZJHM": ID_NUMBER,
        "CF_CFLB": "警告",
        "CF_NR_FK": "",
        "CF_NR_WFFF": "",
    }
    other = {
        **LICENCE,
        "XK_XKLB": "其他（备案）",
        "XK_FR_ZJLX": "其他-军官证",
        "XK_FR_ZJHM": "军字第0012345号",
    }
    document = _render(
        [
            _record(types["admin_penalty"], person, op="d", version="3", attach="natural_person"),
            _record(types["admin_license"], other, op="u", version="2", attach="manual"),
        ]
    )
    assert validate(schemas_dir, write(document)) == ""


@pytest.mark.parametrize("validate", VALIDATORS)
@pytest.mark.parametrize("reason", ["publicity_expired", "credit_repaired"])
def test_a_withdrawal_the_gateway_decided_carries_its_reason(
    validate: Validator,
    reason: str,
    schemas_dir: Path,
    types: dict[str, RecordType],
    write: Callable[[bytes], Path],
) -> None:
    document = _render([_record(types["admin_penalty"], PENALTY, op="d", version="2", reason=reason)])
    assert validate(schemas_dir, write(document)) == ""


# -------------------------------------------------------------------------------------------- bad batches


def _penalty_with(**changes: str) -> Callable[[dict[str, RecordType]], bytes]:
    def build(types: dict[str, RecordType]) -> bytes:
        values = {k: v for k, v in {**PENALTY, **changes}.items() if v}
        return _render([_record(types["admin_penalty"], values)])

    return build


def _attributes(**attributes: str) -> Callable[[dict[str, RecordType]], bytes]:
    return lambda types: _render([_record(types["admin_penalty"], PENALTY, **attributes)])


def _batch_attributes(**attributes: str) -> Callable[[dict[str, RecordType]], bytes]:
    return lambda types: _render([_record(types["admin_penalty"], PENALTY)], **attributes)


def _duplicate_ids(types: dict[str, RecordType]) -> bytes:
    second = {**PENALTY, "CF_WSH": "忻市监罚〔2024〕13号"}
    penalty = types["admin_penalty"]
    return _render([_record(penalty, PENALTY, id="r-1"), _record(penalty, second, id="r-1")])


BAD = [
    pytest.param(_penalty_with(CF_WSH=""), "CF_WSH", id="missing-required-field"),
    pytest.param(_penalty_with(CF_XDR_MC="忻" * 201), "CF_XDR_MC", id="over-long-field"),
    pytest.param(_attributes(op="x"), "op", id="bad-op"),
    pytest.param(_penalty_with(CF_JDRQ="2024-02-30"), "CF_JDRQ", id="bad-date-day"),
    pytest.param(_penalty_with(CF_JDRQ="2024/03/05"), "CF_JDRQ", id="bad-date-format"),
    pytest.param(_penalty_with(CF_NR_FK="-1"), "CF_NR_FK", id="negative-amount"),
    pytest.param(_penalty_with(CF_NR_FK="0.1234567"), "CF_NR_FK", id="amount-over-six-decimals"),
    pytest.param(_penalty_with(CF_CFJGDM="9111000060003IOZSV"), "CF_CFJGDM", id="uscc-illegal-letters"),
    pytest.param(_penalty_with(CF_XDR_ZZJG="M000100Y"), "CF_XDR_ZZJG", id="org-code-too-short"),
    pytest.param(_penalty_with(CF_XDR_LB="企业"), "CF_XDR_LB", id="subject-category-not-in-list"),
    pytest.param(_penalty_with(CF_XDR_ZJLX="其他"), "CF_XDR_ZJLX", id="other-certificate-without-name"),
    pytest.param(_attributes(version="0"), "version", id="version-zero"),
    pytest.param(_attributes(entity="91350100M000100Y4"), "entity", id="entity-not-uscc"),
    pytest.param(_attributes(sourceSha256="AB" * 32), "sourceSha256", id="sha256-upper-case"),
    pytest.param(_attributes(attach="guess"), "attach", id="bad-attach-method"),
    pytest.param(_attributes(op="d", reason="forgotten"), "reason", id="unknown-withdrawal-reason"),
    pytest.param(_batch_attributes(schemaVersion="2"), "schemaVersion", id="other-schema-version"),
    pytest.param(_batch_attributes(createdAt="2026-11-28 02:00"), "createdAt", id="bad-created-at"),
    pytest.param(_duplicate_ids, "RecordIdUnique", id="duplicate-record-id"),
]


@pytest.mark.parametrize("validate", VALIDATORS)
def test_bad_batch_builders_start_from_a_valid_batch(
    validate: Validator, schemas_dir: Path, types: dict[str, RecordType], write: Callable[[bytes], Path]
) -> None:
    """Without this, a broken sample would make every negative case below pass for the wrong reason."""
    assert validate(schemas_dir, write(_penalty_with(BZ="")(types))) == ""
    assert validate(schemas_dir, write(_attributes(op="u")(types))) == ""
    assert validate(schemas_dir, write(_batch_attributes(seq="7")(types))) == ""


@pytest.mark.parametrize("validate", VALIDATORS)
@pytest.mark.parametrize(("build", "mentions"), BAD)
def test_bad_batch_fails_for_its_reason(
    validate: Validator,
    build: Callable[[dict[str, RecordType]], bytes],
    mentions: str,
    schemas_dir: Path,
    types: dict[str, RecordType],
    write: Callable[[bytes], Path],
) -> None:
    errors = validate(schemas_dir, write(build(types)))
    assert errors, "the batch should have been rejected"
    assert re.search(rf"\b{re.escape(mentions)}\b", errors), errors
