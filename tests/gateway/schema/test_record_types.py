"""The twelve record types of issue #3: they load, their examples travel as valid batches, and their keys,
subjects, rules and withdrawals are the ones intended.

Every example goes the way a real record goes: a table of canonical strings is judged by the gateway's own
validator, turned into its stored payload and rendered by the delivery renderer, and the batch is then
validated against schemas/batch.xsd with libxml2 (lxml) and with xmlschema, as the hub may do either.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
import xmlschema
from lxml import etree
from sqlalchemy import func, select
from stdnum.cn import uscc

from gateway.delivery.render import RenderRow, render_batch
from gateway.entities import attach
from gateway.ingest import ingest_file
from gateway.mapping.headers import normalize_header
from gateway.row_errors import RowError
from gateway.schema import Condition, RecordType, Rule, SubjectSpec, batch_schema, load_record_type
from gateway.schema import load_record_types as load_types
from gateway.schema.conditions import condition_mask
from gateway.settings import Settings
from gateway.store.db import engine_for
from gateway.store.records import canonical_payloads, natural_keys
from gateway.store.tables import entity
from gateway.validation import validate

NOW = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
ROW = "__row__"

# Synthetic 忻州 codes with valid GB 11714 and GB 32100 check characters (no public Xinzhou USCC exists,
# docs/standards.md §1.5). 11… are 机关, 91… enterprises, 92… 个体工商户.
MARKET_REGULATOR = "11140900MB19574292"  # 忻州市市场监督管理局
DEVELOPMENT_REFORM = "11140900MB1963X790"  # 忻州市发展和改革委员会
INTERMEDIATE_COURT = "11140900MB19612091"  # 忻州市中级人民法院
XINFU_COURT = "11140902MB1970A37Q"  # 忻州市忻府区人民法院
FOOD_TRADER = "91140902MA0K7T2C3D"  # 忻州市晋北食品贸易有限公司
MINING = "91140924MA0K3H8N72"  # 繁峙县金山矿业有限公司
COKING = "91140981MA0KD43X6T"  # 原平市华鑫焦化有限公司
GUESTHOUSE = "92140922MA0KA61F5K"  # 五台县台怀镇山居客栈
GRAIN_SHOP = "92140902MA0KB72R8W"  # 忻府区老王杂粮店
ID_NUMBER = "11010519491231002X"  # GB 11643-1999 standard example, not a real person

NEW_TYPES = (
    "inspection_action",
    "penalty_action",
    "coercion_action",
    "spot_check",
    "judicial_judgment",
    "dishonest_debtor",
    "abnormal_operation",
    "serious_dishonesty",
    "credit_commitment",
    "credit_repair",
    "complaint",
    "market_entity",
)


def _action(**specific: str) -> dict[str, str]:
    """The columns the three 互联网+监管 监管行为 tables share, for one inspection of FOOD_TRADER."""
    return {
        "supervise_item_implement_code": "31403000100001",
        "supervise_item_check_icode": MARKET_REGULATOR + "100012",
        "implement_institution": "忻州市市场监督管理局",
        "implement_institution_code": MARKET_REGULATOR,
        "supervise_object_type": "食品经营者",
        "supervise_object": "食品销售经营场所",
        "administrative_cp": "忻州市晋北食品贸易有限公司",
        "administrative_cp_na": "2",
        "administrative_cp_ce_type": "001",
        "administrative_cp_ui_code": FOOD_TRADER,
        "address_registered": "忻州市忻府区和平街58号",
        "address_operating": "忻州市忻府区和平街58号",
        "area_number": "140902",
        "submitted_date": "2026-10-28",
        "submitted_personnel": "赵敏",
        "cd_operation": "i",
        "cd_batch": "2026102800001",
        **specific,
    }


EXAMPLES: dict[str, dict[str, str]] = {
    "inspection_action": _action(
        check_action_name="对忻州市晋北食品贸易有限公司的日常监督检查",
        check_action_code="XZSJ-JC-2026-00381",
        check_form="01",
        check_type="食品安全",
        check_mode="现场检查",
        check_result="发现问题已责令改正",
        check_date="2026-10-09",
        check_personnel="王建军、李晓燕",
        check_personnel_code="14090021001、14090021002",
    ),
    "penalty_action": _action(
        punish_action_name="忻州市晋北食品贸易有限公司销售超过保质期食品案",
        punish_action_code="XZSJ-CF-2026-00047",
        check_action_code="XZSJ-JC-2026-00381",
        case_source="监督检查",
        illegal_fact="当事人在其经营场所销售超过保质期的预包装食品“老陈醋”12瓶，货值金额320元。",
        punish_basis="《中华人民共和国食品安全法》第一百二十四条第一款第（五）项",
        punish_procedure="一般程序",
        is_hearing="0",
        filing_date="2026-10-10",
        is_criminal_case="0",
        is_major_case="0",
        is_legal_review="1",
        legal_review_date="2026-10-20",
        legal_review_opinion="事实清楚，证据确凿，适用依据正确，程序合法",
        punish_document_no="忻市监罚〔2026〕47号",
        punish_date="2026-10-23",
        punish_type="没收违法所得;罚款",
        fine_amount="50000.00",
        punish_result="没收违法所得320元，并处罚款50000元。",
        administrative_reconsideration="未申请",
        administrative_litigation="未提起",
        closing_execution_mode="自觉履行",
        closing_execution_result="执行完毕",
        closing_paid_fine="50000",
        closing_no_punishment="0",
        closing_date="2026-11-06",
    ),
    "coercion_action": _action(
        supervise_item_check_icode=MARKET_REGULATOR + "300004",
        force_action_name="对忻州市晋北食品贸易有限公司涉嫌过期食品的查封",
        force_action_code="XZSJ-QZ-2026-00012",
        check_action_code="XZSJ-JC-2026-00381",
        illegal_fact="当事人经营场所内存放超过保质期的预包装食品。",
        force_basis="《中华人民共和国食品安全法》第一百一十条第（二）项",
        force_document_no="忻市监强制〔2026〕12号",
        force_category="强制措施",
        force_measure_type="查封场所、设施或者财物",
        force_result="已查封",
        measure_start_date="2026-10-09",
        measure_extension="30日",
        measure_end_date="2026-11-07",
    ),
    "spot_check": {
        "CheckId": "SJ1409002026091800003",
        "InspectPlanId": "14090020260301",
        "InspectPlanName": "2026年忻州市特种设备使用单位双随机抽查计划",
        "InspectTaskId": "14090020260301-003",
        "InspectTaskName": "2026年第三季度起重机械使用单位抽查",
        "InspectTypeName": "定向",
        "InspectDepartment": "忻州市市场监督管理局",
        "InspectDepartmentCode": MARKET_REGULATOR,
        "InspectDate": "2026-09-18",
        "EntName": "繁峙县金山矿业有限公司",
        "UniscId": MINING,
        "InspectItem": "特种设备使用登记；作业人员持证上岗；定期检验",
        "InspectResult": "发现问题已责令改正",
    },
    "judicial_judgment": {
        "case_no": "（2026）晋09民终1234号",
        "case_name": "原平市华鑫焦化有限公司与忻州市宏远建筑工程有限公司建设工程施工合同纠纷二审民事判决书",
        "court_name": "山西省忻州市中级人民法院",
        "court_code": INTERMEDIATE_COURT,
        "case_type": "民事",
        "trial_procedure": "二审",
        "document_type": "判决书",
        "cause_of_action": "建设工程施工合同纠纷",
        "judgment_date": "2026-09-30",
        "parties": (
            "上诉人（原审被告）：原平市华鑫焦化有限公司；被上诉人（原审原告）：忻州市宏远建筑工程有限公司"
        ),
        "subject_name": "原平市华鑫焦化有限公司",
        "subject_category": "法人及非法人组织",
        "subject_uscc": COKING,
        "subject_role": "上诉人",
        "judgment_result": "驳回上诉，维持原判。",
        "publish_date": "2026-10-15",
    },
    "dishonest_debtor": {
        "caseCode": "（2026）晋0902执1234号",
        "iname": "李四",
        "partyType": "自然人",
        "cardNum": ID_NUMBER,
        "sex": "男",
        "age": "76",
        "courtName": "忻州市忻府区人民法院",
        "areaName": "山西",
        "gistId": "（2025）晋0902民初567号",
        "regDate": "2026-03-02",
        "gistUnit": "忻州市忻府区人民法院",
        "duty": "被告李四于判决生效之日起十日内偿还原告借款本金80000元及利息。",
        "performance": "全部未履行",
        "unperformPart": "借款本金80000元及利息",
        "disruptTypeName": "有履行能力而拒不履行生效法律文书确定义务",
        "publishDate": "2026-06-15",
    },
    "abnormal_operation": {
        "LIST_ID": "14092220260701000001",
        "ENTNAME": "五台县台怀镇山居客栈",
        "UNISCID": GUESTHOUSE,
        "SPECAUSE_CN": "未按照《企业信息公示暂行条例》第八条规定的期限公示年度报告",
        "ABNTIME": "2026-07-01",
        "DECORG_CN": "五台县市场监督管理局",
        "REMEXCPRES_CN": "补报未报年份的年度报告并公示",
        "REMDATE": "2026-09-12",
        "REDECORG_CN": "五台县市场监督管理局",
    },
    "serious_dishonesty": {
        "LIST_ID": "SXMD-140900-2026-00001",
        "ENTNAME": "原平市华鑫焦化有限公司",
        "UNISCID": COKING,
        "REGNO": "140900200001233",
        "SERILLREA_CN": "因安全生产违法行为受到较重行政处罚",
        "ABNTIME": "2026-05-20",
        "DECORG_CN": "忻州市市场监督管理局",
    },
    "credit_commitment": {
        "code": "14090020261015000001",
        "subjectName": "忻府区老王杂粮店",
        "subjectCategory": "个体工商户",
        "identify": GRAIN_SHOP,
        "commitmentType": "审批替代型",
        "reason": "申请办理食品经营许可证",
        "content": "本单位承诺所提交的申请材料真实有效，并在三个月内补齐场所平面图。",
        "liabilityBreachCommitment": "未按承诺补齐材料的，撤销食品经营许可证并纳入信用记录。",
        "commitmentDate": "2026-10-15",
        "commitmentValidity": "2027-01-14",
        "fulfillmentStatus": "部分履行",
        "unperformedCommitmentContent": "场所平面图未在承诺期限内补齐",
        "liabilityBreachCommitmentContent": "撤销食品经营许可证",
        "fulfillmentStatusDate": "2027-01-20",
        "acceptanceConfirmUnit": "忻州市行政审批服务管理局",
        "acceptanceConfirmUnitIdentify": "11140900MB1958309H",
        "acceptanceUnit": "忻州市行政审批服务管理局",
        "acceptanceUnitIdentify": "11140900MB1958309H",
        "publicationType": "可向社会公开",
    },
    "credit_repair": {
        "repair_no": "XZXF-2026-000318",
        "subject_name": "忻州市晋北食品贸易有限公司",
        "subject_category": "法人及非法人组织",
        "subject_uscc": FOOD_TRADER,
        "repaired_type": "行政处罚信息",
        "repaired_key": "忻市监罚〔2024〕12号",
        "repaired_authority_code": MARKET_REGULATOR,
        "repair_date": "2026-11-02",
        "repair_authority": "忻州市发展和改革委员会",
        "repair_authority_code": DEVELOPMENT_REFORM,
        "repair_mode": "提前终止公示",
        "repair_result": "准予修复，已停止在信用忻州网站公示",
    },
    "complaint": {
        "complaint_no": "12315-1409-20261018-0042",
        "target_name": "忻府区老王杂粮店",
        "target_category": "个体工商户",
        "target_uscc": GRAIN_SHOP,
        "complaint_content": "消费者反映所购小米短斤缺两，实际重量比标称少200克。",
        "accept_date": "2026-10-18",
        "accept_unit": "忻州市市场监督管理局",
        "accept_unit_code": MARKET_REGULATOR,
        "handling_result": "经调解，经营者退还货款并赔偿，双方达成和解",
        "finish_date": "2026-10-25",
    },
    "market_entity": {
        "PRIPID": "1409020000202603150042",
        "ENTNAME": "忻州市晋北食品贸易有限公司",
        "UNISCID": FOOD_TRADER,
        "NAME": "张三",
        "ENTTYPE_CN": "有限责任公司（自然人投资或控股）",
        "REGSTATE_CN": "存续（在营、开业、在册）",
        "REGORG_CN": "忻州市市场监督管理局",
        "ESTDATE": "2016-03-15",
        "APPRDATE": "2026-03-15",
        "DOMDISTRICT": "140902",
        "DOM": "忻州市忻府区和平街58号",
    },
}

# natural key, subject, withdrawal: what each XSD is meant to declare.
LIST_SUBJECT = SubjectSpec(name="ENTNAME", uscc="UNISCID", reg_no="REGNO")
ACTION_SUBJECT = SubjectSpec(
    name="administrative_cp",
    kind="administrative_cp_na",
    uscc="administrative_cp_ui_code",
    natural_person_values=("1",),
)
CD_DELETE = Condition(field="cd_operation", op="equals", values=("d",))
INTENDED: dict[str, tuple[tuple[str, ...], SubjectSpec, Condition | None]] = {
    "inspection_action": (("implement_institution_code", "check_action_code"), ACTION_SUBJECT, CD_DELETE),
    "penalty_action": (("implement_institution_code", "punish_action_code"), ACTION_SUBJECT, CD_DELETE),
    "coercion_action": (("implement_institution_code", "force_action_code"), ACTION_SUBJECT, CD_DELETE),
    "spot_check": (
        ("CheckId",),
        SubjectSpec(name="EntName", uscc="UniscId", reg_no="RegNo"),
        None,
    ),
    "judicial_judgment": (
        ("court_name", "case_no"),
        SubjectSpec(
            name="subject_name",
            kind="subject_category",
            uscc="subject_uscc",
            natural_person_values=("自然人",),
        ),
        None,
    ),
    "dishonest_debtor": (
        ("courtName", "caseCode", "iname"),
        SubjectSpec(
            name="iname", kind="partyType", uscc="uscc", org_code="orgCode", natural_person_values=("自然人",)
        ),
        Condition(field="removeDate", op="present", values=()),
    ),
    "abnormal_operation": (
        ("LIST_ID",),
        LIST_SUBJECT,
        Condition(field="REMDATE", op="present", values=()),
    ),
    "serious_dishonesty": (
        ("LIST_ID",),
        LIST_SUBJECT,
        Condition(field="REMDATE", op="present", values=()),
    ),
    "credit_commitment": (
        ("code",),
        SubjectSpec(
            name="subjectName", kind="subjectCategory", uscc="identify", natural_person_values=("自然人",)
        ),
        None,
    ),
    "credit_repair": (
        ("repair_no",),
        SubjectSpec(
            name="subject_name",
            kind="subject_category",
            uscc="subject_uscc",
            natural_person_values=("自然人",),
        ),
        None,
    ),
    "complaint": (
        ("accept_unit_code", "complaint_no"),
        SubjectSpec(
            name="target_name", kind="target_category", uscc="target_uscc", natural_person_values=("自然人",)
        ),
        None,
    ),
    "market_entity": (
        ("PRIPID",),
        SubjectSpec(name="ENTNAME", uscc="UNISCID", reg_no="REGNO", org_code="ORGCODE"),
        None,
    ),
}

LEGAL = ("法人及非法人组织", "个体工商户")
PERSON_ID = ("身份证", "居民身份证", "111", "112")


def _rule(code: str, message: str, condition: Condition | None, **parts: tuple[str, ...]) -> Rule:
    return Rule(code=code, message=message, condition=condition, **parts)  # type: ignore[arg-type]


ACTION_RULES = {
    "E_LEGAL_USCC": _rule(
        "E_LEGAL_USCC",
        "行政相对人为法人或其他组织时，行政相对人编码须为有效的统一社会信用代码",
        Condition("administrative_cp_na", "in", ("2", "3")),
        check=(("administrative_cp_ui_code", "uscc"),),
    ),
    "E_PERSON_ID_NUMBER": _rule(
        "E_PERSON_ID_NUMBER",
        "行政相对人证件类型为居民身份证时，行政相对人编码须为有效的居民身份证号码",
        Condition("administrative_cp_ce_type", "in", PERSON_ID),
        check=(("administrative_cp_ui_code", "resident_id"),),
    ),
}
# Rule code → (condition, require, require-any, check), for every rule of every new type.
RuleShape = tuple[Condition | None, tuple[str, ...], tuple[str, ...], tuple[tuple[str, str], ...]]
INTENDED_RULES: dict[str, dict[str, RuleShape]] = {
    "inspection_action": {},
    "penalty_action": {
        "E_FINE_AMOUNT": (Condition("punish_type", "contains", ("罚款",)), ("fine_amount",), (), ()),
    },
    "coercion_action": {
        "E_MEASURE_TYPE": (
            Condition("force_category", "equals", ("强制措施",)),
            ("force_measure_type",),
            (),
            (),
        ),
        "E_EXECUTION_TYPE": (
            Condition("force_category", "equals", ("强制执行",)),
            ("force_execution_type",),
            (),
            (),
        ),
    },
    "spot_check": {"E_ENTITY_CODE": (None, (), ("UniscId", "RegNo"), ())},
    "judicial_judgment": {
        "E_LEGAL_USCC": (Condition("subject_category", "in", LEGAL), ("subject_uscc",), (), ()),
    },
    "dishonest_debtor": {
        "E_LEGAL_USCC": (Condition("partyType", "in", LEGAL), (), ("uscc", "orgCode"), ()),
        "E_LEGAL_REPRESENTATIVE": (Condition("partyType", "in", LEGAL), ("businessEntity",), (), ()),
        "E_PERSON_ID": (
            Condition("partyType", "equals", ("自然人",)),
            ("cardNum",),
            (),
            (("cardNum", "resident_id"),),
        ),
        "E_REMOVAL_REASON": (Condition("removeDate", "present", ()), ("removeReason",), (), ()),
    },
    "abnormal_operation": {
        "E_ENTITY_CODE": (None, (), ("UNISCID", "REGNO"), ()),
        "E_REMOVAL_DETAILS": (Condition("REMDATE", "present", ()), ("REMEXCPRES_CN", "REDECORG_CN"), (), ()),
    },
    "serious_dishonesty": {
        "E_ENTITY_CODE": (None, (), ("UNISCID", "REGNO"), ()),
        "E_REMOVAL_DETAILS": (Condition("REMDATE", "present", ()), ("REMEXCPRES_CN", "REDECORG_CN"), (), ()),
    },
    "credit_commitment": {
        "E_LEGAL_USCC": (Condition("subjectCategory", "in", LEGAL), (), (), (("identify", "uscc"),)),
        "E_PERSON_ID_NUMBER": (
            Condition("subjectCategory", "equals", ("自然人",)),
            (),
            (),
            (("identify", "resident_id"),),
        ),
        "E_UNFULFILLED": (
            Condition("fulfillmentStatus", "in", ("部分履行", "全部未履行")),
            ("unperformedCommitmentContent", "liabilityBreachCommitmentContent"),
            (),
            (),
        ),
    },
    "credit_repair": {
        "E_LEGAL_USCC": (Condition("subject_category", "in", LEGAL), ("subject_uscc",), (), ()),
    },
    "complaint": {
        "E_LEGAL_USCC": (Condition("target_category", "in", LEGAL), ("target_uscc",), (), ()),
        "E_HANDLING_RESULT": (Condition("finish_date", "present", ()), ("handling_result",), (), ()),
    },
    "market_entity": {
        "E_ENTITY_CODE": (None, (), ("UNISCID", "REGNO", "ORGCODE"), ()),
    },
}

# Dictionaries the reference marks as not found: plain bounded text, never an invented code list.
UNVERIFIED_DICTIONARIES = {
    "inspection_action": ("supervise_object_type", "check_type", "check_mode", "check_result"),
    "penalty_action": (
        "case_source",
        "punish_procedure",
        "punish_type",
        "administrative_reconsideration",
        "administrative_litigation",
        "closing_execution_mode",
        "closing_execution_result",
        "other_handling",
    ),
    "coercion_action": ("force_measure_type", "force_execution_type"),
}


@pytest.fixture(scope="module")
def types(schemas_dir: Path) -> dict[str, RecordType]:
    return load_types(schemas_dir)


# ---------------------------------------------------------------------------------------------- helpers


def _table(rtype: RecordType, rows: list[Mapping[str, str]]) -> pa.Table:
    """Mapped rows as the validator and the store see them: one string column per field, blanks null."""
    columns = {code: pa.array([row.get(code) or None for row in rows], pa.string()) for code in rtype.codes}
    columns[ROW] = pa.array(range(2, len(rows) + 2), pa.int64())
    return pa.table(columns)


def _errors(rtype: RecordType, rows: list[Mapping[str, str]]) -> list[RowError]:
    return validate(rtype, _table(rtype, rows), header_of=lambda code: code).errors


def _batch(rtype: RecordType, rows: list[Mapping[str, str]], op: str = "i") -> bytes:
    """The batch the delivery renderer writes for these rows (payloads and keys as the store makes them)."""
    table = _table(rtype, rows)
    payloads, _hashes = canonical_payloads(rtype, table)
    keys = natural_keys(rtype, table).to_pylist()
    out = io.BytesIO()
    render_batch(
        out,
        rtype=rtype,
        batch_id=f"20261128-000001-{rtype.name}",
        seq=1,
        sender="XZ140900",
        created_at=NOW,
        count=len(rows),
        rows=(
            RenderRow(op=op, record_id=i + 1, key=key, version=1, payload=payload, source_row=i + 2)
            for i, (key, payload) in enumerate(zip(keys, payloads, strict=True))
        ),
    )
    return out.getvalue()


@functools.cache
def _lxml_schema(batch_xsd: Path) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(batch_xsd)))


def _xsd_errors(schemas_dir: Path, document: bytes) -> tuple[str, str]:
    """What libxml2 and xmlschema each say about a batch ("" when valid)."""
    schema = _lxml_schema(schemas_dir / "batch.xsd")
    by_lxml = "" if schema.validate(etree.fromstring(document)) else str(schema.error_log)
    resource = xmlschema.XMLResource(io.BytesIO(document), defuse="always", allow="none")  # as the hub reads
    by_xmlschema = "\n".join(str(e) for e in batch_schema(schemas_dir).iter_errors(resource))
    return by_lxml, by_xmlschema


# ---------------------------------------------------------------------------------------------- loading


def test_all_fourteen_record_types_load(types: dict[str, RecordType], schemas_dir: Path) -> None:
    assert set(types) == {"admin_penalty", "admin_license", *NEW_TYPES}
    assert len({rt.element for rt in types.values()}) == 14
    # Every record XSD in schemas/ is in the batch choice, and reads the same on its own.
    shared = {"batch.xsd", "common.xsd", "supervision_common.xsd"}
    record_files = sorted(p.name for p in schemas_dir.glob("*.xsd") if p.name not in shared)
    assert record_files == sorted(f"{name}.xsd" for name in types)
    for name in NEW_TYPES:
        assert load_record_type(schemas_dir / f"{name}.xsd") == types[name]


def test_examples_use_valid_identifiers() -> None:
    """Every organisation code in the examples passes the GB 32100 check (python-stdnum as referee)."""
    codes = (MARKET_REGULATOR, DEVELOPMENT_REFORM, INTERMEDIATE_COURT, XINFU_COURT, FOOD_TRADER, MINING)
    assert all(uscc.is_valid(code) for code in (*codes, COKING, GUESTHOUSE, GRAIN_SHOP))


@pytest.mark.parametrize("name", NEW_TYPES)
def test_fields_have_header_note_and_unambiguous_spellings(types: dict[str, RecordType], name: str) -> None:
    """Header matching must never have two fields answer to one spelling (the engine would refuse it)."""
    rtype = types[name]
    spellings: dict[str, str] = {}
    for spec in rtype.fields:
        assert spec.label and spec.note, spec.code
        for spelling in (spec.label, *spec.aliases, spec.code):
            owner = spellings.setdefault(normalize_header(spelling), spec.code)
            assert owner == spec.code, f"{spelling!r} names both {owner} and {spec.code}"


# ------------------------------------------------------------------------------------ keys and subjects


@pytest.mark.parametrize("name", NEW_TYPES)
def test_natural_key_subject_and_withdrawal(types: dict[str, RecordType], name: str) -> None:
    natural_key, subject, withdrawal = INTENDED[name]
    rtype = types[name]
    assert rtype.natural_key == natural_key
    assert rtype.subject == subject
    assert rtype.withdrawal == withdrawal


@pytest.mark.parametrize("name", NEW_TYPES)
def test_rules_are_the_intended_ones(types: dict[str, RecordType], name: str) -> None:
    rules = {rule.code: rule for rule in types[name].rules}
    if name in ("inspection_action", "penalty_action", "coercion_action"):
        assert {code: rules.pop(code) for code in ACTION_RULES} == ACTION_RULES
    shapes = {code: (r.condition, r.require, r.require_any, r.check) for code, r in rules.items()}
    assert shapes == INTENDED_RULES[name]
    assert all(rule.message for rule in types[name].rules)


def test_personal_id_fields_are_masked(types: dict[str, RecordType]) -> None:
    """Fields that can hold a person's ID number are exactly those the receipts mask."""
    masked = {name: types[name].personal_id_fields for name in NEW_TYPES if types[name].personal_id_fields}
    assert masked == {
        "inspection_action": {"administrative_cp_ui_code"},
        "penalty_action": {"administrative_cp_ui_code"},
        "coercion_action": {"administrative_cp_ui_code"},
        "dishonest_debtor": {"cardNum"},
        "credit_commitment": {"identify"},
    }


