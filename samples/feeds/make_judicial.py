"""Regenerate the courts' sample exports in samples/feeds/judicial/ (committed: the demo needs no generator).

Two exports in the format of schemas/sources/judicial_export.xsd, as the courts of 忻州 would send them:

  judicial_20261101T0800_0001.xml  裁判文书 and 失信被执行人 of 忻州市中级人民法院, 忻府区人民法院,
                                   原平市人民法院 and 定襄县人民法院 about enterprises of samples/inbox/
                                   and two natural persons;
  judicial_20261115T0800_0002.xml  the next export: one new judgment, one debtor's record updated (part of the
                                   debt paid) and one debtor taken off the list (removeDate, removeReason).

``write_large`` writes a valid export of any size (for the connector's memory test and benchmarks).
All codes are fictitious but carry valid check characters; ID numbers are whole, as the court exports them.

    .venv/bin/python samples/feeds/make_judicial.py
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO
from xml.sax.saxutils import escape, quoteattr

HERE = Path(__file__).resolve().parent / "judicial"
NAMESPACE = "urn:cn:xinzhou:court:export:1"
FIRST = "judicial_20261101T0800_0001.xml"
SECOND = "judicial_20261115T0800_0002.xml"

INTERMEDIATE = ("忻州市中级人民法院", "11140900MB0P10906F")
XINFU = ("忻州市忻府区人民法院", "11140902MB0P1902XK")
YUANPING = ("原平市人民法院", "11140981MB0P19812R")
DINGXIANG = ("定襄县人民法院", "11140921MB0P192141")

Fields = list[tuple[str, object]]  # (element, text | None | nested Fields); "@name" for attributes


def judgment(
    record_id: str,
    court: tuple[str, str],
    case_no: str,
    case_type: str,
    procedure: str,
    document: str,
    cause: str,
    case_name: str,
    decided: str,
    parties: str,
    subject: tuple[str, str, str, str | None, str | None],
    result: str,
    *,
    amount: str | None = None,
    published: str | None = None,
) -> Fields:
    name, category, role, uscc, id_number = subject
    return [
        ("@id", record_id),
        ("caseNo", case_no),
        ("caseName", case_name),
        ("courtName", court[0]),
        ("courtCode", court[1]),
        ("caseType", case_type),
        ("trialProcedure", procedure),
        ("documentType", document),
        ("causeOfAction", cause),
        ("judgmentDate", decided),
        ("publishDate", published),
        ("parties", parties),
        (
            "subject",
            [
                ("@role", role),
                ("name", name),
                ("category", category),
                ("uscc", uscc),
                ("idNumber", id_number),
            ],
        ),
        ("judgmentResult", result),
        ("amount", amount),
    ]


def debtor(
    record_id: str,
    court: tuple[str, str],
    case_code: str,
    name: str,
    party_type: str,
    code: str,
    gist: tuple[str, str],
    registered: str,
    duty: str,
    situation: str,
    published: str,
    *,
    legal: str | None = None,
    sex: str | None = None,
    age: str | None = None,
    performance: str = "全部未履行",
    performed: str | None = None,
    unperformed: str | None = None,
    removed: tuple[str, str] | None = None,
) -> Fields:
    person = party_type == "自然人"
    return [
        ("@id", record_id),
        ("caseCode", case_code),
        ("iname", name),
        ("partyType", party_type),
        ("uscc", None if person else code),
        ("cardNum", code if person else None),
        ("sex", sex),
        ("age", age),
        ("businessEntity", legal),
        ("courtName", court[0]),
        ("areaName", "山西"),
        ("gistId", gist[0]),
        ("regDate", registered),
        ("gistUnit", gist[1]),
        ("duty", duty),
        ("performance", performance),
        ("performedPart", performed),
        ("unperformPart", unperformed),
        ("disruptTypeName", situation),
        ("publishDate", published),
        ("removeDate", removed[0] if removed else None),
        ("removeReason", removed[1] if removed else None),
    ]


REFUSE = "有履行能力而拒不履行生效法律文书确定义务"


def first_export() -> tuple[list[Fields], list[Fields]]:
    judgments = [
        judgment(
            "J-0902-2026-0001",
            XINFU,
            "（2026）晋0902民初1234号",
            "民事",
            "一审",
            "判决书",
            "买卖合同纠纷",
            "忻州市鑫源超市有限公司与忻州市晋北商贸有限公司买卖合同纠纷",
            "2026-09-18",
            "原告：忻州市鑫源超市有限公司；被告：忻州市晋北商贸有限公司",
            ("忻州市晋北商贸有限公司", "法人及非法人组织", "被告", "91140902MA0K2B3C30", None),
            "被告忻州市晋北商贸有限公司于本判决生效之日起十日内支付原告货款人民币86500元及逾期付款利息。",
            amount="86500.00",
            published="2026-09-30",
        ),
        judgment(
            "J-09-2026-0002",
            INTERMEDIATE,
            "（2026）晋09民终456号",
            "民事",
            "二审",
            "判决书",
            "建设工程施工合同纠纷",
            "定襄县宏达机械制造有限公司与忻州市建工集团有限公司建设工程施工合同纠纷",
            "2026-07-22",
            "上诉人（原审被告）：定襄县宏达机械制造有限公司；被上诉人（原审原告）：忻州市建工集团有限公司",
            ("定襄县宏达机械制造有限公司", "法人及非法人组织", "上诉人", "91140921MA0K4D5E9E", None),
            "驳回上诉，维持原判。二审案件受理费人民币4800元，由上诉人定襄县宏达机械制造有限公司负担。本判决为终审判决。",
            amount="312000.00",
            published="2026-08-05",
        ),
        judgment(
            "J-0981-2026-0003",
            YUANPING,
            "（2026）晋0981民初789号",
            "民事",
            "一审",
            "调解书",
            "产品质量损害赔偿纠纷",
            "原平市康居装饰工程有限公司与原平市恒泰建材有限公司产品质量损害赔偿纠纷",
            "2026-08-30",
            "原告：原平市康居装饰工程有限公司；被告：原平市恒泰建材有限公司",
            ("原平市恒泰建材有限公司", "法人及非法人组织", "被告", "91140981MA0K8H9J8Y", None),
            "被告原平市恒泰建材有限公司于2026年9月30日前赔偿原告损失人民币42000元。",
            amount="42000.00",
        ),
        judgment(
            "J-0902-2026-0004",
            XINFU,
            "（2026）晋0902行初12号",
            "行政",
            "一审",
            "判决书",
            "行政处罚纠纷",
            "五台县李记饭店诉忻州市市场监督管理局行政处罚纠纷",
            "2026-10-09",
            "原告：五台县李记饭店；被告：忻州市市场监督管理局",
            ("五台县李记饭店", "个体工商户", "原告", "92140922MA0K6F7G4M", None),
            "驳回原告五台县李记饭店的诉讼请求。案件受理费人民币50元，由原告负担。",
            published="2026-10-20",
        ),
        judgment(
            "J-0921-2026-0005",
            DINGXIANG,
            "（2026）晋0921民初321号",
            "民事",
            "一审",
            "判决书",
            "民间借贷纠纷",
            "王秀英与刘翠兰民间借贷纠纷",
            "2026-06-12",
            "原告：王秀英；被告：刘翠兰",
            ("刘翠兰", "自然人", "被告", None, "140981197906152044"),
            "被告刘翠兰于本判决生效之日起十日内偿还原告借款人民币150000元及利息。",
            amount="150000.00",
        ),
    ]
    debtors = [
        debtor(
            "D-09-2026-0045",
            INTERMEDIATE,
            "（2026）晋09执45号",
            "定襄县宏达机械制造有限公司",
            "法人及非法人组织",
            "91140921MA0K4D5E9E",
            ("（2026）晋09民终456号", INTERMEDIATE[0]),
            "2026-08-20",
            "支付工程款人民币312000元及利息，负担案件受理费4800元。",
            REFUSE,
            "2026-10-20",
            legal="李宏达",
        ),
        debtor(
            "D-0902-2026-0123",
            XINFU,
            "（2026）晋0902执123号",
            "忻州市晋北商贸有限公司",
            "法人及非法人组织",
            "91140902MA0K2B3C30",
            ("（2026）晋0902民初1234号", XINFU[0]),
            "2026-10-12",
            "支付货款人民币86500元及逾期付款利息。",
            "违反财产报告制度",
            "2026-10-28",
            legal="王建国",
            unperformed="货款人民币86500元及利息",
        ),
        debtor(
            "D-0902-2026-0156",
            XINFU,
            "（2026）晋0902执156号",
            "张建平",
            "自然人",
            "140902198503121234",
            ("（2025）晋0902民初2210号", XINFU[0]),
            "2026-03-02",
            "偿还借款人民币60000元及利息。",
            "违反限制消费令",
            "2026-05-18",
            sex="男",
            age="41",
        ),
        debtor(
            "D-0981-2026-0078",
            YUANPING,
            "（2026）晋0981执78号",
            "原平市恒泰建材有限公司",
            "法人及非法人组织",
            "91140981MA0K8H9J8Y",
            ("（2026）晋0981民初789号", YUANPING[0]),
            "2026-10-08",
            "赔偿损失人民币42000元。",
            REFUSE,
            "2026-10-25",
            legal="赵恒泰",
        ),
        debtor(
            "D-0921-2026-0034",
            DINGXIANG,
            "（2026）晋0921执34号",
            "刘翠兰",
            "自然人",
            "140981197906152044",
            ("（2026）晋0921民初321号", DINGXIANG[0]),
            "2026-07-15",
            "偿还借款人民币150000元及利息。",
            "以虚假诉讼、虚假仲裁或者以隐匿、转移财产等方法规避执行",
            "2026-09-10",
            sex="女",
            age="47",
        ),
        debtor(
            "D-0902-2026-0201",
            XINFU,
            "（2026）晋0902执201号",
            "五台县李记饭店",
            "个体工商户",
            "92140922MA0K6F7G4M",
            ("（2026）晋0902民初1502号", XINFU[0]),
            "2026-09-01",
            "支付食材货款人民币18600元。",
            REFUSE,
            "2026-10-16",
            legal="李二宝",
        ),
    ]
    return judgments, debtors


def _changed(fields: Fields, **changes: str) -> Fields:
    """The record as the next export sends it: whole, with some fields changed or filled in."""
    return [(name, changes.get(name, value)) for name, value in fields]


def second_export() -> tuple[list[Fields], list[Fields]]:
    _, debtors = first_export()
    new_judgment = judgment(
        "J-0902-2026-0006",
        XINFU,
        "（2026）晋0902民初1876号",
        "民事",
        "一审",
        "判决书",
        "运输合同纠纷",
        "忻州市晋北商贸有限公司与五寨县通达物流有限公司运输合同纠纷",
        "2026-11-06",
        "原告：忻州市晋北商贸有限公司；被告：五寨县通达物流有限公司",
        ("五寨县通达物流有限公司", "法人及非法人组织", "被告", "91140928MA0KEU5W7E", None),
        "被告五寨县通达物流有限公司于本判决生效之日起十日内赔偿原告货物损失人民币23400元。",
        amount="23400.00",
        published="2026-11-12",
    )
    partly_paid = _changed(
        debtors[1],
        performance="部分未履行",
        performedPart="已支付货款人民币30000元",
        unperformPart="货款人民币56500元及利息",
    )
    paid = _changed(
        debtors[3],
        performance="全部履行",
        performedPart="已赔偿损失人民币42000元",
        removeDate="2026-11-12",
        removeReason="被执行人已履行生效法律文书确定的全部义务",
    )
    return [new_judgment], [partly_paid, paid]


# ------------------------------------------------------------------------------------------------ writing


def _element(out: TextIO, tag: str, fields: Fields, indent: str) -> None:
    attributes = "".join(f" {name[1:]}={quoteattr(str(v))}" for name, v in fields if name.startswith("@"))
    out.write(f"{indent}<{tag}{attributes}>\n")
    for name, value in fields:
        if name.startswith("@") or value is None:
            continue
        if isinstance(value, list):
            _element(out, name, value, indent + "  ")
        else:
            out.write(f"{indent}  <{name}>{escape(str(value))}</{name}>\n")
    out.write(f"{indent}</{tag}>\n")


def _start(out: TextIO, export_id: str, exported_at: str) -> None:
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    out.write(
        f'<JudicialExport xmlns="{NAMESPACE}" exportId="{export_id}" exportedAt="{exported_at}" '
        f'sender="{INTERMEDIATE[0]}" senderCode="{INTERMEDIATE[1]}">\n'
    )


def write_export(
    out: TextIO, export_id: str, exported_at: str, judgments: Iterable[Fields], debtors: Iterable[Fields]
) -> None:
    _start(out, export_id, exported_at)
    for section, tag, records in (("Judgments", "Judgment", judgments), ("Debtors", "Debtor", debtors)):
        out.write(f"  <{section}>\n")
        for fields in records:
            _element(out, tag, fields, "    ")
        out.write(f"  </{section}>\n")
    out.write("</JudicialExport>\n")


def _rendered(tag: str, records: list[Fields]) -> list[str]:
    """The records as text with a placeholder for the id, so a large file is written by replacement."""
    rendered = []
    for fields in records:
        out = io.StringIO()
        _element(out, tag, [("@id", _ID), *fields[1:]], "    ")
        rendered.append(out.getvalue())
    return rendered


_ID = "ID-PLACEHOLDER-XY"  # 17 characters, the length of the ids write_large gives


def write_large(path: Path, target_bytes: int) -> int:
    """A valid export of at least ``target_bytes``, written as it goes; returns the number of debtors.

    Half judgments, half debtors: the samples' records again and again under new ids."""
    judgments, debtors = first_export()
    sections = (("Judgments", "Judgment", "J", target_bytes // 2), ("Debtors", "Debtor", "D", target_bytes))
    number, debtor_count = 0, 0
    with path.open("w", encoding="utf-8") as out:
        head = io.StringIO()
        _start(head, "BULK-0001", "2026-11-20T08:00:00+08:00")
        out.write(head.getvalue())
        written = len(head.getvalue().encode())
        for section, tag, prefix, until in sections:
            out.write(f"  <{section}>\n")
            templates = _rendered(tag, judgments if tag == "Judgment" else debtors)
            sizes = [len(t.encode()) for t in templates]
            while written < until:
                for template, size in zip(templates, sizes, strict=True):
                    number += 1
                    record_id = f"{prefix}-BULK-{number:010d}"  # as long as the placeholder
                    out.write(template.replace(_ID, record_id))
                    written += size
                    debtor_count += tag == "Debtor"
            out.write(f"  </{section}>\n")
        out.write("</JudicialExport>\n")
    return debtor_count


def main() -> None:
    HERE.mkdir(parents=True, exist_ok=True)
    exports = (
        (FIRST, "XZZY-20261101-0001", "2026-11-01T08:00:00+08:00", first_export()),
        (SECOND, "XZZY-20261115-0002", "2026-11-15T08:00:00+08:00", second_export()),
    )
    for name, export_id, exported_at, (judgments, debtors) in exports:
        with (HERE / name).open("w", encoding="utf-8", newline="\n") as out:
            write_export(out, export_id, exported_at, judgments, debtors)
        print(f"{HERE / name}: {len(judgments)} judgments, {len(debtors)} debtors")


if __name__ == "__main__":
    main()
