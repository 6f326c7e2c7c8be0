"""Regenerate three more department exports in samples/inbox/ (committed: the demo needs no generator run).

They feed the three record types no other sample does:

  xz_emergency        应急管理局: 行政处罚行为 (schemas/penalty_action.xsd) from its case system as XML, one
                      record per child element of the root, element names = the national column codes. The
                      system writes codes as words (法人, 统一社会信用代码, 是/否), which
                      mappings/national_penalty_action.yaml translates. One record's 监管事项目录编码 has 13
                      digits instead of 14.
  xz_amr_enforcement  市场监督管理局: 行政强制行为 (schemas/coercion_action.xsd) as a JSON array of
                      objects keyed by the national column codes; 行政相对人性质 is a JSON number and
                      the dates carry a time of day. One 强制措施 lacks its 强制措施类型.
  xz_12345            12345 政务服务便民热线: complaint work orders as CSV in GB18030 with the hotline's
                      own headers (mappings/xz_12345_complaints.yaml); no column about the caller exists.
                      One ticket names a company the hotline had no USCC for; the complaint record type
                      requires one for organisations, so that row is the file's one rejected row.

The entities come from samples/inbox/ and samples/standins/data/market_entity.json, so the records attach
to entities the other sources know. All codes are fictitious; every USCC written is checked here (the one
broken supervision-item code is broken on purpose). The bytes depend on nothing but this file, so a test
can compare a regeneration with the committed files.

    .venv/bin/python samples/make_more_samples.py
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from gateway.ids import uscc

HERE = Path(__file__).resolve().parent / "inbox"

EMERGENCY_FILE = Path("xz_emergency") / "处罚行为导出.xml"
ENFORCEMENT_FILE = Path("xz_amr_enforcement") / "强制措施.json"
HOTLINE_FILE = Path("xz_12345") / "投诉举报工单.csv"

# The same authority codes as samples/make_samples.py and samples/standins/make_data.py.
EMERGENCY = ("忻州市应急管理局", "11140900MB1950438D")
AMR = ("忻州市市场监督管理局", "11140900MB1950016E")


def _valid(code: str) -> str:
    """Every USCC written must be valid: a typo here must not pass for a planned error."""
    if not uscc.is_valid(code):
        raise ValueError(f"not a valid USCC: {code}")
    return code


@dataclass(frozen=True)
class Party:
    """A market entity as the 监管行为 tables name it: nature 法人 / 其他组织 (个体工商户 hold a 92… USCC and
    are reported as 其他组织, as in mappings/xz_inspection_actions.yaml)."""

    name: str
    code: str
    nature: str  # 法人 | 其他组织
    area: str
    address: str


def party(name: str, code: str, area: str, address: str) -> Party:
    nature = "其他组织" if code.startswith("92") else "法人"
    return Party(name, _valid(code), nature, area, address)


# ----------------------------------------------------------------------------- 应急管理局: 行政处罚行为 (XML)

ITEM_INDUSTRY = "31440000100006"  # 工贸行业安全生产监管 (fictitious item codes, 14 digits)
ITEM_DUST = "31440000100011"  # 粉尘涉爆企业安全监管
ITEM_CONFINED = "31440000100015"  # 有限空间作业安全监管
ITEM_HAZCHEM = "31440000200002"  # 危险化学品经营安全监管

SAFETY_LAW = "《中华人民共和国安全生产法》"
REVIEWED = "事实清楚，证据确凿，适用依据正确，程序合法，处罚适当"
NOT_APPEALED = ("未申请行政复议", "未提起行政诉讼")


def _check_icode(authority: str, item: str) -> str:
    """监管事项检查实施清单编码: the agency's USCC, then 1 and a serial (the item's last five digits here)."""
    return f"{authority}1{item[-5:]}"


def punish_action(
    serial: int,
    subject: Party,
    *,
    item: str,
    title: str,
    inspection: int,
    supervised: str,
    source: str,
    facts: str,
    basis: str,
    procedure: str,
    kinds: str,
    result: str,
    decided: str,
    fine: str | None = None,
    filed: str | None = None,
    hearing: bool = False,
    major: bool = False,
    discussed: tuple[str, str] | None = None,
    closed: tuple[str, str] | None = None,
) -> dict[str, str]:
    """One 行政处罚行为 in the column order of schemas/penalty_action.xsd; blank columns are left out."""
    authority, authority_code = EMERGENCY
    yes_no = {True: "是", False: "否"}
    record: dict[str, str | None] = {
        "supervise_item_implement_code": item,
        "supervise_item_check_icode": _check_icode(authority_code, item),
        "punish_action_name": f"{subject.name}{title}案",
        "punish_action_code": f"XZYJ-CF-2026-{serial:04d}",
        "check_action_code": f"XZYJ-JC-2026-{inspection:04d}",
        "implement_institution": authority,
        "implement_institution_code": authority_code,
        "supervise_object": supervised,
        "administrative_cp": subject.name,
        "administrative_cp_na": subject.nature,
        "administrative_cp_ce_type": "统一社会信用代码",
        "administrative_cp_ui_code": subject.code,
        "address_registered": subject.address,
        "address_operating": subject.address,
        "area_number": subject.area,
        "case_source": source,
        "illegal_fact": facts,
        "punish_basis": basis,
        "punish_procedure": procedure,
        "is_hearing": yes_no[hearing],
        "filing_date": filed,
        "is_criminal_case": "否",
        "is_major_case": yes_no[major],
        "is_legal_review": "否" if procedure == "简易程序" else "是",
        "legal_review_date": None if procedure == "简易程序" else _day_before(decided),
        "legal_review_opinion": None if procedure == "简易程序" else REVIEWED,
        "is_collective_discussion": yes_no[discussed is not None],
        "collective_discussion_date": discussed[0] if discussed else None,
        "collective_discussion_conclusion": discussed[1] if discussed else None,
        "punish_document_no": f"忻应急罚〔2026〕{serial}号",
        "punish_date": decided,
        "punish_type": kinds,
        "fine_amount": fine,
        "punish_result": result,
        "administrative_reconsideration": NOT_APPEALED[0],
        "administrative_litigation": NOT_APPEALED[1],
        "closing_execution_mode": "自觉履行" if closed else None,
        "closing_execution_result": "执行完毕" if closed else None,
        "closing_paid_fine": closed[1] if closed else None,
        "closing_no_punishment": "否",
        "closing_date": closed[0] if closed else None,
        "submitted_date": "2026-11-03",
        "submitted_personnel": "政策法规科",
    }
    return {key: value for key, value in record.items() if value}


def _day_before(iso: str) -> str:
    """The legal review is dated the day before the decision: derived, so the two dates cannot disagree."""
    return (dt.date.fromisoformat(iso) - dt.timedelta(days=1)).isoformat()


def emergency_penalties() -> list[dict[str, str]]:
    forge = party("原平市聚丰锻造有限公司", "91140981MA0UE27M0L", "140981", "山西省忻州市原平市建设北路73号")
    flange = party(
        "忻州康宁法兰制造有限公司", "91140902MA0WF6F85X", "140902", "山西省忻州市忻府区五台山大道174号"
    )
    machinery = party(
        "定襄县宏达机械制造有限公司", "91140921MA0K4D5E9E", "140921", "山西省忻州市定襄县宏道镇法兰工业园区"
    )
    xinyuan = party(
        "忻州鑫源法兰制造有限公司", "91140902MA0U269B94", "140902", "山西省忻州市忻府区慕山路122号"
    )
    shunda = party("忻州顺达环保科技有限公司", "91140902MA0R9P4B44", "140902", "山西省忻州市忻府区和平街51号")
    farm_shop = party("忻府区温记农资经营部", "92140902MA0JU99A17", "140902", "山西省忻州市忻府区和平街38号")
    changsheng = party(
        "忻州昌盛法兰制造有限公司", "91140902MA0BRGB750", "140902", "山西省忻州市忻府区迎宾大街212号"
    )
    return [
        punish_action(
            31,
            forge,
            item=ITEM_INDUSTRY,
            title="未设置明显安全警示标志",
            inspection=214,
            supervised="锻造车间天然气加热炉区域",
            source="监督检查",
            facts="2026年9月15日执法检查发现，该公司锻造车间天然气加热炉区域及燃气管道未设置明显的安全警示标志。",
            basis=f"{SAFETY_LAW}第三十五条、第九十九条第一项",
            procedure="一般程序",
            kinds="罚款",
            fine="20000.00",
            result="责令限期改正，处罚款人民币贰万元整",
            filed="2026-09-16",
            decided="2026-10-12",
            closed=("2026-10-27", "20000.00"),
        ),
        punish_action(
            32,
            flange,
            item=ITEM_DUST,
            title="未按规定清理作业现场积尘",
            inspection=221,
            supervised="抛丸打磨车间除尘系统",
            source="监督检查",
            facts="2026年9月18日检查发现，该公司抛丸打磨车间除尘系统灰斗及作业现场积尘未按规定及时清理，积尘厚度明显超标。",
            basis="《工贸企业粉尘防爆安全规定》第十五条、第二十九条第二项",
            procedure="一般程序",
            kinds="警告;罚款",
            fine="30,000.00",
            result="警告，并处罚款人民币叁万元整",
            filed="2026-09-19",
            decided="2026-10-14",
        ),
        punish_action(
            33,
            machinery,
            item=ITEM_CONFINED,
            title="有限空间作业前未检测",
            inspection=226,
            supervised="热处理车间淬火油池有限空间",
            source="监督检查",
            facts="2026年10月9日检查发现，该公司进入淬火油池有限空间清理作业前未进行通风和气体检测，检查当日已停止作业并改正。",
            basis="《工贸企业有限空间作业安全规定》第十二条、第二十条第一项",
            procedure="简易程序",
            kinds="警告",
            result="警告",
            decided="2026-10-09",
        ),
        punish_action(
            34,
            xinyuan,
            item=ITEM_INDUSTRY,
            title="特种作业人员未持证上岗",
            inspection=230,
            supervised="焊接车间特种作业人员",
            source="投诉举报",
            facts="经核查，该公司安排2名未取得特种作业操作证的人员从事电焊作业。",
            basis=f"{SAFETY_LAW}第三十条第一款、第九十七条第七项",
            procedure="一般程序",
            kinds="罚款",
            fine="45000",
            result="责令限期改正，处罚款人民币肆万伍仟元整",
            filed="2026-09-24",
            decided="2026-10-20",
            closed=("2026-11-02", "45000"),
        ),
        punish_action(
            35,
            shunda,
            item=ITEM_HAZCHEM,
            title="重大事故隐患未及时消除",
            inspection=233,
            supervised="盐酸、液碱储罐区",
            source="监督检查",
            facts="2026年9月26日检查发现，该公司盐酸储罐区防泄漏围堰破损、可燃气体报警装置失效，构成重大事故隐患，且未采取措施消除。",
            basis=f"{SAFETY_LAW}第四十一条第二款、第一百零二条",
            procedure="一般程序",
            kinds="罚款",
            fine="50000",
            result="责令立即消除事故隐患，处罚款人民币伍万元整",
            filed="2026-09-27",
            decided="2026-10-23",
            hearing=True,
            major=True,
            discussed=("2026-10-21", "经局案审委员会集体讨论，同意按听证意见作出罚款伍万元的处罚决定"),
        ),
        punish_action(
            36,
            farm_shop,
            item=ITEM_HAZCHEM,
            title="未取得危险化学品经营许可证经营危险化学品",
            inspection=237,
            supervised="经营门店及后院仓库",
            source="其他部门移送",
            facts="经查，该经营部未取得危险化学品经营许可证，在门店后院仓库储存并销售硝酸铵类肥料共计1.2吨。",
            basis="《危险化学品安全管理条例》第三十三条第一款、第七十七条第三款",
            procedure="一般程序",
            kinds="没收违法所得;没收非法财物;罚款",
            fine="100000",
            result="责令停止经营活动，没收违法经营的危险化学品及违法所得人民币叁仟陆佰元，并处罚款人民币壹拾万元整",
            filed="2026-10-08",
            decided="2026-10-30",
            hearing=True,
            discussed=("2026-10-28", "经局案审委员会集体讨论，同意按法定最低限额处以罚款"),
        ),
        punish_action(
            37,
            changsheng,
            # One digit lost when the item code was copied: the one record this export is meant to get back.
            item=ITEM_INDUSTRY[:-1],
            title="未按规定组织应急预案演练",
            inspection=241,
            supervised="生产安全事故应急预案及演练记录",
            source="监督检查",
            facts="检查发现，该公司2026年度未按规定组织生产安全事故应急预案演练，无演练记录。",
            basis=f"{SAFETY_LAW}第八十一条、第九十七条第六项",
            procedure="一般程序",
            kinds="罚款",
            fine="15000",
            result="责令限期改正，处罚款人民币壹万伍仟元整",
            filed="2026-10-10",
            decided="2026-10-31",
        ),
    ]


def render_penalties_xml(records: Sequence[Mapping[str, str]]) -> bytes:
    """The case system's export: a root element, one <record> per case, one element per national column."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<jgxw_punish_action exportTime="2026-11-03T08:30:00" count="{len(records)}">',
    ]
    for record in records:
        lines.append("  <record>")
        lines.extend(f"    <{key}>{escape(value)}</{key}>" for key, value in record.items())
        lines.append("  </record>")
    lines.append("</jgxw_punish_action>")
    return ("\n".join(lines) + "\n").encode("utf-8")


