"""The printable reports: HTML and PDF carry the report number (read back from the PDF with pypdf), the
sections, and the risk class only in an internal caller's report."""

from __future__ import annotations

import io

from fastapi.testclient import TestClient
from pypdf import PdfReader

from tests.gateway.credit.lookup.conftest import UNKNOWN_USCC, USCC, World, bearer


def _pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_the_html_report_carries_its_number_and_sections(client: TestClient, world: World) -> None:
    answer = client.get(
        f"/v1/report/{USCC}.html", params={"matter": "XK-2026-0200"}, headers=bearer(world, "xz-tax")
    )
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    number = answer.headers["X-Report-No"]
    html = answer.text
    assert html.count(number) >= 2  # at the top and in the footer
    for section in (
        "主体基本信息",
        "严重失信主体名单",
        "失信被执行人",
        "经营异常名录",
        "行政处罚（公示期内）",
    ):
        assert section in html
    assert "忻市监罚〔2026〕10号" in html and "（2026）晋0902执123号" in html and "王建国" in html
    assert "未计算" in html  # a penalty whose publicity end is not known yet
    assert "XK-2026-0200" in html and "忻州市税务局" in html


def test_the_pdf_report_carries_its_number_in_text(client: TestClient, world: World) -> None:
    answer = client.get(
        f"/v1/report/{USCC}.pdf", params={"matter": "XK-2026-0201"}, headers=bearer(world, "xz-amr")
    )
    assert answer.status_code == 200 and answer.content.startswith(b"%PDF")
    number = answer.headers["X-Report-No"]
    assert answer.headers["Content-Disposition"] == f'inline; filename="{number}.pdf"'
    text = _pdf_text(answer.content)
    assert number in text
    assert "市场主体信用状况查询报告" in text and "忻州市恒通商贸有限公司" in text and USCC in text
    assert "信用风险分类（内部参考）" in text and "不得公开" in text  # an internal caller's report


def test_a_report_that_found_nothing_is_still_a_numbered_report(client: TestClient, world: World) -> None:
    answer = client.get(
        f"/v1/report/{UNKNOWN_USCC}.pdf", params={"matter": "XK-2026-0202"}, headers=bearer(world, "xz-tax")
    )
    assert answer.status_code == 404 and answer.content.startswith(b"%PDF")
    text = _pdf_text(answer.content)
    assert answer.headers["X-Report-No"] in text and "未查到该市场主体" in text
