"""A gateway with real data for the pages: the sample exports dropped and run through the drop folder, a
delivery to the reference hub, a dead letter, and two files made to test the pages' escaping and paging.

Everything goes through the gateway's own paths (connectors.department_files, gateway.outbound,
gateway.delivery.service), never through inserts of our own, so the pages show what a real run leaves.
"""

from __future__ import annotations

import csv
import io
import shutil
import socket
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from connectors.department_files import process_file, scan_inboxes
from gateway.delivery.policy import DeliveryPolicy
from gateway.delivery.service import DeliveryFailed, deliver_all
from gateway.ids.uscc import calc_check
from gateway.outbound import settle_and_batch
from gateway.settings import Settings
from gateway.store.db import engine_for, migrate
from gateway.transfer import generate_keys
from samples.demo import HUB_ID, local_hub
from samples.national_templates import PENALTY_HEADERS
from tests.paths import REPO_ROOT

SAMPLES = REPO_ROOT / "samples" / "inbox"
HOSTILE_DEPARTMENT = "xz_amr"
SCRIPT = '<script>alert("gw")</script>'
# A file name a department could really use: no slash, so it survives the file system as it is.
HOSTILE_NAME = "<img src=x onerror=alert(1)>处罚台账.csv"
MANY_ERRORS_NAME = "日期写错的处罚台账.csv"
MANY_ERRORS_ROWS = 120
CANDIDATE_NAME = "偏关县老牛湾石料厂（普通合伙）"
CANDIDATE_USCC = "91140932MA0KP6GF1" + calc_check("91140932MA0KP6GF1")


def settings_for(home: Path) -> Settings:
    return Settings.from_env({"GATEWAY_HOME": str(home), "GATEWAY_SETTLE_SECONDS": "0"})


def _penalty_rows(count: int, *, prefix: str) -> list[dict[str, str]]:
    """Valid national-template penalty rows about one company, with distinct decision numbers."""
    base = {
        "行政相对人名称": "忻州市页面测试商贸有限公司",
        "行政相对人类别": "法人及非法人组织",
        "行政相对人代码_1(统一社会信用代码)": "91140902MA0K2B3C30",
        "法定代表人": "王某",
        "违法行为类型": "销售过期食品",
        "违法事实": "销售超过保质期的预包装食品",
        "处罚依据": "《中华人民共和国食品安全法》第一百二十四条第一款",
        "处罚类别": "罚款",
        "处罚内容": "罚款人民币五千元整",
        "罚款金额(万元)": "0.5",
        "处罚决定日期": "2026-10-08",
        "处罚有效期": "2027-12-31",
        "公示截止期": "2027-05-31",
        "处罚机关": "忻州市市场监督管理局",
        "处罚机关统一社会信用代码": "11140900MB1950016E",
        "数据来源单位": "忻州市市场监督管理局",
        "数据来源单位统一社会信用代码": "11140900MB1950016E",
    }
    return [{**base, "行政处罚决定书文号": f"{prefix}〔2026〕{n}号"} for n in range(1, count + 1)]


def _csv(rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(PENALTY_HEADERS), restval="")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig")


def hostile_file() -> bytes:
    """Nine good rows and one whose amount is a script: a partly accepted file whose receipt echoes it.

    Its first row is about a partnership whose name contains that of the quarry the ecology sample cannot
    attach (偏关县老牛湾石料厂): registered here with a USCC, it is that record's candidate in the queue."""
    rows = _penalty_rows(10, prefix="忻页测罚")
    rows[0]["行政相对人名称"] = CANDIDATE_NAME
    rows[0]["行政相对人代码_1(统一社会信用代码)"] = CANDIDATE_USCC
    rows[9]["罚款金额(万元)"] = SCRIPT
    return _csv(rows)


def many_errors_file() -> bytes:
    """A file whose every row has an impossible date: rejected whole, with MANY_ERRORS_ROWS rejected rows."""
    rows = _penalty_rows(MANY_ERRORS_ROWS, prefix="忻页错罚")
    for row in rows:
        row["处罚决定日期"] = "2026-13-45"
    return _csv(rows)


def drop_everything(settings: Settings) -> list[dict[str, object]]:
    """Every sample export and the two test files into their inboxes, then the drop folder over them."""
    for folder in sorted(SAMPLES.iterdir()):
        inbox = settings.dropzone / folder.name / "inbox"
        inbox.mkdir(parents=True, exist_ok=True)
        for sample in folder.iterdir():
            shutil.copyfile(sample, inbox / sample.name)
    inbox = settings.dropzone / HOSTILE_DEPARTMENT / "inbox"
    (inbox / HOSTILE_NAME).write_bytes(hostile_file())
    (inbox / MANY_ERRORS_NAME).write_bytes(many_errors_file())
    return [process_file(settings, item["department"], item["path"]) for item in scan_inboxes(settings)]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def dead_letter(settings: Settings) -> None:
    """A correction batched and pushed at a hub that is not there, with one attempt allowed: a dead batch."""
    rows = _penalty_rows(1, prefix="忻页测罚")
    # The first penalty of the hostile file, its amount corrected.
    rows[0].update({"行政相对人名称": CANDIDATE_NAME, "行政相对人代码_1(统一社会信用代码)": CANDIDATE_USCC})
    rows[0]["罚款金额(万元)"] = "0.8"
    inbox = settings.dropzone / HOSTILE_DEPARTMENT / "inbox"
    (inbox / "更正-罚款金额.csv").write_bytes(_csv(rows))
    for item in scan_inboxes(settings):
        process_file(settings, item["department"], item["path"])
    built = settle_and_batch(settings)
    nowhere = settings.with_overrides(hub_url=f"http://127.0.0.1:{_closed_port()}", push_retries=1)
    try:
        deliver_all(nowhere, built, policy=DeliveryPolicy(max_attempts=1))
    except DeliveryFailed:
        return
    raise AssertionError("a push to a closed port was delivered")


def seed(home: Path, log_dir: Path) -> Settings:
    """The whole world under ``home``: returns its settings (GATEWAY_HOME=home)."""
    settings = settings_for(home)
    settings.ensure_dirs()
    migrate(settings.database_url)
    generate_keys(settings.keys_dir, settings.sender_id, HUB_ID, insecure_plaintext=True)
    # The hub starts (some seconds in a child process) while the drop folder works through the inboxes.
    with ThreadPoolExecutor(1) as pool:
        dropping = pool.submit(drop_everything, settings)
        with local_hub(settings, log_dir, keep=False) as url:
            dropping.result()
            deliver_all(settings.with_overrides(hub_url=url), settle_and_batch(settings))
    dead_letter(settings)
    engine_for(settings.database_url).dispose()
    return settings


def copy_world(settings: Settings, home: Path) -> Settings:
    """A copy of a seeded world under ``home``, for a test that changes it; the database is copied with
    SQLite's backup API, so what the WAL holds comes along."""
    shutil.copytree(settings.home, home, ignore=shutil.ignore_patterns("gateway.db*"))
    copied = settings_for(home)
    source = settings.database_url.removeprefix("sqlite:///")
    target = copied.database_url.removeprefix("sqlite:///")
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    return copied
