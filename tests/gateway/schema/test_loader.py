"""The loader must hand every stage the field list, facets and rules exactly as the XSDs state them."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from gateway.schema import (
    Condition,
    RecordType,
    Rule,
    SchemaDefinitionError,
    SubjectSpec,
    batch_schema,
    element_to_type,
    load_record_type,
    load_record_types,
)

PENALTY_CODES = (
    "CF_XDR_MC", "CF_XDR_LB", "CF_XDR_SHXYM", "CF_XDR_GSZC", "CF_XDR_ZZJG", "CF_XDR_SWDJ", "CF_XDR_SYDW",
    "CF_XDR_SHZZ", "CF_FRDB", "CF_FR_ZJLX", "CF_FR_ZJHM", "CF_XDR_ZJLX", "CF_XDR_ZJHM", "CF_WSH", "CF_WFXW",
    "CF_SY", "CF_YJ", "CF_CFLB", "CF_NR", "CF_NR_FK", "CF_NR_WFFF", "CF_NR_ZKDX", "CF_JDRQ", "CF_YXQ",
    "CF_GSJZQ", "CF_CFJG", "CF_CFJGDM", "CF_SJLY", "CF_SJLYDM", "BZ",
)  # fmt: skip
PENALTY_LABELS = (
    "行政相对人名称", "行政相对人类别", "行政相对人代码_1(统一社会信用代码)",
    "行政相对人代码_2(工商注册号)", "行政相对人代码_3(组织机构代码)", "行政相对人代码_4(税务登记号)",
    "行政相对人代码_5(事业单位证书号)", "行政相对人代码_6(社会组织登记证号)", "法定代表人",
    "法定代表人证件类型", "法定代表人证件号码", "证件类型", "证件号码", "行政处罚决定书文号",
    "违法行为类型", "违法事实", "处罚依据", "处罚类别", "处罚内容", "罚款金额（万元）",
    "没收违法所得、没收非法财物的金额（万元）", "暂扣或吊销证照名称及编号", "处罚决定日期", "处罚有效期",
    "公示截止期", "处罚机关", "处罚机关统一社会信用代码", "数据来源单位", "数据来源单位统一社会信用代码",
    "备注",
)  # fmt: skip
PENALTY_REQUIRED = {
    "CF_XDR_MC", "CF_XDR_LB", "CF_WSH", "CF_WFXW", "CF_SY", "CF_YJ", "CF_CFLB", "CF_NR", "CF_JDRQ", "CF_YXQ",
    "CF_CFJG", "CF_CFJGDM", "CF_SJLY", "CF_SJLYDM",
}  # fmt: skip
PENALTY_CONDITIONAL = {
    "CF_XDR_SHXYM", "CF_FRDB", "CF_XDR_ZJLX", "CF_XDR_ZJHM", "CF_NR_FK", "CF_NR_WFFF", "CF_NR_ZKDX",
}  # fmt: skip

LICENCE_CODES = (
    "XK_XDR_MC", "XK_XDR_LB", "XK_XDR_SHXYM", "XK_XDR_GSZC", "XK_XDR_ZZJG", "XK_XDR_SWDJ", "XK_XDR_SYDW",
    "XK_XDR_SHZZ", "XK_FRDB", "XK_FR_ZJLX", "XK_FR_ZJHM", "XK_XDR_ZJLX", "XK_XDR_ZJHM", "XK_XKWS", "XK_WSH",
    "XK_XKLB", "XK_XKZS", "XK_XKBH", "XK_NR", "XK_JDRQ", "XK_YXQZ", "XK_YXQZI", "XK_XKJG", "XK_XKJGDM",
    "XK_ZT", "XK_LYDW", "XK_LYDWDM", "BZ",
)  # fmt: skip
LICENCE_LABELS = (
    "行政相对人名称", "行政相对人类别", "行政相对人代码_1(统一社会信用代码)",
    "行政相对人代码_2(工商注册号)", "行政相对人代码_3(组织机构代码)", "行政相对人代码_4(税务登记号)",
    "行政相对人代码_5(事业单位证书号)", "行政相对人代码_6(社会组织登记证号)", "法定代表人",
    "法定代表人证件类型", "法定代表人证件号码", "证件类型", "证件号码", "行政许可决定文书名称",
    "行政许可决定文书号", "许可类别", "许可证书名称", "许可编号", "许可内容", "许可决定日期", "有效期自",
    "有效期至", "许可机关", "许可机关统一社会信用代码", "当前状态", "数据来源单位",
    "数据来源单位统一社会信用代码", "备注",
)  # fmt: skip
LICENCE_REQUIRED = {
    "XK_XDR_MC", "XK_XDR_LB", "XK_XKWS", "XK_WSH", "XK_XKLB", "XK_NR", "XK_JDRQ", "XK_YXQZ", "XK_YXQZI",
    "XK_XKJG", "XK_XKJGDM", "XK_ZT", "XK_LYDW", "XK_LYDWDM",
}  # fmt: skip

# Every record type the batch choice carries, in choice order (issue #3 added all but the first two).
ELEMENT_TO_TYPE = {
    "AdminPenalty": "admin_penalty",
    "AdminLicense": "admin_license",
    "InspectionAction": "inspection_action",
    "PenaltyAction": "penalty_action",
    "CoercionAction": "coercion_action",
    "SpotCheck": "spot_check",
    "JudicialJudgment": "judicial_judgment",
    "DishonestDebtor": "dishonest_debtor",
    "AbnormalOperation": "abnormal_operation",
    "SeriousDishonesty": "serious_dishonesty",
    "CreditCommitment": "credit_commitment",
    "CreditRepair": "credit_repair",
    "Complaint": "complaint",
    "MarketEntity": "market_entity",
}


@pytest.fixture(scope="module")
def record_types(schemas_dir: Path) -> dict[str, RecordType]:
    return load_record_types(schemas_dir)


@pytest.fixture(scope="module")
def penalty(record_types: dict[str, RecordType]) -> RecordType:
    return record_types["admin_penalty"]


@pytest.fixture(scope="module")
def licence(record_types: dict[str, RecordType]) -> RecordType:
    return record_types["admin_license"]


@pytest.fixture
def schema_copy(tmp_path: Path, schemas_dir: Path) -> Path:
    """A private copy of schemas/, so a test can break a schema without touching the real one."""
    target = tmp_path / "schemas"
    target.mkdir()
    for xsd in schemas_dir.glob("*.xsd"):
        shutil.copy2(xsd, target / xsd.name)
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} must occur once in {path.name}"
    path.write_text(text.replace(old, new), encoding="utf-8")
    # A later mtime even on filesystems with coarse timestamps, so the cache key surely changes.
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))


# ------------------------------------------------------------------------------------------ record types


def test_record_types_are_those_of_the_batch_choice(record_types: dict[str, RecordType]) -> None:
    assert set(record_types) == set(ELEMENT_TO_TYPE.values())
    assert {rt.element for rt in record_types.values()} == set(ELEMENT_TO_TYPE)


def test_penalty_fields_in_template_order(penalty: RecordType) -> None:
    assert penalty.codes == PENALTY_CODES
    assert len(penalty.fields) == 30
    assert tuple(f.label for f in penalty.fields) == PENALTY_LABELS
    assert (penalty.label, penalty.version) == ("行政处罚", "2.0")


def test_licence_fields_in_template_order(licence: RecordType) -> None:
    assert licence.codes == LICENCE_CODES
    assert len(licence.fields) == 28
    assert tuple(f.label for f in licence.fields) == LICENCE_LABELS
    assert (licence.label, licence.version) == ("行政许可", "2.0")


def test_requirement_flags(penalty: RecordType, licence: RecordType) -> None:
    assert {f.code for f in penalty.fields if f.required} == PENALTY_REQUIRED
    assert {f.code for f in penalty.fields if f.requirement == "C"} == PENALTY_CONDITIONAL
    assert {f.code for f in licence.fields if f.required} == LICENCE_REQUIRED
    assert penalty.field("CF_GSJZQ").requirement == "N"
    assert licence.field("BZ").requirement == "N"


def test_lengths_types_and_digits(penalty: RecordType, licence: RecordType) -> None:
    lengths = {f.code: f.max_length for f in penalty.fields}
    assert lengths["CF_XDR_MC"] == 200
    assert lengths["CF_WSH"] == 128
    assert lengths["CF_YJ"] == 2048
    assert lengths["CF_NR"] == 4000
    assert lengths["CF_XDR_SWDJ"] == 15
    assert lengths["CF_XDR_SYDW"] == 12
    assert lengths["BZ"] == 512
    assert licence.field("XK_XKLB").max_length == 256
    assert licence.field("XK_WSH").max_length == 64
    # Free text must be non-empty; identifiers have a fixed length from their named type.
    assert penalty.field("CF_XDR_MC").min_length == 1
    assert (penalty.field("CF_CFJGDM").min_length, penalty.field("CF_CFJGDM").max_length) == (18, 18)
    assert (penalty.field("CF_XDR_ZZJG").min_length, penalty.field("CF_XDR_ZZJG").max_length) == (9, 9)

    assert {f.code for f in penalty.fields if f.base == "date"} == {"CF_JDRQ", "CF_YXQ", "CF_GSJZQ"}
    assert {f.code for f in licence.fields if f.base == "date"} == {"XK_JDRQ", "XK_YXQZ", "XK_YXQZI"}
    fine = penalty.field("CF_NR_FK")
    assert (fine.base, fine.total_digits, fine.fraction_digits) == ("decimal", 18, 6)
    assert penalty.field("CF_NR_WFFF").base == "decimal"


def test_code_lists(penalty: RecordType, licence: RecordType) -> None:
    assert penalty.field("CF_XDR_LB").enumeration == ("法人及非法人组织", "自然人", "个体工商户")
    assert licence.field("XK_ZT").enumeration == ("1", "2")
    # 许可类别 and 证件类型 allow "其他" with text, hence patterns, which must be usable as Python regexes.
    category = re.compile(licence.field("XK_XKLB").pattern or "")
    assert all(
        category.fullmatch(v) for v in ("普通", "登记", "其他", "其他-备案", "其他（备案）", "其他(备案)")
    )
    assert not any(category.fullmatch(v) for v in ("其它", "普通许可", "其他-", ""))
    certificate = re.compile(penalty.field("CF_XDR_ZJLX").pattern or "")
    assert all(certificate.fullmatch(v) for v in ("身份证", "111", "553", "护照号", "其他-军官证"))
    assert not any(certificate.fullmatch(v) for v in ("其他", "999", "驾驶证"))


def test_identifier_checks_follow_named_types(penalty: RecordType, licence: RecordType) -> None:
    assert {f.code: f.check for f in penalty.fields if f.check} == {
        "CF_XDR_SHXYM": "uscc",
        "CF_XDR_GSZC": "regno",
        "CF_XDR_ZZJG": "org_code",
        "CF_CFJGDM": "uscc",
        "CF_SJLYDM": "uscc",
    }
    assert {f.code: f.check for f in licence.fields if f.check} == {
        "XK_XDR_SHXYM": "uscc",
        "XK_XDR_GSZC": "regno",
        "XK_XDR_ZZJG": "org_code",
        "XK_XKJGDM": "uscc",
        "XK_LYDWDM": "uscc",
    }
    uscc = re.compile(penalty.field("CF_XDR_SHXYM").pattern or "")
    assert uscc.fullmatch("91350100M000100Y43")
    assert not uscc.fullmatch("9111000060003IOZSV")


def test_aliases_and_notes(penalty: RecordType, licence: RecordType) -> None:
    assert "统一社会信用代码" in penalty.field("CF_XDR_SHXYM").aliases
    assert "法定代表人姓名" in penalty.field("CF_FRDB").aliases
    assert "工商注册号" in licence.field("XK_XDR_GSZC").aliases
    # A unit-less 罚款金额 header is usually in 元; matching it to a 万元 field would scale it by 10 000.
    assert "罚款金额" not in penalty.field("CF_NR_FK").aliases
    assert "万元" in penalty.field("CF_NR_FK").note
    assert all(f.note for f in (*penalty.fields, *licence.fields))


def test_natural_keys_and_subjects(penalty: RecordType, licence: RecordType) -> None:
    assert penalty.natural_key == ("CF_CFJGDM", "CF_WSH")
    assert licence.natural_key == ("XK_XKJGDM", "XK_WSH")
    assert penalty.subject == SubjectSpec(
        name="CF_XDR_MC",
        kind="CF_XDR_LB",
        uscc="CF_XDR_SHXYM",
        reg_no="CF_XDR_GSZC",
        org_code="CF_XDR_ZZJG",
        natural_person_values=("自然人",),
    )
    assert licence.subject.uscc == "XK_XDR_SHXYM"
    assert licence.subject.natural_person_values == ("自然人",)


def test_penalty_rules(penalty: RecordType) -> None:
    rules = {r.code: r for r in penalty.rules}
    assert set(rules) == {
        "E_LEGAL_USCC",
        "E_LEGAL_REPRESENTATIVE",
        "E_PERSON_ID",
        "E_PERSON_ID_NUMBER",
        "E_LEGAL_REP_ID_NUMBER",
        "E_FINE_AMOUNT",
        "E_CONFISCATION_AMOUNT",
        "E_SUSPENDED_LICENCE",
    }
    assert rules["E_LEGAL_USCC"] == Rule(
        code="E_LEGAL_USCC",
        message="法人及非法人组织、个体工商户须填写统一社会信用代码（尚无统一社会信用代码的历史主体可填写"
        "工商注册号或组织机构代码，由网关关联到主体）",
        condition=Condition(field="CF_XDR_LB", op="in", values=("法人及非法人组织", "个体工商户")),
        require_any=("CF_XDR_SHXYM", "CF_XDR_GSZC", "CF_XDR_ZZJG"),
    )
    assert rules["E_PERSON_ID"].condition == Condition(field="CF_XDR_LB", op="equals", values=("自然人",))
    assert rules["E_PERSON_ID"].require == ("CF_XDR_ZJLX", "CF_XDR_ZJHM")
    assert rules["E_FINE_AMOUNT"].condition == Condition(field="CF_CFLB", op="contains", values=("罚款",))
    assert rules["E_FINE_AMOUNT"].require == ("CF_NR_FK",)
    assert rules["E_CONFISCATION_AMOUNT"].require == ("CF_NR_WFFF",)
    assert rules["E_SUSPENDED_LICENCE"].condition == Condition(
        field="CF_CFLB", op="contains", values=("暂扣", "吊销")
    )
    id_number = rules["E_PERSON_ID_NUMBER"]
    assert id_number.condition is not None
    assert {"身份证", "居民身份证", "111"} <= set(id_number.condition.values)
    assert id_number.require == ()
    assert id_number.check == (("CF_XDR_ZJHM", "resident_id"),)
    assert all(re.search(r"[\u4e00-\u9fff]", r.message) for r in penalty.rules)


def test_licence_rules_cover_every_conditional_field(licence: RecordType) -> None:
    assert {r.code for r in licence.rules} == {
        "E_LEGAL_USCC",
        "E_LEGAL_REPRESENTATIVE",
        "E_PERSON_ID",
        "E_PERSON_ID_NUMBER",
        "E_LEGAL_REP_ID_NUMBER",
    }
    required_by_rules = {code for r in licence.rules for code in r.require}
    alternatives = {code for r in licence.rules for code in r.require_any}
    conditional = {f.code for f in licence.fields if f.requirement == "C"}
    assert required_by_rules == {"XK_FRDB", "XK_XDR_ZJLX", "XK_XDR_ZJHM"}
    assert alternatives == {"XK_XDR_SHXYM", "XK_XDR_GSZC", "XK_XDR_ZZJG"}
    assert conditional <= required_by_rules | alternatives
    assert "XK_XDR_SHXYM" in conditional


def test_single_file_loader_agrees_with_batch(schemas_dir: Path, record_types: dict[str, RecordType]) -> None:
    assert load_record_type(schemas_dir / "admin_penalty.xsd") == record_types["admin_penalty"]
    assert load_record_type(schemas_dir / "admin_license.xsd") == record_types["admin_license"]


def test_element_to_type(schemas_dir: Path) -> None:
    assert element_to_type(schemas_dir) == ELEMENT_TO_TYPE


# ---------------------------------------------------------------------------------------------- caching


def test_results_are_cached_until_a_schema_changes(schema_copy: Path) -> None:
    first = load_record_types(schema_copy)
    assert load_record_types(schema_copy)["admin_penalty"] is first["admin_penalty"]
    assert batch_schema(schema_copy) is batch_schema(schema_copy)
    single = load_record_type(schema_copy / "admin_penalty.xsd")
    assert load_record_type(schema_copy / "admin_penalty.xsd") is single

    _edit(
        schema_copy / "admin_penalty.xsd",
        "<xs:documentation>备注</xs:documentation>",
        "<xs:documentation>备注信息</xs:documentation>",
    )
    assert load_record_types(schema_copy)["admin_penalty"].field("BZ").label == "备注信息"
    assert load_record_type(schema_copy / "admin_penalty.xsd").field("BZ").label == "备注信息"


def test_change_to_included_common_types_is_seen(schema_copy: Path) -> None:
    old = batch_schema(schema_copy)
    assert load_record_types(schema_copy)["admin_penalty"].field("CF_NR_FK").total_digits == 18
    _edit(schema_copy / "common.xsd", '<xs:totalDigits value="18"/>', '<xs:totalDigits value="20"/>')
    assert load_record_types(schema_copy)["admin_penalty"].field("CF_NR_FK").total_digits == 20
    assert batch_schema(schema_copy) is not old


# ---------------------------------------------------------------------------------- rules without `when`


def test_rule_without_when_applies_to_every_row(schema_copy: Path) -> None:
    _edit(
        schema_copy / "admin_penalty.xsd",
        '<gw:rule code="E_FINE_AMOUNT"',
        '<gw:rule code="E_ALWAYS_ID" check="CF_XDR_ZJHM:resident_id">证件号码须有效</gw:rule>\n'
        '        <gw:rule code="E_FINE_AMOUNT"',
    )
    rule = {r.code: r for r in load_record_type(schema_copy / "admin_penalty.xsd").rules}["E_ALWAYS_ID"]
    assert rule.condition is None
    assert rule.check == (("CF_XDR_ZJHM", "resident_id"),)
    assert rule.message == "证件号码须有效"


# ----------------------------------------------------------------------------- broken schemas are refused


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        ('require="CF_NR_FK"', 'require="CF_NR_FKX"', "unknown field codes"),
        ('check="CF_XDR_ZJHM:resident_id"', 'check="CF_XDR_ZJHM:passport"', "check"),
        ('op="contains" values="罚款"', 'op="like" values="罚款"', "op must be one of"),
        ('op="equals" values="自然人"', 'op="equals" values="自然人|个体工商户"', "exactly one value"),
        ('<gw:rule code="E_FINE_AMOUNT"', '<gw:rule code="fine"', "E_UPPER_CASE"),
        ('<gw:rule code="E_CONFISCATION_AMOUNT"', '<gw:rule code="E_FINE_AMOUNT"', "duplicate rule codes"),
        ('require="CF_NR_ZKDX"', 'check="CF_NR_ZKDX:uscc"', "C fields"),
        ('<xs:element name="CF_WSH" minOccurs="1">', '<xs:element name="CF_WSH" minOccurs="0">', "minOccurs"),
        ('natural-key="CF_CFJGDM CF_WSH"', 'natural-key="CF_CFJGDM BZ"', "must be required"),
        ('natural-key="CF_CFJGDM CF_WSH"', 'natural-key="CF_CFJGDM CF_WSHX"', "unknown field codes"),
        ('<gw:record name="admin_penalty"', '<gw:records name="admin_penalty"', "unknown appinfo element"),
        (
            '<gw:field requirement="N" aliases="其他说明"',
            '<gw:field requirement="O" aliases="其他说明"',
            "Y, C, N",
        ),
        (
            '<gw:field requirement="N" aliases="其他说明"',
            '<gw:field requirement="N" alias="其他说明"',
            "unknown attr",
        ),
        ("<xs:documentation>备注</xs:documentation>", "", "xs:documentation"),
        ('uscc="CF_XDR_SHXYM"', 'uscc="CF_XDR_USCC"', "unknown field codes"),
    ],
)
def test_broken_appinfo_is_refused(schema_copy: Path, old: str, new: str, reason: str) -> None:
    _edit(schema_copy / "admin_penalty.xsd", old, new)
    with pytest.raises(SchemaDefinitionError, match=reason):
        load_record_type(schema_copy / "admin_penalty.xsd")
    with pytest.raises(SchemaDefinitionError, match=reason):
        load_record_types(schema_copy)


def test_patterns_on_two_levels_are_refused(schema_copy: Path) -> None:
    _edit(
        schema_copy / "admin_penalty.xsd",
        '<xs:restriction base="CertificateType"><xs:maxLength value="64"/></xs:restriction>'
        '</xs:simpleType>\n      </xs:element>\n\n      <xs:element name="CF_FR_ZJHM"',
        '<xs:restriction base="CertificateType"><xs:pattern value="身份证"/></xs:restriction>'
        '</xs:simpleType>\n      </xs:element>\n\n      <xs:element name="CF_FR_ZJHM"',
    )
    with pytest.raises(SchemaDefinitionError, match="more than one derivation level"):
        load_record_type(schema_copy / "admin_penalty.xsd")


def test_file_without_record_type_is_refused(schemas_dir: Path) -> None:
    with pytest.raises(SchemaDefinitionError, match="gw:record"):
        load_record_type(schemas_dir / "common.xsd")