def test_code_lists_and_patterns(types: dict[str, RecordType]) -> None:
    inspection = types["inspection_action"]
    assert inspection.field("administrative_cp_na").enumeration == ("1", "2", "3")
    assert inspection.field("check_form").enumeration == ("01", "02")
    assert inspection.field("cd_operation").enumeration == ("i", "u", "d")
    assert inspection.field("implement_institution_code").check == "uscc"
    assert inspection.field("supervise_item_implement_code").pattern == "[0-9]{14}"
    assert types["penalty_action"].field("is_hearing").enumeration == ("1", "0")
    assert types["coercion_action"].field("force_category").enumeration == ("强制措施", "强制执行")
    assert types["spot_check"].field("InspectTypeName").enumeration == ("定向", "不定向")
    assert types["credit_commitment"].field("publicationType").enumeration == (
        "可向社会公开",
        "特定范围内公开",
        "不可公开",
    )
    assert types["market_entity"].field("UNISCID").requirement == "C"
    assert types["market_entity"].field("PRIPID").required
    for name, codes in UNVERIFIED_DICTIONARIES.items():
        for code in codes:
            spec = types[name].field(code)
            assert (spec.enumeration, spec.pattern, spec.base) == ((), None, "string"), f"{name}.{code}"
            assert spec.max_length is not None


