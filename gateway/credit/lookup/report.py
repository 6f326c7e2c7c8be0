"""The printable report (查询报告) of a lookup, as HTML and as PDF, from the same answer the JSON gives.

Both formats are drawn from one list of sections (:func:`sections`), so the PDF can never say something the
HTML does not. Every report carries its number and the time it was made at the top and in each page's
footer: the number is what the department files with the matter, and what the query log is searched by.
The sections follow the content categories of 《公共信用信息报告标准（2022年版）》 (国家公共信用信息中心)
that the gateway holds (docs/lookup.md, "The report"); the risk class is a section only in an internal
caller's report, under its notice that it is 内部参考.

The PDF uses reportlab's built-in CID font STSong-Light (Adobe-GB1): PDF readers supply the glyphs, so
Chinese renders without a font file shipped or installed.
"""

from __future__ import annotations

import html as html_lib
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from gateway.credit.lookup.blocks import RED_LISTS

TITLE = "市场主体信用状况查询报告"
SUBTITLE = "逢办必查：供办理事项的部门使用"
NONE = "无"
UNKNOWN = "未计算（以公示机关公告为准）"

ROLE_LABELS = {"department": "业务部门", "internal": "内部（含风险分类）", "auditor": "审计"}
RED_LIST_TITLES = {
    "serious_dishonesty": "严重失信主体名单",
    "dishonest_debtor": "失信被执行人",
    "abnormal_operation": "经营异常名录",
}
BASIS = (
    "国务院办公厅关于加快推进社会信用体系建设构建以信用为基础的新型监管机制的指导意见（国办发〔2019〕35号）",
    "公共信用信息报告标准（2022年版）（国家公共信用信息中心）",
)


@dataclass
class Section:
    title: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    note: str | None = None
    empty: str | None = None  # shown instead of the table when it has no rows


def _text(value: Any) -> str:
    if value is None or value == "":
        return "—"
    return str(value)


def header_fields(document: Mapping[str, Any]) -> list[tuple[str, str]]:
    caller = document["caller"]
    query = document["query"]
    return [
        ("报告编号", document["report_no"]),
        ("生成时间", document["generated_at"]),
        (
            "查询单位",
            f"{caller['department']}（{caller['name']}，{ROLE_LABELS.get(caller['role'], caller['role'])}）",
        ),
        ("办理事项", document["matter"]),
        ("查询代码", f"{query['label']} {query['code']}"),
    ]