# ----------------------------------------------------------------------- 市场监督管理局: 行政强制行为 (JSON)

ITEM_FOOD = "31403000100001"  # 食品销售监督检查 (as in samples/inbox/xz_inspection/)
ITEM_PRODUCT = "31406000100004"  # 产品质量监督检查
ITEM_PENALTY_EXECUTION = "31499000100002"  # 行政处罚决定执行
EXCHANGE_BATCH = "2026110500001"
NATURE_CODE = {"法人": 2, "其他组织": 3}


def force_action(
    serial: int,
    subject: Party,
    *,
    item: str,
    name: str,
    inspection: int,
    supervised: str,
    facts: str,
    basis: str,
    document: str,
    category: str,
    result: str | None,
    measure: str | None = None,
    execution: str | None = None,
    start: str | None = None,
    extension: str | None = None,
    end: str | None = None,
) -> dict[str, str | int]:
    """One 行政强制行为 in the column order of schemas/coercion_action.xsd; blank columns are left out."""
    authority, authority_code = AMR
    record: dict[str, str | int | None] = {
        "supervise_item_implement_code": item,
        "supervise_item_check_icode": _check_icode(authority_code, item),
        "force_action_name": name,
        "force_action_code": f"XZSJ-QZ-2026-{serial:04d}",
        "check_action_code": f"XZSJ-JC-2026-{inspection:05d}",
        "implement_institution": authority,
        "implement_institution_code": authority_code,
        "supervise_object": supervised,
        "administrative_cp": subject.name,
        # The bureau's system keeps the nature as a number and writes it as a JSON number.
        "administrative_cp_na": NATURE_CODE[subject.nature],
        "administrative_cp_ce_type": "001",
        "administrative_cp_ui_code": subject.code,
        "address_registered": subject.address,
        "area_number": subject.area,
        "illegal_fact": facts,
        "force_basis": basis,
        "force_document_no": document,
        "force_category": category,
        "force_measure_type": measure,
        "force_execution_type": execution,
        "force_result": result,
        "measure_start_date": start,
        "measure_extension": extension,
        "measure_end_date": end,
        "submitted_date": "2026-11-05 09:00:00",
        "submitted_personnel": "执法稽查科",
        "cd_operation": "i",
        "cd_batch": EXCHANGE_BATCH,
    }
    return {key: value for key, value in record.items() if value is not None}