# --------------------------------------------------------------------------------- valid example batches


@pytest.mark.parametrize("name", NEW_TYPES)
def test_example_passes_the_gateway_validator(types: dict[str, RecordType], name: str) -> None:
    assert _errors(types[name], [EXAMPLES[name]]) == []


@pytest.mark.parametrize("name", NEW_TYPES)
def test_example_renders_to_a_valid_batch(types: dict[str, RecordType], schemas_dir: Path, name: str) -> None:
    document = _batch(types[name], [EXAMPLES[name]])
    assert _xsd_errors(schemas_dir, document) == ("", "")
    body = etree.fromstring(document)[0][0]
    assert etree.QName(body).localname == types[name].element
    rendered = {etree.QName(child).localname: child.text for child in body}
    assert rendered == {code: value for code, value in EXAMPLES[name].items() if value}


def test_natural_persons_render_to_valid_batches(types: dict[str, RecordType], schemas_dir: Path) -> None:
    """The 公民 / 自然人 variants, sent as withdrawals, are valid documents too."""
    person_action = _action(
        administrative_cp="李四",
        administrative_cp_na="1",
        administrative_cp_ce_type="111",
        administrative_cp_ui_code=ID_NUMBER,
        address_registered="",
        cd_operation="d",
    )
    inspection = {**EXAMPLES["inspection_action"], **person_action}
    commitment = {
        **EXAMPLES["credit_commitment"],
        "subjectName": "李四",
        "subjectCategory": "自然人",
        "identify": ID_NUMBER,
        "commitmentType": "其他（信用修复申请）",
    }
    for name, row in (("inspection_action", inspection), ("credit_commitment", commitment)):
        assert _errors(types[name], [row]) == []
        assert _xsd_errors(schemas_dir, _batch(types[name], [row], op="d")) == ("", "")