def sections(document: Mapping[str, Any]) -> list[Section]:
    """The report's sections for a lookup that found the entity, or the one that says it found none."""
    if document["outcome"] != "found":
        return [Section("查询结果", note=document["error"]["message"], empty="未查到该市场主体")]
    e = document["entity"]
    s = document["summary"]
    out = [
        Section(
            "概要",
            fields=[
                ("红线名单（当前有效）", f"{s['red_lists']} 条"),
                ("公示期内行政处罚", f"{s['penalties_in_publicity']} 条"),
                ("信用承诺（有效或未全部履行）", f"{s['commitments']} 条"),
                ("信用修复", f"{s['repairs']} 条"),
                ("异议处理中", f"{s['objections_pending']} 条"),
            ],
        ),
        Section(
            "一、主体基本信息",
            fields=[
                ("名称", _text(e["name"])),
                ("统一社会信用代码", _text(e["uscc"])),
                ("注册号", _text(e["reg_no"])),
                ("组织机构代码", _text(e["org_code"])),
                ("法定代表人（负责人、经营者）", _text(e["legal_representative"])),
                ("市场主体类型", _text(e["type"])),
                ("登记状态", _text(e["registration_state"])),
                ("登记机关", _text(e["registration_authority"])),
                ("成立日期", _text(e["established_on"])),
                ("住所", _text(e["address"])),
            ],
            note=None
            if e["registration_record"]
            else "平台尚未收到该主体的登记信息记录，名称与代码取自主体库",
        ),
    ]
    for number, name in zip(("二", "三", "四"), RED_LISTS, strict=True):
        items = document["red_lists"][name]
        if name == "dishonest_debtor":
            headers = ["案号", "执行法院", "履行情况", "失信情形", "发布日期", "公示截止"]
            rows = [
                [
                    _text(i["case_no"]),
                    _text(i["court"]),
                    _text(i["performance"]),
                    _text(i["reason"]),
                    _text(i["listed_on"]),
                    _text(i["until"]),
                ]
                for i in items
            ]
        else:
            headers = ["名录编号", "列入机关", "列入原因", "列入日期", "公示截止"]
            rows = [
                [
                    _text(i["list_id"]),
                    _text(i["listed_by"]),
                    _text(i["reason"]),
                    _text(i["listed_on"]),
                    _text(i["until"]),
                ]
                for i in items
            ]
        out.append(
            Section(f"{number}、{RED_LIST_TITLES[name]}（当前有效）", headers=headers, rows=rows, empty=NONE)
        )
    out.append(
        Section(
            "五、行政处罚（公示期内）",
            headers=["决定书文号", "处罚机关", "处罚类别", "违法行为", "决定日期", "公示截止日"],
            rows=[
                [
                    _text(p["decision_no"]),
                    _text(p["authority"]),
                    _text(p["category"]),
                    _text(p["violation"]),
                    _text(p["decided_on"]),
                    _text(p["publicity_ends_on"]) if p["publicity_end_known"] else UNKNOWN,
                ]
                for p in document["penalties"]
            ],
            empty=NONE,
        )
    )
    out.append(
        Section(
            "六、信用承诺及履约情况",
            headers=["承诺编码", "承诺类型", "承诺事由", "作出日期", "有效期至", "履行状态"],
            rows=[
                [
                    _text(c["code"]),
                    _text(c["type"]),
                    _text(c["matter"]),
                    _text(c["made_on"]),
                    _text(c["valid_until"]),
                    _text(c["fulfilment"]),
                ]
                for c in document["commitments"]
            ],
            empty=NONE,
        )
    )
    repairs = document["repairs"]
    out.append(
        Section(
            "七、信用修复",
            headers=["修复编号", "修复信息类型", "修复信息文号", "修复决定机关", "决定日期", "修复结果"],
            rows=[
                [
                    _text(r["repair_no"]),
                    _text(r["repaired_type"]),
                    _text(r["repaired_key"]),
                    _text(r["repair_authority"]),
                    _text(r["repair_date"]),
                    _text(r["repair_result"]),
                ]
                for r in repairs["decisions"]
            ]
            + [
                [
                    "—",
                    _text(r["label"]),
                    _text(r["key"]),
                    "—",
                    _text(r["repaired_on"]),
                    "已修复，停止公示",
                ]
                for r in repairs["repaired_records"]
            ],
            empty=NONE,
        )
    )
    out.append(
        Section(
            "八、异议处理中",
            headers=["信息类别", "信息文号", "提出方", "提出日期", "处理期限"],
            rows=[
                [
                    _text(o["label"]),
                    _text(o["key"]),
                    _text(o["raised_by"]),
                    _text(o["raised_on"]),
                    _text(o["deadline"]),
                ]
                for o in document["objections"]
            ],
            empty=NONE,
            note="异议处理期间，相关信息暂停向省级平台报送" if document["objections"] else None,
        )
    )
    out.append(
        Section(
            "九、数据来源及更新时间",
            headers=["信息类别", "来源", "最近收到数据", "最近检查"],
            rows=[
                [
                    _text(f["label"]),
                    _text(f["source"]),
                    _text(f["last_received_at"]),
                    _text(f["last_checked_at"]),
                ]
                for f in document["sources"]
            ],
            empty="尚无数据来源记录",
        )
    )
    risk = document.get("risk")
    if risk is not None:
        out.append(
            Section(
                "十、信用风险分类（内部参考）",
                fields=[
                    (
                        "分类",
                        f"{risk['class']} {risk['label']}"
                        if risk["classified"]
                        else "未分类（不在分类范围内或尚未分类）",
                    ),
                    ("分类月份", _text(risk["period"])),
                    ("计算日期", _text(risk["as_of"])),
                ],
                note=risk["notice"],
            )
        )
    return out


# --------------------------------------------------------------------------------------------- HTML
_CSS = """
body{font-family:"Noto Serif CJK SC","Songti SC",SimSun,serif;margin:2em auto;max-width:60em;color:#111}
h1{font-size:1.5em;text-align:center;margin-bottom:0}p.sub{text-align:center;color:#555;margin-top:.3em}
h2{font-size:1.1em;border-bottom:1px solid #999;margin-top:1.6em}
table{border-collapse:collapse;width:100%;font-size:.9em}th,td{border:1px solid #aaa;padding:.25em .4em;
text-align:left;vertical-align:top}th{background:#eee}table.fields th{width:16em}
p.note{color:#444;font-size:.9em}p.internal{border:2px solid #b00;color:#b00;padding:.4em;font-weight:bold}
footer{margin-top:2em;font-size:.8em;color:#555;border-top:1px solid #999}
@media print{body{margin:0;max-width:none}h2{break-after:avoid}tr{break-inside:avoid}}
"""