def amr_force_actions() -> list[dict[str, str | int]]:
    trader = party("忻州市晋北商贸有限公司", "91140902MA0K2B3C30", "140902", "山西省忻州市忻府区长征街46号")
    building = party(
        "原平市恒泰建材有限公司", "91140981MA0K8H9J8Y", "140981", "山西省忻州市原平市建设北路12号"
    )
    food = party("忻州润丰食品有限公司", "91140902MA0F85XM85", "140902", "山西省忻州市忻府区和平街123号")
    hardware = party("代县薛记建材门市部", "92140923MA0HK8QB9U", "140923", "山西省忻州市代县长征街158号")
    machinery = party(
        "定襄县宏达机械制造有限公司", "91140921MA0K4D5E9E", "140921", "山西省忻州市定襄县宏道镇法兰工业园区"
    )
    wutai_food = party(
        "五台县昌盛食品有限公司", "91140922MA0NTEYE5P", "140922", "山西省忻州市五台县迎宾大街266号"
    )
    food_law = "《中华人民共和国食品安全法》第一百一十条"
    quality_law = "《中华人民共和国产品质量法》第十八条第一款第四项"
    seize = "扣押财物"
    seal = "查封场所、设施或者财物"
    return [
        force_action(
            17,
            trader,
            item=ITEM_FOOD,
            name="对忻州市晋北商贸有限公司超过保质期预包装食品的扣押",
            inspection=352,
            supervised="超过保质期的预包装食品12件",
            facts="2026年9月18日检查发现，该公司仓库存放待售的超过保质期的预包装食品12件。",
            basis=f"{food_law}第四项",
            document="忻市监强制〔2026〕17号",
            category="强制措施",
            measure=seize,
            result="已解除扣押，涉案食品依法没收",
            start="2026-09-18 15:20:00",
            end="2026-10-08 10:00:00",
        ),
        force_action(
            18,
            building,
            item=ITEM_PRODUCT,
            name="对原平市恒泰建材有限公司不合格水泥的查封",
            inspection=361,
            supervised="强度不合格的袋装水泥200袋",
            facts="监督抽检发现该公司销售的P.O 42.5袋装水泥28天抗压强度不合格，库存200袋。",
            basis=quality_law,
            document="忻市监强制〔2026〕18号",
            category="强制措施",
            measure=seal,
            result="查封期间，涉案水泥已依法处理",
            start="2026-09-26 10:30:00",
            extension="30日",
            end="2026-11-25 10:30:00",
        ),
        force_action(
            19,
            food,
            item=ITEM_FOOD,
            name="对忻州润丰食品有限公司糕点生产车间的查封",
            inspection=377,
            supervised="糕点生产车间及库存原料",
            facts="检查发现该公司糕点生产车间存放并使用未标明来源的非食用色素，涉嫌使用非食品原料生产食品。",
            basis=f"{food_law}第五项",
            document="忻市监强制〔2026〕19号",
            category="强制措施",
            measure=seal,
            result=None,
            start="2026-10-14 16:05:00",
        ),
        force_action(
            20,
            hardware,
            item=ITEM_PRODUCT,
            name="对代县薛记建材门市部不合格电线的扣押",
            inspection=388,
            supervised="导体电阻不合格的BV2.5电线30卷",
            facts="监督抽查发现该门市部销售的BV2.5电线导体电阻不合格，库存30卷。",
            basis=quality_law,
            document="忻市监强制〔2026〕20号",
            category="强制措施",
            measure=seize,
            result="已解除扣押，涉案电线依法没收",
            start="2026-10-20 09:40:00",
            end="2026-11-18 09:40:00",
        ),
        force_action(
            22,
            machinery,
            item=ITEM_PENALTY_EXECUTION,
            name="对定襄县宏达机械制造有限公司逾期不缴纳罚款加处罚款",
            inspection=305,
            supervised="忻市监罚〔2026〕102号行政处罚决定书确定的罚款",
            facts="当事人未在法定期限内缴纳忻市监罚〔2026〕102号行政处罚决定书确定的罚款人民币叁万元。",
            basis="《中华人民共和国行政强制法》第四十五条；《中华人民共和国行政处罚法》第七十二条第一款第一项",
            document="忻市监强执〔2026〕2号",
            category="强制执行",
            execution="加处罚款",
            result="当事人已缴纳罚款及加处罚款",
        ),
        force_action(
            21,
            wutai_food,
            item=ITEM_FOOD,
            name="对五台县昌盛食品有限公司过期原料的扣押",
            inspection=394,
            supervised="超过保质期的食品原料（小麦粉）15袋",
            facts="检查发现该公司原料库存放超过保质期的小麦粉15袋，拟用于生产。",
            basis=f"{food_law}第四项",
            document="忻市监强制〔2026〕21号",
            category="强制措施",
            # 强制措施类型 left out by the clerk: the one record this export is meant to get back.
            measure=None,
            result=None,
            start="2026-10-27 11:00:00",
        ),
    ]