# -------------------------------------------------------------------------------------------- withdrawals


@pytest.mark.parametrize(
    ("name", "withdrawing"),
    [
        ("inspection_action", {"cd_operation": "d"}),
        ("penalty_action", {"cd_operation": "d"}),
        ("coercion_action", {"cd_operation": "d"}),
        ("dishonest_debtor", {"removeDate": "2026-11-20", "removeReason": "已履行全部义务"}),
        (
            "serious_dishonesty",
            {"REMDATE": "2026-11-20", "REMEXCPRES_CN": "信用修复", "REDECORG_CN": "忻州市市场监督管理局"},
        ),
    ],
)
def test_withdrawal_rows(types: dict[str, RecordType], name: str, withdrawing: dict[str, str]) -> None:
    rtype = types[name]
    rows = [EXAMPLES[name], {**EXAMPLES[name], **withdrawing}]
    assert rtype.withdrawal is not None
    assert condition_mask(rtype.withdrawal, _table(rtype, rows)).to_pylist() == [False, True]
    assert _errors(rtype, rows) == []


def test_listed_abnormal_operation_is_live_until_removed(types: dict[str, RecordType]) -> None:
    rtype = types["abnormal_operation"]
    listed = {k: v for k, v in EXAMPLES["abnormal_operation"].items() if not k.startswith(("REM", "REDEC"))}
    rows = [listed, EXAMPLES["abnormal_operation"]]
    assert rtype.withdrawal is not None
    assert condition_mask(rtype.withdrawal, _table(rtype, rows)).to_pylist() == [False, True]


