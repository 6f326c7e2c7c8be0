"""A courts' judicial export (schemas/sources/judicial_export.xsd) of any size: 裁判文书 then 失信被执行人.

samples/feeds/make_judicial.py's ``write_large`` repeats the sample records under new ids, so their natural
keys (court + case number) repeat and the gateway rightly refuses all but the first; a throughput benchmark
needs distinct records. This writes the samples' record shapes (rendered by that module, so the format is
the courts' own) with a new case number, subject and amount for every record, subjects drawn from the
entity pool (bench/pools.py) so that attachment finds or creates real entities.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import pools

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from samples.feeds import make_judicial as courts  # noqa: E402

COURTS = (courts.INTERMEDIATE, courts.XINFU, courts.YUANPING, courts.DINGXIANG)
COURT_CODES = ("09", "0902", "0981", "0921")
# Placeholders, replaced per record; none of them can occur in the rendered samples.
CASE, NAME, USCC, AMOUNT, DATE, COURT, COURT_CODE, REP = (f"\x01{i}\x01" for i in range(8))


def _templates() -> tuple[str, str]:
    """One judgment and one debtor as text with placeholders, in the courts' element order and layout."""
    judgment = courts.judgment(
        "ID",
        (COURT, COURT_CODE),
        CASE,
        "民事",
        "一审",
        "判决书",
        "买卖合同纠纷",
        f"忻州市鑫源超市有限公司与{NAME}买卖合同纠纷",
        DATE,
        f"原告：忻州市鑫源超市有限公司；被告：{NAME}",
        (NAME, "法人及非法人组织", "被告", USCC, None),
        f"被告{NAME}于本判决生效之日起十日内支付原告货款人民币{AMOUNT}元及逾期付款利息。",
        amount=f"{AMOUNT}.00",
        published=DATE,
    )
    debtor = courts.debtor(
        "ID",
        (COURT, COURT_CODE),
        CASE,
        NAME,
        "法人及非法人组织",
        USCC,
        (f"（2025）晋0902民初{AMOUNT}号", courts.XINFU[0]),
        DATE,
        f"支付货款人民币{AMOUNT}元及利息",
        courts.REFUSE,
        DATE,
        legal=REP,
        unperformed=f"货款人民币{AMOUNT}元及利息",
    )
    texts = []
    for tag, fields in (("Judgment", judgment), ("Debtor", debtor)):
        out = io.StringIO()
        courts._element(out, tag, fields, "    ")
        texts.append(out.getvalue())
    return texts[0], texts[1]


def write(path: Path, rows: int, seed: int = 20261120) -> int:
    """``rows`` records (the first half judgments, the rest debtors); returns the file size in bytes."""
    rng = np.random.default_rng(seed)
    ent = pools.entities()
    judgment, debtor = _templates()
    who = pools.skewed(rng, rows, len(ent.names))
    names = ent.names.take(who).to_pylist()
    codes = ent.usccs.take(who).to_pylist()
    reps = ent.representatives.take(who).to_pylist()
    court = rng.integers(0, len(COURTS), rows)
    amounts = rng.integers(1_000, 900_000, rows)
    days = pools.dates(iso_only=True).take(rng.integers(0, 3_650, rows)).to_pylist()
    half = rows // 2
    with path.open("w", encoding="utf-8") as out:
        head = io.StringIO()
        courts._start(head, "BENCH-0001", "2026-11-20T08:00:00+08:00")
        out.write(head.getvalue())
        for section, template, first, last, kind in (
            ("Judgments", judgment, 0, half, "民初"),
            ("Debtors", debtor, half, rows, "执"),
        ):
            out.write(f"  <{section}>\n")
            for i in range(first, last):
                name, code = escape(names[i]), COURTS[court[i]][1]
                text = (
                    template.replace(CASE, f"（{2016 + i % 11}）晋{COURT_CODES[court[i]]}{kind}{i}号")
                    .replace(NAME, name)
                    .replace(USCC, codes[i])
                    .replace(AMOUNT, str(amounts[i]))
                    .replace(DATE, days[i])
                    .replace(COURT_CODE, code)
                    .replace(COURT, COURTS[court[i]][0])
                    .replace(REP, escape(reps[i]))
                    .replace('id="ID"', f'id="{section[0]}-{i:010d}"')
                )
                out.write(text)
            out.write(f"  </{section}>\n")
        out.write("</JudicialExport>\n")
    return path.stat().st_size
