"""Read, map, validate and ingest a national-template penalty export; print rows/s per stage.

    .venv/bin/python bench/bench_validate.py --rows 200000 [--json]

The file is generated (GB18030, realistic Chinese text, ~2 % bad rows). The stages are timed separately on
the same file: pyarrow's raw CSV parse (the limit), our reader, the mapping, the validation, and a full
ingest (read → land → map → validate → attach → store) into a fresh SQLite database.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.csv as pacsv

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gateway.ids.uscc import calc_check as uscc_check  # noqa: E402
from gateway.ingest import ingest_file  # noqa: E402
from gateway.intake import open_source  # noqa: E402
from gateway.mapping.engine import apply_plan, plan_for  # noqa: E402
from gateway.mapping.spec import load_mappings  # noqa: E402
from gateway.schema import load_record_types  # noqa: E402
from gateway.settings import Settings  # noqa: E402
from gateway.store.db import migrate  # noqa: E402
from gateway.validation import validate  # noqa: E402
from samples.national_templates import PENALTY_HEADERS, SUBJECT_HEADERS, only  # noqa: E402

ALPHA = "0123456789ABCDEFGHJKLMNPQRTUWXY"
# The 行政处罚 template without the optional identifier and confiscation columns.
HEADERS = only(
    PENALTY_HEADERS,
    without=[
        *SUBJECT_HEADERS[3:8],
        *SUBJECT_HEADERS[9:],
        "没收违法所得、没收非法财物的金额(万元)",
        "暂扣或吊销证照名称及编号",
        "公示截止期",
        "备注",
    ],
)
AUTHORITY = ("忻州市市场监督管理局", "11140900MB1950016E")


def uscc(rng: random.Random) -> str:
    body = "91" + "1409" + f"{rng.randrange(100):02d}" + "".join(rng.choice(ALPHA) for _ in range(9))
    return body + uscc_check(body)


def generate(path: Path, rows: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    towns = ["忻府区", "原平市", "定襄县", "五台县", "代县", "繁峙县", "宁武县", "静乐县"]
    with path.open("w", encoding="gb18030", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADERS)
        for n in range(rows):
            code = uscc(rng)
            if rng.random() < 0.02:
                code = code[:-1] + ("0" if code[-1] != "0" else "1")  # a bad check character
            writer.writerow(
                [
                    f"{rng.choice(towns)}{rng.choice(['晋北', '宏达', '恒泰', '鑫源'])}商贸有限公司{n % 997}",
                    "法人及非法人组织",
                    code,
                    "王建国",
                    f"忻市监罚〔2026〕{n}号",
                    "销售过期食品",
                    "经查，当事人于2026年9月在其经营场所销售超过保质期的预包装食品，违反了食品安全法相关规定。",
                    "《中华人民共和国食品安全法》第一百二十四条第一款",
                    "罚款",
                    "罚款人民币伍仟元整",
                    f"{rng.randrange(1, 500) / 100}",
                    f"2026/{rng.randrange(1, 13)}/{rng.randrange(1, 29)}",
                    "2027-12-31",
                    *AUTHORITY,
                    *AUTHORITY,
                ]
            )


def timed(fn):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-validate-") as scratch:
        work = Path(scratch)
        path = work / "penalties.csv"
        generate(path, args.rows)
        size = path.stat().st_size
        record_types = load_record_types(ROOT / "schemas")
        specs = load_mappings(ROOT / "mappings")

        _, t_limit = timed(lambda: pacsv.read_csv(path, read_options=pacsv.ReadOptions(encoding="gb18030")))

        def read_all():  # type: ignore[no-untyped-def]
            with open_source(path) as source:
                return source.headers, list(source.batches())

        (headers, batches), t_read = timed(read_all)
        plan = plan_for(headers, specs, record_types)
        mapped, t_map = timed(lambda: [apply_plan(plan, b) for b in batches])
        checked, t_validate = timed(
            lambda: [validate(plan.record_type, m.table, plan.header_of, m.errors) for m in mapped]
        )
        bad = sum(c.bad_rows for c in checked)

        settings = Settings.from_env({"GATEWAY_HOME": str(work / "var")})
        settings.ensure_dirs()
        migrate(settings.database_url)
        result, t_ingest = timed(lambda: ingest_file(settings, path, "bench"))

    figures = {
        "rows": args.rows,
        "file_mb": round(size / 1e6, 1),
        "bad_rows": bad,
        "limit_rows_per_s": round(args.rows / t_limit),
        "read_rows_per_s": round(args.rows / t_read),
        "map_rows_per_s": round(args.rows / t_map),
        "validate_rows_per_s": round(args.rows / t_validate),
        "ingest_sqlite_rows_per_s": round(args.rows / t_ingest),
        "ingest_status": result.receipt.status,
    }
    if args.json:
        print(json.dumps(figures))
        return
    for key, value in figures.items():
        print(f"{key:>26}: {value:,}" if isinstance(value, int) else f"{key:>26}: {value}")


if __name__ == "__main__":
    main()
