"""A stand-in 前置库 for the demo and the tests: a department's front-end staging database (SQLite).

忻州市市场监督管理局's inspection system copies its 行政检查行为 records into the table ``jgxw_check_action``
with the national 互联网+监管 exchange column names (docs/standards.md §3.4; inspection_action.xsd). The
system writes in batches, so several rows share one ``cd_time`` — the ties the connector's keyset must get
through. ``change_row`` and ``delete_row`` do what the department's system does on a correction and on a
withdrawal: rewrite the row in place with ``cd_operation`` u or d and a new ``cd_time``.

The database is generated, never committed: the demo and the tests make it under var/ (or tmp).

    .venv/bin/python samples/staging/make_staging.py                    # var/staging/xz_amr_staging.db
    .venv/bin/python samples/staging/make_staging.py --change 7 --delete 12

All codes are fictitious but carry valid check characters; the enterprises are those of samples/inbox/.
"""

from __future__ import annotations

import argparse
import sqlite3
from collections.abc import Iterator
from pathlib import Path

TABLE = "jgxw_check_action"
DEFAULT_DB = Path(__file__).resolve().parents[2] / "var" / "staging" / "xz_amr_staging.db"
AMR = ("忻州市市场监督管理局", "11140900MB1950016E")
AREA_CITY = "140900"
ITEM_CODES = ("14090000010001", "14090000010002", "14090000020001")  # 监管事项目录编码, 14 digits

COLUMNS = (
    ("cd_id", "INTEGER PRIMARY KEY"),
    ("plan_id", "VARCHAR(50)"),
    ("supervise_item_implement_code", "VARCHAR(14) NOT NULL"),
    ("supervise_item_check_icode", "VARCHAR(50) NOT NULL"),
    ("check_action_name", "VARCHAR(200) NOT NULL"),
    ("check_action_code", "VARCHAR(50) NOT NULL UNIQUE"),
    ("implement_institution", "VARCHAR(100) NOT NULL"),
    ("implement_institution_code", "VARCHAR(20) NOT NULL"),
    ("supervise_object", "VARCHAR(200) NOT NULL"),
    ("administrative_cp", "VARCHAR(200) NOT NULL"),
    ("administrative_cp_na", "VARCHAR(1) NOT NULL"),
    ("administrative_cp_ce_type", "VARCHAR(3) NOT NULL"),
    ("administrative_cp_ui_code", "VARCHAR(20) NOT NULL"),
    ("address_registered", "VARCHAR(400)"),
    ("area_number", "VARCHAR(6) NOT NULL"),
    ("check_form", "VARCHAR(2) NOT NULL"),
    ("check_type", "VARCHAR(50) NOT NULL"),
    ("check_mode", "VARCHAR(50)"),
    ("check_result", "VARCHAR(200) NOT NULL"),
    ("check_date", "DATE NOT NULL"),
    ("check_personnel", "VARCHAR(200) NOT NULL"),
    ("check_personnel_code", "VARCHAR(200)"),
    ("submitted_date", "DATE"),
    ("submitted_personnel", "VARCHAR(50)"),
    ("cd_operation", "VARCHAR(1) NOT NULL"),
    ("cd_batch", "VARCHAR(13) NOT NULL"),
    ("cd_source", "VARCHAR(20) NOT NULL"),
    ("cd_time", "DATETIME NOT NULL"),
)

# (name, 行政相对人性质 1 公民 / 2 法人 / 3 其他组织, certificate type, code, county division, address)
SUBJECTS = (
    ("忻州市晋北商贸有限公司", "2", "001", "91140902MA0K2B3C30", "140902", "忻府区和平街18号"),
    ("定襄县宏达机械制造有限公司", "2", "001", "91140921MA0K4D5E9E", "140921", "定襄县工业园区3号"),
    ("五台县李记饭店", "3", "001", "92140922MA0K6F7G4M", "140922", "五台县台城镇东街6号"),
    ("代县雁门关旅游服务有限公司", "2", "001", "91140923MA0KBN2P5E", "140923", "代县上馆镇鼓楼北街9号"),
    ("河曲县黄河人家餐饮有限公司", "2", "001", "91140930MA0KCQ3R14", "140930", "河曲县文笔镇滨河路21号"),
    ("五寨县通达物流有限公司", "2", "001", "91140928MA0KEU5W7E", "140928", "五寨县砚城镇物流园A区"),
    ("原平市恒泰建材有限公司", "2", "001", "91140981MA0K8H9J8Y", "140981", "原平市北城街道建材市场"),
    ("张建平", "1", "111", "140902198503121234", "140902", "忻府区长征街56号"),
)
OBJECTS = ("经营场所", "食品经营场所", "特种设备", "计量器具", "产品质量")
CHECK_TYPES = ("双随机抽查", "日常巡查", "专项检查", "投诉举报核查")
RESULTS = ("未发现问题", "发现问题已责令改正", "未发现问题", "发现问题待后续处理")
INSPECTORS = (("王建军", "14090020001"), ("李晓燕", "14090020002"), ("赵志刚", "14090020003"))
# The system writes in batches: 30 rows in four writes, 12 + 8 + 6 + 4 rows sharing one cd_time each.
WRITES = (
    ("2026-11-02 08:00:00", 12),
    ("2026-11-02 12:30:00", 8),
    ("2026-11-03 08:00:00", 6),
    ("2026-11-03 17:45:10", 4),
)
ROWS = sum(count for _, count in WRITES)