# ------------------------------------------------------------------------------------- invalid examples

INVALID = [
    pytest.param(
        "inspection_action", {"check_personnel": "王建军"}, "check_personnel", "E_PATTERN", id="one-inspector"
    ),
    pytest.param(
        "inspection_action",
        {"administrative_cp_ui_code": "91140902MA0K7T2C3X"},
        "administrative_cp_ui_code",
        "E_LEGAL_USCC",
        id="organisation-code-not-a-uscc",
    ),
    pytest.param(
        "inspection_action",
        {
            "administrative_cp_na": "1",
            "administrative_cp_ce_type": "111",
            "administrative_cp_ui_code": "110105194912310021",
        },
        "administrative_cp_ui_code",
        "E_PERSON_ID_NUMBER",
        id="bad-resident-id",
    ),
    pytest.param(
        "inspection_action",
        {"supervise_item_check_icode": MARKET_REGULATOR + "600012"},
        "supervise_item_check_icode",
        "E_PATTERN",
        id="icode-position-19",
    ),
    pytest.param("inspection_action", {"check_form": "03"}, "check_form", "E_CODELIST", id="check-form"),
    pytest.param(
        "penalty_action", {"fine_amount": ""}, "fine_amount", "E_FINE_AMOUNT", id="fine-without-amount"
    ),
    pytest.param("penalty_action", {"is_hearing": "是"}, "is_hearing", "E_CODELIST", id="flag-as-word"),
    pytest.param(
        "coercion_action",
        {"force_measure_type": ""},
        "force_measure_type",
        "E_MEASURE_TYPE",
        id="measure-type",
    ),
    pytest.param("spot_check", {"UniscId": ""}, "UniscId", "E_ENTITY_CODE", id="spot-check-without-uscc"),
    pytest.param(
        "judicial_judgment", {"subject_uscc": ""}, "subject_uscc", "E_LEGAL_USCC", id="judgment-company-uscc"
    ),
    pytest.param("dishonest_debtor", {"cardNum": ""}, "cardNum", "E_PERSON_ID", id="debtor-without-id"),
    pytest.param(
        "dishonest_debtor", {"cardNum": "1101051949****002X"}, "cardNum", "E_PERSON_ID", id="debtor-masked-id"
    ),
    pytest.param(
        "dishonest_debtor",
        {
            "partyType": "法人及非法人组织",
            "cardNum": "",
            "iname": "忻州市宏远建筑工程有限公司",
            "businessEntity": "赵志刚",
        },
        "uscc",
        "E_LEGAL_USCC",
        id="debtor-company-without-codes",
    ),
    pytest.param("abnormal_operation", {"REDECORG_CN": ""}, "REDECORG_CN", "E_REMOVAL_DETAILS", id="removal"),
    pytest.param(
        "credit_commitment", {"code": "14090020261315000001"}, "code", "E_PATTERN", id="commitment-month"
    ),
    pytest.param(
        "credit_commitment", {"commitmentType": "其他"}, "commitmentType", "E_PATTERN", id="bare-other"
    ),
    pytest.param(
        "credit_commitment",
        {"liabilityBreachCommitmentContent": ""},
        "liabilityBreachCommitmentContent",
        "E_UNFULFILLED",
        id="unfulfilled",
    ),
    pytest.param(
        "credit_commitment", {"identify": ID_NUMBER}, "identify", "E_LEGAL_USCC", id="id-for-a-trader"
    ),
    pytest.param(
        "complaint", {"handling_result": ""}, "handling_result", "E_HANDLING_RESULT", id="finished-no-result"
    ),
    pytest.param(
        "market_entity",
        {"UNISCID": "", "REGNO": "", "ORGCODE": ""},
        "UNISCID",
        "E_ENTITY_CODE",
        id="no-entity-code",
    ),
    pytest.param("market_entity", {"DOMDISTRICT": "14092"}, "DOMDISTRICT", "E_PATTERN", id="division-code"),
]