def html(document: Mapping[str, Any]) -> str:
    esc = html_lib.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        f"<title>{esc(TITLE)} {esc(document['report_no'])}</title><style>{_CSS}</style></head><body>",
        f'<h1>{esc(TITLE)}</h1><p class="sub">{esc(SUBTITLE)}</p>',
    ]
    if document.get("risk") is not None:
        parts.append(
            f'<p class="internal">{esc("本报告含内部参考信息（信用风险分类），不得公开或对外提供")}</p>'
        )
    parts.append(_html_fields(header_fields(document), report_no=True))
    for section in sections(document):
        parts.append(f"<h2>{esc(section.title)}</h2>")
        if section.fields:
            parts.append(_html_fields(section.fields))
        if section.headers and section.rows:
            head = "".join(f"<th>{esc(h)}</th>" for h in section.headers)
            body = "".join(
                "<tr>" + "".join(f"<td>{esc(cell)}</td>" for cell in row) + "</tr>" for row in section.rows
            )
            parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif section.empty:
            parts.append(f"<p>{esc(section.empty)}</p>")
        if section.note:
            parts.append(f'<p class="note">{esc(section.note)}</p>')
    parts.append(
        f'<footer><p>报告编号 <span id="report-no">{esc(document["report_no"])}</span> · 生成时间 '
        f"{esc(document['generated_at'])} · 本次查询已记录在查询日志中</p>"
        f"<p>依据：{'；'.join(esc(b) for b in BASIS)}</p></footer></body></html>"
    )
    return "".join(parts)


def _html_fields(fields: Sequence[tuple[str, str]], *, report_no: bool = False) -> str:
    esc = html_lib.escape
    rows = "".join(f"<tr><th>{esc(label)}</th><td>{esc(value)}</td></tr>" for label, value in fields)
    ident = ' id="head"' if report_no else ""
    return f'<table class="fields"{ident}>{rows}</table>'


# ---------------------------------------------------------------------------------------------- PDF
FONT = "STSong-Light"


@cache
def _styles() -> dict[str, Any]:
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    base = {"fontName": FONT, "wordWrap": "CJK"}
    return {
        "title": ParagraphStyle("title", fontSize=16, leading=22, alignment=1, **base),
        "sub": ParagraphStyle("sub", fontSize=9, leading=13, alignment=1, **base),
        "h2": ParagraphStyle("h2", fontSize=11.5, leading=16, spaceBefore=10, spaceAfter=4, **base),
        "cell": ParagraphStyle("cell", fontSize=8.5, leading=11.5, **base),
        "head": ParagraphStyle("head", fontSize=8.5, leading=11.5, **base),
        "note": ParagraphStyle("note", fontSize=8.5, leading=12, textColor="#444444", **base),
        "internal": ParagraphStyle("internal", fontSize=10, leading=14, textColor="#bb0000", **base),
    }


def pdf(document: Mapping[str, Any]) -> bytes:
    """A4 portrait, the report number and the time in every page's footer."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    st = _styles()
    esc = html_lib.escape  # Paragraph reads a small XML markup: &, < and > must be escaped

    def para(text: str, style: str = "cell") -> Any:
        return Paragraph(esc(text), st[style])

    width = A4[0] - 30 * mm
    grid = TableStyle(
        [
            ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LEFTPADDING", (0, 0), (-1, -1), 3),
            ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ]
    )

    def fields_table(fields: Sequence[tuple[str, str]]) -> Any:
        table = Table(
            [[para(label, "head"), para(value)] for label, value in fields],
            colWidths=[45 * mm, width - 45 * mm],
        )
        table.setStyle(grid)
        table.setStyle(TableStyle([("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#eeeeee"))]))
        return table

    story: list[Any] = [para(TITLE, "title"), para(SUBTITLE, "sub"), Spacer(1, 4 * mm)]
    if document.get("risk") is not None:
        story.append(para("本报告含内部参考信息（信用风险分类），不得公开或对外提供", "internal"))
    story.append(fields_table(header_fields(document)))
    for section in sections(document):
        story.append(para(section.title, "h2"))
        if section.fields:
            story.append(fields_table(section.fields))
        if section.headers and section.rows:
            columns = len(section.headers)
            table = Table(
                [
                    [para(h, "head") for h in section.headers],
                    *([para(c) for c in row] for row in section.rows),
                ],
                colWidths=[width / columns] * columns,
                repeatRows=1,
            )
            table.setStyle(grid)
            table.setStyle(TableStyle([("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee"))]))
            story.append(table)
        elif section.empty:
            story.append(para(section.empty))
        if section.note:
            story.append(para(section.note, "note"))
    story += [Spacer(1, 6 * mm), para("依据：" + "；".join(BASIS), "note")]

    footer = f"报告编号 {document['report_no']}  生成时间 {document['generated_at']}"

    def on_page(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 8)
        canvas.drawString(15 * mm, 10 * mm, footer)
        canvas.drawRightString(A4[0] - 15 * mm, 10 * mm, f"第 {doc.page} 页")
        canvas.restoreState()

    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=18 * mm,
        title=f"{TITLE} {document['report_no']}",
        author="gateway lookup",
        subject=document["report_no"],
    )
    doc.build(story, onFirstPage=on_page, onLaterPages=on_page)
    return out.getvalue()
