"""Regenerate the demo exports in samples/inbox/ (committed, so the demo needs no generator run).

Three departments, as the city really sends data:
  xz_amr        市场监督管理局: the national 行政处罚 template, CSV in GBK, headers with full-width brackets
                and stray spaces, a few bad rows; plus a scanned PDF mistakenly named .csv;
  xz_transport  交通运输局: the national 行政许可 template as XLSX with real Excel dates;
  xz_ecology    生态环境局: its own system's export (own headers, amounts in 元, 2026年10月12日 dates),
                UTF-8 with BOM, read through mappings/xz_ecology_penalty.yaml.
All codes are fictitious but carry valid check characters (no public Xinzhou USCC exists to borrow).

    .venv/bin/python -m samples.make_samples
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

from openpyxl import Workbook

from samples import national_templates
from samples.national_templates import filled_by_hand, only

HERE = Path(__file__).resolve().parent / "inbox"
AMR = ("忻州市市场监督管理局", "11140900MB1950016E")
TRANSPORT = ("忻州市交通运输局", "11140900MB19500249")

# The 行政处罚 template as this department retyped three of its headers.
PENALTY_HEADERS = filled_by_hand(
    national_templates.PENALTY_HEADERS,
    {
        "行政相对人名称": " 行政相对人名称 ",
        "行政相对人代码_1(统一社会信用代码)": "行政相对人代码_1（统一社会信用代码）",
        "没收违法所得、没收非法财物的金额(万元)": "没收违法所得、没收非法财物的金额（万元）",
    },
)


def penalty(
    name: str,
    kind: str,
    uscc: str,
    wsh: str,
    act: str,
    facts: str,
    category: str,
    content: str,
    fine: str,
    decided: str,
    *,
    reg_no: str = "",
    legal: str = "",
    id_type: str = "",
    id_no: str = "",
    confiscated: str = "",
    note: str = "",
) -> list[str]:
    basis = "《中华人民共和国食品安全法》第一百二十二条第一款"
    return [
        name,
        kind,
        uscc,
        reg_no,
        "",
        "",
        "",
        "",
        legal,
        "",
        "",
        id_type,
        id_no,
        wsh,
        act,
        facts,
        basis,
        category,
        content,
        fine,
        confiscated,
        "",
        decided,
        "2027-12-31",
        "2027-05-31",
        AMR[0],
        AMR[1],
        AMR[0],
        AMR[1],
        note,
    ]


def amr_penalties() -> list[list[str]]:
    w = "忻市监罚〔2026〕"
    return [
        penalty(
            "忻州市晋北商贸有限公司",
            "法人及非法人组织",
            "91140902MA0K2B3C30",
            f"{w}101号",
            "销售过期食品",
            "2026年9月检查发现该公司销售超过保质期的预包装食品12件。",
            "罚款",
            "罚款人民币伍仟元整",
            "0.5",
            "2026-10-08",
            legal="王建国",
        ),
        penalty(
            "定襄县宏达机械制造有限公司",
            "法人及非法人组织",
            "91140921MA0K4D5E9E",
            f"{w}102号",
            "未按规定进行特种设备定期检验",
            "叉车2台超期未检验仍投入使用。",
            "罚款",
            "罚款人民币叁万元整",
            "3",
            "2026/10/9",
            reg_no="140900200001233",
            legal="李宏达",
        ),
        penalty(
            "五台县李记饭店",
            "个体工商户",
            "92140922MA0K6F7G4M",
            f"{w}103号",
            "未公示食品经营许可证",
            "经营场所未在显著位置公示食品经营许可证。",
            "警告",
            "警告",
            "",
            "2026年10月10日",
            legal="李二宝",
        ),
        penalty(
            "张某某",
            "自然人",
            "",
            f"{w}104号",
            "无证摊贩经营",
            "在忻府区和平街无证经营熟食。",
            "罚款",
            "罚款人民币贰佰元整",
            "0.02",
            "20261011",
            id_type="身份证",
            id_no="11010519491231002X",
        ),
        penalty(
            "原平市恒泰建材有限公司",
            "法人及非法人组织",
            "91140981MA0K8H9J8Z",
            f"{w}105号",
            "销售不合格建材",
            "抽检发现其销售的水泥强度不合格。",
            "罚款",
            "罚款人民币壹万元整",
            "1",
            "2026-10-12",
            legal="赵恒泰",
            note="统一社会信用代码最后一位录入有误",
        ),
        penalty(
            "忻州市鑫源超市有限公司",
            "法人及非法人组织",
            "911409007012345634",
            f"{w}106号",
            "价格违法行为",
            "商品明码标价与结算价格不一致。",
            "罚款",
            "罚款人民币捌仟元整",
            "",
            "2026-10-13",
            legal="孙鑫",
            note="漏填罚款金额",
        ),
        penalty(
            "原平市恒泰建材有限公司",
            "法人及非法人组织",
            "９１１４０９８１ma0k8h9j8y",
            f"{w}107号",
            "销售不合格建材",
            "复查发现仍在销售不合格水泥。",
            "罚款;没收违法所得",
            "罚款并没收违法所得",
            "2",
            "2026-10-20",
            legal="赵恒泰",
            confiscated="0.35",
        ),
        penalty(
            "静乐县绿野农民专业合作社",
            "法人及非法人组织",
            "93140926MA0KAL1M3F",
            f"{w}108号",
            "农产品标签不符合规定",
            "销售的小米未标注生产日期。",
            "警告;罚款",
            "警告并罚款人民币贰仟元整",
            "0.2",
            "2026.10.21",
            legal="周志刚",
        ),
        penalty(
            "代县雁门关旅游服务有限公司",
            "法人及非法人组织",
            "91140923MA0KBN2P5E",
            f"{w}109号",
            "虚假宣传",
            "在宣传册中使用未经证实的“国家级”称号。",
            "罚款",
            "罚款人民币伍万元整",
            "5",
            "2026-10-22",
            legal="钱雁",
        ),
        penalty(
            "河曲县黄河人家餐饮有限公司",
            "法人及非法人组织",
            "91140930MA0KCQ3R14",
            f"{w}110号",
            "餐具未消毒",
            "后厨餐具未按规定清洗消毒。",
            "罚款",
            "罚款人民币叁仟元整",
            "0.3",
            "2026-10-23",
            legal="吴河",
        ),
        penalty(
            "忻州市晋北商贸有限公司",
            "法人及非法人组织",
            "91140902MA0K2B3C30",
            f"{w}111号",
            "未建立进货查验记录",
            "未按规定建立食品进货查验记录。",
            "罚款",
            "罚款人民币贰仟元整",
            "0.2",
            "2026-10-24",
            legal="王建国",
        ),
        penalty(
            "定襄县宏达机械制造有限公司",
            "法人及非法人组织",
            "91140921MA0K4D5E9E",
            f"{w}112号",
            "特种设备作业人员无证上岗",
            "叉车司机未取得特种设备作业人员证。",
            "罚款",
            "罚款人民币壹万元整",
            "1",
            "2026-10-25",
            legal="李宏达",
        ),
    ]


def write_amr() -> None:
    folder = HERE / "xz_amr"
    folder.mkdir(parents=True, exist_ok=True)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(PENALTY_HEADERS)
    writer.writerows(amr_penalties())
    (folder / "2026年10月行政处罚信息.csv").write_bytes(out.getvalue().encode("gbk"))
    # A scanned decision someone saved with the wrong extension: it must get a receipt, not crash anything.
    (folder / "处罚决定书扫描件.csv").write_bytes(
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
        + bytes(range(256))
    )


# The 行政许可 template as the transport bureau exports it: fewer identifier columns, spaced brackets.
LICENCE_HEADERS = filled_by_hand(
    only(
        national_templates.LICENCE_HEADERS,
        without=[
            "行政相对人代码_4(税务登记号)",
            "行政相对人代码_5(事业单位证书号)",
            "行政相对人代码_6(社会组织登记证号)",
            "法定代表人证件类型",
            "法定代表人证件号码",
        ],
    ),
    {
        "行政相对人代码_1(统一社会信用代码)": "行政相对人代码_1 (统一社会信用代码)",
        "行政相对人代码_2(工商注册号)": "行政相对人代码_2 (工商注册号)",
        "行政相对人代码_3(组织机构代码)": "行政相对人代码_3 (组织机构代码)",
    },
)


def write_transport() -> None:
    folder = HERE / "xz_transport"
    folder.mkdir(parents=True, exist_ok=True)
    book = Workbook()
    sheet = book.active
    sheet.title = "行政许可"
    sheet.append(LICENCE_HEADERS)
    d = dt.date
    rows = [
        (
            "忻州市晋北商贸有限公司",
            "法人及非法人组织",
            "91140902MA0K2B3C30",
            "",
            "",
            "王建国",
            "",
            "",
            "道路货物运输经营许可决定书",
            "忻交运许〔2026〕201号",
            "普通",
            "道路运输经营许可证",
            "晋交运管许可忻字140902001号",
            "准予从事道路普通货物运输",
            d(2026, 10, 15),
            d(2026, 10, 15),
            d(2030, 10, 14),
            "有效",
            "",
        ),
        (
            "定襄县宏达机械制造有限公司",
            "法人及非法人组织",
            "",
            "",
            "MA0K4D5E9",
            "李宏达",
            "",
            "",
            "大件运输许可决定书",
            "忻交运许〔2026〕202号",
            "核准",
            "超限运输车辆通行证",
            "晋超限140921-0015",
            "准予超限运输车辆通行",
            d(2026, 10, 16),
            d(2026, 10, 16),
            d(2026, 12, 31),
            "有效",
            "历史主体，仅有组织机构代码",
        ),
        (
            "刘某某",
            "自然人",
            "",
            "",
            "",
            "",
            "身份证",
            "11010519491231002X",
            "道路运输从业资格证核发决定书",
            "忻交运许〔2026〕203号",
            "登记",
            "道路运输从业人员从业资格证",
            "1409001234567890",
            "准予核发货运驾驶员从业资格",
            d(2026, 10, 17),
            d(2026, 10, 17),
            d(2032, 10, 16),
            "有效",
            "",
        ),
        (
            "保德县顺通客运有限公司",
            "法人及非法人组织",
            "91140931MA0KDS4T",
            "",
            "",
            "郑顺",
            "",
            "",
            "道路旅客运输经营许可决定书",
            "忻交运许〔2026〕204号",
            "普通",
            "道路运输经营许可证",
            "晋交运管许可忻字140931002号",
            "准予从事县内班车客运",
            d(2026, 10, 18),
            d(2026, 10, 18),
            d(2030, 10, 17),
            "有效",
            "统一社会信用代码位数不足",
        ),
        (
            "原平市恒泰建材有限公司",
            "法人及非法人组织",
            "91140981MA0K8H9J8Y",
            "",
            "",
            "赵恒泰",
            "",
            "",
            "道路货物运输经营许可决定书",
            "忻交运许〔2026〕205号",
            "普通",
            "道路运输经营许可证",
            "晋交运管许可忻字140981003号",
            "准予从事道路普通货物运输",
            d(2026, 10, 19),
            d(2026, 10, 19),
            "长期",
            "有效",
            "",
        ),
        (
            "五寨县通达物流有限公司",
            "法人及非法人组织",
            "91140928MA0KEU5W7E",
            "",
            "",
            "冯通达",
            "",
            "",
            "道路货物运输经营许可决定书",
            "忻交运许〔2026〕206号",
            "普通",
            "道路运输经营许可证",
            "晋交运管许可忻字140928004号",
            "准予从事道路普通货物运输",
            d(2026, 10, 20),
            d(2026, 10, 20),
            d(2030, 10, 19),
            "有效",
            "",
        ),
    ]
    for row in rows:
        (
            name,
            kind,
            uscc,
            reg,
            org,
            legal,
            id_type,
            id_no,
            title,
            wsh,
            cat,
            cert,
            no,
            content,
            decided,
            start,
            end,
            state,
            note,
        ) = row
        sheet.append(
            [
                name,
                kind,
                uscc,
                reg,
                org,
                legal,
                id_type,
                id_no,
                title,
                wsh,
                cat,
                cert,
                no,
                content,
                decided,
                start,
                end,
                TRANSPORT[0],
                TRANSPORT[1],
                state,
                TRANSPORT[0],
                TRANSPORT[1],
                note,
            ]
        )
    for row in sheet.iter_rows(min_row=2, min_col=15, max_col=17):
        for cell in row:
            if isinstance(cell.value, dt.date):
                cell.number_format = "yyyy-mm-dd"
    # openpyxl stamps the current time into docProps; a fixed time keeps the sample's bytes reproducible.
    book.properties.created = book.properties.modified = dt.datetime(2026, 11, 1, 9, 0, 0)
    book.save(folder / "行政许可信息-2026年10月.xlsx")


ECOLOGY_HEADERS = [
    "序号",
    "企业名称",
    "统一信用代码",
    "注册号",
    "法人代表",
    "处罚文号",
    "违法类型",
    "违法事实",
    "处罚依据",
    "处罚种类",
    "处罚内容",
    "罚款金额（元）",
    "处罚日期",
    "处罚期限",
    "经办科室",
]


def write_ecology() -> None:
    folder = HERE / "xz_ecology"
    folder.mkdir(parents=True, exist_ok=True)
    basis = "《中华人民共和国大气污染防治法》第一百零八条"
    rows = [
        [
            "1",
            "定襄县宏达机械制造有限公司",
            "",
            "140900200001233",
            "李宏达",
            "忻环罚〔2026〕31号",
            "大气污染",
            "喷漆工序未密闭，挥发性有机物无组织排放。",
            basis,
            "罚款",
            "罚款人民币伍万元整",
            "50,000.00",
            "2026年10月12日",
            "2027年10月11日",
            "执法一科",
        ],
        [
            "2",
            "河曲县黄河人家餐饮有限公司",
            "91140930MA0KCQ3R14",
            "",
            "吴河",
            "忻环罚〔2026〕32号",
            "大气污染",
            "油烟净化设施未正常运行。",
            basis,
            "罚款",
            "罚款人民币贰万元整",
            "20000",
            "2026年10月13日",
            "2027年10月12日",
            "执法二科",
        ],
        [
            "3",
            "偏关县老牛湾石料厂",
            "",
            "140932200009876",
            "牛大力",
            "忻环罚〔2026〕33号",
            "扬尘污染",
            "露天堆放石料未采取覆盖措施。",
            basis,
            "罚款",
            "罚款人民币壹万元整",
            "10000",
            "2026年10月14日",
            "2027年10月13日",
            "执法二科",
        ],
        [
            "4",
            "代县雁门关旅游服务有限公司",
            "91140923MA0KBN2P5E",
            "",
            "钱雁",
            "忻环罚〔2026〕34号",
            "噪声污染",
            "夜间施工噪声超标。",
            "《中华人民共和国噪声污染防治法》第七十七条",
            "罚款",
            "罚款人民币捌仟元整",
            "8000",
            "2026年10月15日",
            "2027年10月14日",
            "执法一科",
        ],
    ]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(ECOLOGY_HEADERS)
    writer.writerows(rows)
    (folder / "环境行政处罚台账.csv").write_bytes(("\ufeff" + out.getvalue()).encode("utf-8"))


if __name__ == "__main__":
    write_amr()
    write_transport()
    write_ecology()
    print(f"samples written under {HERE}")