@pytest.mark.parametrize(("name", "changes", "field", "code"), INVALID)
def test_invalid_example_is_rejected_by_the_gateway(
    types: dict[str, RecordType], name: str, changes: dict[str, str], field: str, code: str
) -> None:
    errors = _errors(types[name], [{**EXAMPLES[name], **changes}])
    assert [(e.field, e.code) for e in errors] == [(field, code)]


@pytest.mark.parametrize(
    ("name", "changes", "mentions"),
    [
        pytest.param(
            "inspection_action",
            {"supervise_item_implement_code": "3140300010000"},
            "supervise_item_implement_code",
            id="13-digit-item",
        ),
        pytest.param(
            "inspection_action",
            {"supervise_item_check_icode": MARKET_REGULATOR + "0"},
            "supervise_item_check_icode",
            id="icode",
        ),
        pytest.param("penalty_action", {"fine_amount": "50000.005"}, "fine_amount", id="fine-fen"),
        pytest.param("inspection_action", {"cd_batch": "20261028001"}, "cd_batch", id="cd-batch"),
        pytest.param(
            "credit_commitment", {"code": "1409002026101500001"}, "code", id="commitment-code-length"
        ),
        pytest.param("spot_check", {"InspectTypeName": "随机"}, "InspectTypeName", id="spot-check-type"),
        pytest.param("market_entity", {"UNISCID": "9111000060003IOZSV"}, "UNISCID", id="uscc-letters"),
    ],
)
def test_invalid_example_fails_both_xsd_validators(
    types: dict[str, RecordType], schemas_dir: Path, name: str, changes: dict[str, str], mentions: str
) -> None:
    by_lxml, by_xmlschema = _xsd_errors(schemas_dir, _batch(types[name], [{**EXAMPLES[name], **changes}]))
    assert mentions in by_lxml
    assert mentions in by_xmlschema