def render_force_actions_json(records: Sequence[Mapping[str, str | int]]) -> bytes:
    return (json.dumps(list(records), ensure_ascii=False, indent=2) + "\n").encode("utf-8")


# ------------------------------------------------------------- 12345 热线: 投诉举报工单 (CSV, GB18030)

HOTLINE_HEADERS = [
    "序号",
    "工单编号",
    "诉求类型",
    "受理日期",
    "被投诉单位",
    "被投诉单位类型",
    "统一社会信用代码",
    "投诉内容",
    "承办单位",
    "办结日期",
    "办理结果",
]


def ticket(
    number: str,
    kind: str,
    accepted: str,
    target: str,
    category: str,
    code: str,
    content: str,
    handler: str,
    finished: str = "",
    result: str = "",
) -> list[str]:
    return [
        number,
        kind,
        accepted,
        target,
        category,
        code and _valid(code),
        content,
        handler,
        finished,
        result,
    ]


def hotline_tickets() -> list[list[str]]:
    amr = AMR[0]
    rows = [
        ticket(
            "12345-1409-20261008-0127",
            "投诉",
            "2026-10-08 09:15:32",
            "忻州康宁餐饮管理有限公司",
            "企业",
            "91140902MA0JR5L25G",
            "市民来电反映该公司经营的餐厅后厨卫生脏乱，餐具未经消毒重复使用，要求相关部门核查处理。",
            amr,
            "2026-10-15 16:40:11",
            "经现场核查，后厨卫生状况确有不足，已责令限期整改，复查合格。",
        ),
        ticket(
            "12345-1409-20261011-0342",
            "投诉",
            "2026-10-11 14:02:07",
            "忻府区段记粮油店",
            "个体工商户",
            "92140902MA0P1AF245",
            "市民来电反映在该店购买散装小米5斤，回家复称不足4斤半，怀疑短斤缺两。",
            amr,
            "2026-10-16 11:20:45",
            "经核查，该店电子秤未经检定，已责令停用并送检，经调解经营者退还差价。",
        ),
        ticket(
            "12345-1409-20261012-0418",
            "投诉",
            "2026-10-12 10:47:19",
            "忻州顺达房地产开发有限公司",
            "企业",
            "91140902MA09M7WLX3",
            "业主来电反映该公司开发的小区合同约定2026年6月交房，至今未交付，也未给出明确交房时间。",
            "忻州市住房和城乡建设局",
        ),
        ticket(
            "12345-1409-20261014-0533",
            "举报",
            "2026-10-14 19:33:50",
            "定襄县陈记超市",
            "个体工商户",
            "92140921MA0AN6HH5P",
            "市民来电举报该超市冷柜内有多盒超过保质期的酸奶仍在销售。",
            "定襄县市场监督管理局",
            "2026-10-21 15:05:30",
            "经现场检查，发现超过保质期酸奶6盒，已下架并立案调查。",
        ),
        ticket(
            "12345-1409-20261017-0671",
            "投诉",
            "2026-10-17 08:51:26",
            "五台县永利旅游开发有限公司",
            "企业",
            "91140922MA02DWHF85",
            "游客来电反映该公司经营的景区停车场收费未明码标价，实际收费高于口头告知的价格。",
            "五台县市场监督管理局",
            "2026-10-24 17:12:03",
            "经核查，停车场收费公示牌被遮挡，已责令整改，多收费用已退还。",
        ),
        ticket(
            "12345-1409-20261019-0755",
            "投诉",
            "2026-10-19 11:26:44",
            "忻州宏达商贸有限公司",
            "企业",
            "91140902MA0YLH2A3B",
            "市民来电反映该公司发行的购物卡在门店停业后无法使用，公司拒绝退还卡内余额。",
            "忻州市商务局",
            "2026-10-30 09:48:15",
            "经协调，该公司已制定退卡方案，来电人卡内余额已全部退还。",
        ),
        # The hotline knew the company only by its name.
        ticket(
            "12345-1409-20261022-0903",
            "投诉",
            "2026-10-22 20:14:09",
            "忻州天成餐饮管理有限公司",
            "企业",
            "",
            "市民来电反映该公司经营的饭店油烟净化设施未开启，油烟直排影响周边居民。",
            "忻州市生态环境局",
            "2026-10-29 10:30:00",
            "经现场检查，油烟净化设施未正常运行，已责令立即整改。",
        ),
        ticket(
            "12345-1409-20261026-1088",
            "举报",
            "2026-10-26 15:38:21",
            "原平市天成农业科技有限公司",
            "企业",
            "91140981MA03L3N338",
            "农户来电举报该公司销售的复合肥料养分含量与包装标注不符，怀疑为不合格产品。",
            "原平市农业农村局",
            "2026-11-04 16:22:37",
            "经抽样检验，该批次肥料总养分不合格，已责令停止销售并立案查处。",
        ),
    ]
    return [[str(index), *row] for index, row in enumerate(rows, start=1)]


def render_tickets_csv(rows: Sequence[Sequence[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HOTLINE_HEADERS)
    writer.writerows(rows)
    return out.getvalue().encode("gb18030")


# ------------------------------------------------------------------------------------------------ writing


def write_all(inbox: Path = HERE) -> list[Path]:
    """Write the three exports under ``inbox`` (one folder per department) and return their paths."""
    outputs = {
        EMERGENCY_FILE: render_penalties_xml(emergency_penalties()),
        ENFORCEMENT_FILE: render_force_actions_json(amr_force_actions()),
        HOTLINE_FILE: render_tickets_csv(hotline_tickets()),
    }
    written = []
    for relative, content in outputs.items():
        target = inbox / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        written.append(target)
    return written


if __name__ == "__main__":
    for path in write_all():
        print(f"wrote {path.relative_to(HERE.parent.parent)}")
