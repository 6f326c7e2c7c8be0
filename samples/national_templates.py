"""The column headers of the national 双公示 templates (行政处罚 and 行政许可), spelled as the templates
spell them: the one list the sample files, the benchmark generators and the tests start from.

The gateway itself does not read these lists: it recognises a template by the header spellings its mappings
accept (mappings/national_admin_penalty.yaml, mappings/national_admin_license.yaml), which allow the
variations departments type (full-width brackets, spaces, a unit written 元). Samples that need such
variations derive them from these lists (see ``filled_by_hand``) rather than keeping a copy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

# The 行政相对人 columns both templates open with, in order.
SUBJECT_HEADERS: tuple[str, ...] = (
    "行政相对人名称",
    "行政相对人类别",
    "行政相对人代码_1(统一社会信用代码)",
    "行政相对人代码_2(工商注册号)",
    "行政相对人代码_3(组织机构代码)",
    "行政相对人代码_4(税务登记号)",
    "行政相对人代码_5(事业单位证书号)",
    "行政相对人代码_6(社会组织登记证号)",
    "法定代表人",
    "法定代表人证件类型",
    "法定代表人证件号码",
    "证件类型",
    "证件号码",
)
PENALTY_HEADERS: tuple[str, ...] = (
    *SUBJECT_HEADERS,
    "行政处罚决定书文号",
    "违法行为类型",
    "违法事实",
    "处罚依据",
    "处罚类别",
    "处罚内容",
    "罚款金额(万元)",
    "没收违法所得、没收非法财物的金额(万元)",
    "暂扣或吊销证照名称及编号",
    "处罚决定日期",
    "处罚有效期",
    "公示截止期",
    "处罚机关",
    "处罚机关统一社会信用代码",
    "数据来源单位",
    "数据来源单位统一社会信用代码",
    "备注",
)
LICENCE_HEADERS: tuple[str, ...] = (
    *SUBJECT_HEADERS,
    "行政许可决定文书名称",
    "行政许可决定文书号",
    "许可类别",
    "许可证书名称",
    "许可编号",
    "许可内容",
    "许可决定日期",
    "有效期自",
    "有效期至",
    "许可机关",
    "许可机关统一社会信用代码",
    "当前状态",
    "数据来源单位",
    "数据来源单位统一社会信用代码",
    "备注",
)


def only(headers: Iterable[str], *, without: Iterable[str]) -> list[str]:
    """A template's headers in order, less the columns a department leaves out of its export.

    >>> only(SUBJECT_HEADERS, without=SUBJECT_HEADERS[2:])
    ['行政相对人名称', '行政相对人类别']
    """
    dropped = set(without)
    unknown = dropped.difference(headers)
    if unknown:
        raise ValueError(f"not headers of the template: {sorted(unknown)}")
    return [header for header in headers if header not in dropped]


def filled_by_hand(headers: Iterable[str], spelled: Mapping[str, str]) -> list[str]:
    """The headers as a person retyped some of them (``spelled``: template spelling → how it was typed).

    >>> filled_by_hand(SUBJECT_HEADERS[:2], {"行政相对人名称": " 行政相对人名称 "})
    [' 行政相对人名称 ', '行政相对人类别']
    """
    headers = list(headers)
    unknown = set(spelled).difference(headers)
    if unknown:
        raise ValueError(f"not headers of the template: {sorted(unknown)}")
    return [spelled.get(header, header) for header in headers]