# ------------------------------------------------------------------------------------------- attachment


def test_a_persons_id_number_never_becomes_an_entity(types: dict[str, RecordType], database_url: str) -> None:
    """行政相对人编码 is the subject's USCC field, but for a 公民 it holds the ID number."""
    rtype = types["inspection_action"]
    person = {
        **EXAMPLES["inspection_action"],
        "administrative_cp_na": "1",
        "administrative_cp_ce_type": "111",
        "administrative_cp_ui_code": ID_NUMBER,
        "administrative_cp": "李四",
    }
    engine = engine_for(database_url)
    with engine.begin() as conn:
        result = attach(conn, rtype, _table(rtype, [EXAMPLES["inspection_action"], person]), NOW)
        assert result.method == ["uscc", "natural_person"]
        assert result.entity_uscc == [FOOD_TRADER, None]
        assert conn.execute(select(func.count()).select_from(entity)).scalar_one() == 1


# --------------------------------------------------------------------------------- the department sample


def test_department_sample_has_only_the_intended_bad_rows(repo_root: Path, tmp_path: Path) -> None:
    settings = Settings.from_env({"GATEWAY_HOME": str(tmp_path / "var")})
    settings.ensure_dirs()
    sample = repo_root / "samples" / "inbox" / "xz_inspection" / "检查记录导出.csv"
    receipt = ingest_file(settings, sample, "xz_inspection", dry_run=True).receipt
    assert (receipt.mapping, receipt.record_type, receipt.status) == (
        "xz_inspection_actions",
        "inspection_action",
        "partial",
    )
    assert (receipt.rows, receipt.accepted, receipt.new, receipt.rejected) == (11, 9, 9, 2)
    assert [(e["row"], e["field"], e["code"]) for e in receipt.errors] == [
        (11, "证件号码", "E_LEGAL_USCC"),
        (12, "执法人员", "E_PATTERN"),
    ]
    # The 个人 row was accepted without an entity: nothing waits for one.
    assert receipt.queued == 0