def _rows() -> Iterator[tuple[object, ...]]:
    number = 0
    for batch, (written, count) in enumerate(WRITES, start=1):
        for _ in range(count):
            number += 1
            name, nature, cert_type, code, area, address = SUBJECTS[number % len(SUBJECTS)]
            day = 10 + number % 18
            first, second = INSPECTORS[number % 3], INSPECTORS[(number + 1) % 3]
            double_random = number % 4 == 0
            yield (
                number,
                f"XZ-SJ-2026-{number // 4:03d}" if double_random else None,
                ITEM_CODES[number % len(ITEM_CODES)],
                f"{AMR[1]}1{number % 3 + 1:04d}",
                f"对{name}的{'双随机抽查' if double_random else '日常监督检查'}",
                f"忻市监检〔2026〕{number:04d}号",
                AMR[0],
                AMR[1],
                OBJECTS[number % len(OBJECTS)],
                name,
                nature,
                cert_type,
                code,
                address,
                area if number % 5 else AREA_CITY,
                "02" if number % 6 == 0 else "01",
                "双随机抽查" if double_random else CHECK_TYPES[number % len(CHECK_TYPES)],
                "书面检查" if number % 7 == 0 else "现场检查",
                RESULTS[number % len(RESULTS)],
                f"2026-10-{day:02d}",
                f"{first[0]}、{second[0]}",
                f"{first[1]}、{second[1]}",
                f"2026-10-{day + 3:02d}",
                "刘敏",
                "i",
                f"{written[:10].replace('-', '')}{batch:05d}",
                f"{AREA_CITY}SJ",
                written,
            )


def create(path: Path = DEFAULT_DB) -> Path:
    """A fresh staging database with the department's 30 inspection records."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    with sqlite3.connect(path) as db:
        db.execute(f"CREATE TABLE {TABLE} ({', '.join(f'{name} {kind}' for name, kind in COLUMNS)})")
        db.execute(f"CREATE INDEX ix_{TABLE}_cd_time ON {TABLE} (cd_time, cd_id)")
        marks = ", ".join("?" for _ in COLUMNS)
        db.executemany(f"INSERT INTO {TABLE} VALUES ({marks})", _rows())
    return path


def change_row(
    path: Path, cd_id: int, *, check_result: str = "发现问题已责令改正", at: str = "2026-11-05 09:00:00"
) -> None:
    """A correction: the department's system rewrites the row and stamps it ``u`` with a new time."""
    _rewrite(path, cd_id, "check_result = ?, cd_operation = 'u', cd_time = ?", (check_result, at))


def delete_row(path: Path, cd_id: int, *, at: str = "2026-11-05 09:00:00") -> None:
    """A withdrawal: the row stays, marked ``d`` with a new time, so the change reaches the gateway."""
    _rewrite(path, cd_id, "cd_operation = 'd', cd_time = ?", (at,))


def _rewrite(path: Path, cd_id: int, assignments: str, values: tuple[object, ...]) -> None:
    with sqlite3.connect(path) as db:
        changed = db.execute(f"UPDATE {TABLE} SET {assignments} WHERE cd_id = ?", (*values, cd_id)).rowcount
    if changed != 1:
        raise LookupError(f"{path}: no row with cd_id {cd_id}")


def main() -> None:
    parser = argparse.ArgumentParser(description="忻州市市场监督管理局 前置库（演示用 SQLite）")
    parser.add_argument("--db", type=Path, default=DEFAULT_DB, help="database file (default: %(default)s)")
    parser.add_argument("--change", type=int, action="append", default=[], help="cd_id to correct (u)")
    parser.add_argument("--delete", type=int, action="append", default=[], help="cd_id to withdraw (d)")
    args = parser.parse_args()
    if not args.change and not args.delete:
        print(f"{create(args.db)}: {ROWS} rows in {TABLE}")
    for cd_id in args.change:
        change_row(args.db, cd_id)
        print(f"{args.db}: row {cd_id} corrected (u)")
    for cd_id in args.delete:
        delete_row(args.db, cd_id)
        print(f"{args.db}: row {cd_id} withdrawn (d)")


if __name__ == "__main__":
    main()
