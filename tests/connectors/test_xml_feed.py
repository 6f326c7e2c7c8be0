"""The judicial XML feed: one file one pull, validation while streaming, hardened parsing, flat memory."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from connectors import xml_feed
from connectors.pulled import PullRun, land_pulls, run_pull
from connectors.xml_feed import (
    FeedConfig,
    FeedCursor,
    FeedError,
    FeedFileError,
    FeedSchema,
    FeedShareHook,
    FeedSource,
    check_file,
    mask_ids,
)
from gateway.landing import read_cursor
from gateway.mapping.spec import load_mappings
from gateway.settings import Settings
from samples.feeds import make_judicial
from tests.connectors.connections import Connection
from tests.paths import REPO_ROOT

XSD = REPO_ROOT / "schemas" / "sources" / "judicial_export.xsd"
SAMPLES = REPO_ROOT / "samples" / "feeds" / "judicial"
FIRST, SECOND = "judicial_20261101T0800_0001.xml", "judicial_20261115T0800_0002.xml"
MAPPING = """
id: court_{kind}
label: 法院导出 {kind}
record_type: {record_type}
sources: [court_{kind}]
pull:
  kind: xml_feed
  connection: court_share
  folder: judicial
  pattern: "judicial_*.xml"
  record_element: {element}
  xsd: schemas/sources/judicial_export.xsd
  settle_seconds: 0
fields:
  {field}: {{from: {source}}}
"""


@pytest.fixture
def share(tmp_path: Path) -> Path:
    """The courts' share with the two sample exports in its judicial/ folder."""
    root = tmp_path / "share"
    shutil.copytree(SAMPLES, root / "judicial")
    return root


@pytest.fixture
def feed_settings(settings: Settings, tmp_path: Path) -> Settings:
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    shutil.copy(REPO_ROOT / "mappings" / "defaults.yaml", mappings)
    for kind, element, record_type, code, source in (
        ("debtors", "Debtor", "dishonest_debtor", "caseCode", "caseCode"),
        ("judgments", "Judgment", "judicial_judgment", "case_no", "caseNo"),
    ):
        text = MAPPING.format(kind=kind, element=element, record_type=record_type, field=code, source=source)
        (mappings / f"court_{kind}.yaml").write_text(text, encoding="utf-8")
    return settings.with_overrides(mappings_dir=mappings)


def _share(root: Path) -> Connection:
    """The courts' share as its Airflow Connection (type fs) describes it."""
    return Connection("fs", extra={"path": str(root)})


def feed_run(settings: Settings, share: Path, source: str = "court_debtors") -> PullRun:
    """A run as the DAG makes it: the source's mapping, the share's Connection, the stored cursor."""
    return run_pull(settings, load_mappings(settings.mappings_dir)[source], _share(share))


def _rows(path: Path) -> list[dict[str, Any]]:
    table = pq.read_table(path)
    headers = json.loads(table.schema.metadata[b"gateway.headers"])
    return [
        {headers[int(k[1:])] if k != "__row__" else k: v for k, v in r.items()} for r in table.to_pylist()
    ]


def _schema(element: str = "Debtor") -> FeedSchema:
    return FeedSchema.load(XSD, element)


# ------------------------------------------------------------------------------------------------ columns


def test_columns_come_from_the_xsd_with_nested_elements_and_attributes() -> None:
    assert _schema("Judgment").headers == (
        "@id",
        "caseNo",
        "caseName",
        "courtName",
        "courtCode",
        "caseType",
        "trialProcedure",
        "documentType",
        "causeOfAction",
        "judgmentDate",
        "publishDate",
        "parties",
        "subject/@role",
        "subject/name",
        "subject/category",
        "subject/uscc",
        "subject/idNumber",
        "judgmentResult",
        "amount",
    )
    debtor = _schema("Debtor").headers
    assert debtor[:4] == ("@id", "caseCode", "iname", "partyType") and debtor[-2:] == (
        "removeDate",
        "removeReason",
    )


def test_a_record_element_whose_children_repeat_cannot_be_flattened(tmp_path: Path) -> None:
    xsd = tmp_path / "repeat.xsd"
    xsd.write_text(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"><xs:element name="Export"><xs:complexType>'
        '<xs:sequence><xs:element name="Row" maxOccurs="unbounded"><xs:complexType><xs:sequence>'
        '<xs:element name="party" type="xs:string" maxOccurs="3"/></xs:sequence></xs:complexType>'
        "</xs:element></xs:sequence></xs:complexType></xs:element></xs:schema>",
        encoding="utf-8",
    )
    with pytest.raises(FeedError, match="子元素 party 可重复出现"):
        FeedSchema.load(xsd, "Row")
    with pytest.raises(FeedError, match="应有且只有一种，找到 0 种"):
        FeedSchema.load(XSD, "Verdict")


# ----------------------------------------------------------------------------------------------- the runs


def test_the_sample_exports_land_one_unit_per_file_in_name_order(
    feed_settings: Settings, share: Path
) -> None:
    run = feed_run(feed_settings, share)

    assert run.ok and run.files == [FIRST, SECOND] and not run.waiting
    assert [unit.rows for unit in run.landed] == [6, 2]
    first, second = (_rows(unit.path) for unit in run.landed)
    assert [r["@id"] for r in first] == [
        "D-09-2026-0045",
        "D-0902-2026-0123",
        "D-0902-2026-0156",
        "D-0981-2026-0078",
        "D-0921-2026-0034",
        "D-0902-2026-0201",
    ]
    assert [r["__row__"] for r in first] == [1, 2, 3, 4, 5, 6]
    person = first[2]
    assert (person["iname"], person["partyType"], person["cardNum"], person["uscc"]) == (
        "张建平",
        "自然人",
        "140902198503121234",
        None,
    )
    updated, removed = second
    assert (updated["@id"], updated["performance"], updated["performedPart"]) == (
        "D-0902-2026-0123",
        "部分未履行",
        "已支付货款人民币30000元",
    )
    assert (removed["@id"], removed["removeDate"], removed["removeReason"]) == (
        "D-0981-2026-0078",
        "2026-11-12",
        "被执行人已履行生效法律文书确定的全部义务",
    )
    cursor = json.loads(read_cursor(feed_settings, "court_debtors") or "")
    assert cursor == {
        "file": SECOND,
        "sha256": hashlib.sha256((share / "judicial" / SECOND).read_bytes()).hexdigest(),
    }
    assert run.landed[1].cursor_from == run.landed[0].cursor_to

    files = sorted(feed_settings.landing_dir.rglob("*"))
    for _ in range(10):  # no new export: nothing is read, nothing lands, the cursor stays
        again = feed_run(feed_settings, share)
        assert (again.files, again.landed, again.rejected) == ([], [], [])
    assert json.loads(read_cursor(feed_settings, "court_debtors") or "") == cursor
    assert sorted(feed_settings.landing_dir.rglob("*")) == files

    judgments = feed_run(feed_settings, share, "court_judgments")  # the same files, a cursor of its own
    assert [unit.rows for unit in judgments.landed] == [5, 1]
    nested = _rows(judgments.landed[0].path)[0]
    assert (nested["subject/@role"], nested["subject/name"], nested["amount"]) == (
        "被告",
        "忻州市晋北商贸有限公司",
        "86500.00",
    )


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


def test_a_bad_file_is_rejected_with_file_line_and_reason_and_the_others_go_on(
    feed_settings: Settings, share: Path
) -> None:
    folder = share / "judicial"
    good = (folder / FIRST).read_text(encoding="utf-8")
    bad = good.replace("<regDate>2026-03-02</regDate>", "<regDate>2026-13-02</regDate>")
    _write(folder, SECOND, bad)
    third = "judicial_20261120T0800_0003.xml"
    shutil.copy(SAMPLES / SECOND, folder / third)

    run = feed_run(feed_settings, share)

    assert run.files == [FIRST, third] and [u.rows for u in run.landed] == [6, 2]
    (error,) = run.rejected
    assert (error.file, error.line) == (SECOND, _line_of(bad, "2026-13-02"))
    assert "regDate" in error.reason and "month must be in 1..12" in error.reason
    assert error.message.startswith(f"{SECOND} 第 {error.line} 行：不符合接口 XSD judicial_export.xsd")
    cursor = FeedCursor.parse(read_cursor(feed_settings, "court_debtors"))
    assert cursor.file == third and set(cursor.rejected) == {SECOND}

    again = feed_run(feed_settings, share)  # reported on every run, never read again
    assert again.landed == [] and again.rejected == []
    assert [(e.file, e.line) for e in again.still_rejected] == [(SECOND, error.line)]

    (folder / SECOND).write_text(good, encoding="utf-8")  # "fixed" in place, but it sorts before the cursor
    replaced = feed_run(feed_settings, share)
    assert replaced.landed == [] and "请以排在 judicial_20261120T0800_0003.xml 之后的新文件名重新导出" in (
        replaced.still_rejected[0].reason
    )

    (folder / SECOND).unlink()  # an engineer takes it away: forgotten
    feed_run(feed_settings, share)
    assert FeedCursor.parse(read_cursor(feed_settings, "court_debtors")).rejected == {}


def test_the_last_file_rewritten_in_place_is_read_again(feed_settings: Settings, share: Path) -> None:
    feed_run(feed_settings, share)
    path = share / "judicial" / SECOND
    path.write_text(path.read_text(encoding="utf-8").replace("30000", "35000"), encoding="utf-8")
    again = feed_run(feed_settings, share)
    assert (
        again.files == [SECOND]
        and _rows(again.landed[0].path)[0]["performedPart"] == "已支付货款人民币35000元"
    )


def test_the_last_file_rewritten_back_and_forth_lands_each_state(
    feed_settings: Settings, share: Path
) -> None:
    """A → B → A → B: the third and fourth states repeat earlier units' rows, yet each is the source's state
    now and must reach the store (a repeat of the *latest* unit would be nothing new)."""
    feed_run(feed_settings, share)
    path = share / "judicial" / SECOND
    states = [path.read_text(encoding="utf-8")]
    states.append(states[0].replace("30000", "35000"))
    landed = []
    for text in (states[1], states[0], states[1]):
        path.write_text(text, encoding="utf-8")
        landed.extend(feed_run(feed_settings, share).landed)
    amounts = [_rows(unit.path)[0]["performedPart"] for unit in landed]
    assert amounts == ["已支付货款人民币35000元", "已支付货款人民币30000元", "已支付货款人民币35000元"]


def test_the_latest_file_rejected_and_then_fixed_in_place_is_read_again(
    feed_settings: Settings, share: Path
) -> None:
    path = share / "judicial" / SECOND
    fixed = path.read_text(encoding="utf-8")
    path.write_text(fixed.replace("<performance>部分未履行</performance>", "<performance>部分</performance>"))
    first = feed_run(feed_settings, share)
    assert first.files == [FIRST] and [e.file for e in first.rejected] == [SECOND]
    again = feed_run(feed_settings, share)
    assert [e.file for e in again.still_rejected] == [SECOND] and again.rejected == []
    path.write_text(fixed, encoding="utf-8")  # nothing was taken after it, so order allows reading it now
    last = feed_run(feed_settings, share)
    assert last.files == [SECOND] and last.still_rejected == [] and [u.rows for u in last.landed] == [2]
    assert FeedCursor.parse(read_cursor(feed_settings, "court_debtors")).rejected == {}


def test_a_file_still_being_written_waits_with_everything_after_it(
    feed_settings: Settings, share: Path
) -> None:
    feed_run(feed_settings, share)
    mapping = feed_settings.mappings_dir / "court_debtors.yaml"
    mapping.write_text(mapping.read_text(encoding="utf-8").replace("settle_seconds: 0", "settle_seconds: 30"))
    third, fourth = "judicial_20261120T0800_0003.xml", "judicial_20261121T0800_0004.xml"
    for name in (third, fourth):
        shutil.copy(SAMPLES / SECOND, share / "judicial" / name)

    now = time.time()
    spec = load_mappings(feed_settings.mappings_dir)["court_debtors"]

    def run_at(moment: float) -> PullRun:
        return land_pulls(
            feed_settings, FeedSource.open(feed_settings, spec, _share(share), clock=lambda: moment)
        )

    quick = Connection("fs", extra={"path": str(share), "settle_seconds": 0})  # the share's word wins
    assert FeedSource.open(feed_settings, spec, quick).config.settle_seconds == 0
    waiting = run_at(now)
    assert (waiting.files, waiting.waiting) == ([], [third])  # the fourth waits behind it: order holds
    assert FeedCursor.parse(read_cursor(feed_settings, "court_debtors")).file == SECOND

    later = run_at(now + 60)
    assert later.files == [third, fourth] and not later.waiting
    # Both are the export already taken, sent again under new names: taken, and nothing new to land.
    assert later.landed == []
    assert FeedCursor.parse(read_cursor(feed_settings, "court_debtors")).file == fourth


def test_a_file_rewritten_while_it_is_landed_waits_with_everything_after_it(
    feed_settings: Settings, share: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The export is rewritten between the check and the landing: the landing notices, lands nothing of it,
    and the run stops there with the files already taken landed; the next run reads the new content."""
    check = xml_feed.check_file

    def check_then_rewrite(path: Path, schema: FeedSchema, max_bytes: int) -> xml_feed.CheckedFile:
        checked = check(path, schema, max_bytes)
        if path.name == SECOND:
            path.write_text(path.read_text(encoding="utf-8").replace("30000", "35000"), encoding="utf-8")
        return checked

    monkeypatch.setattr(xml_feed, "check_file", check_then_rewrite)
    run = feed_run(feed_settings, share)
    assert (run.files, run.waiting, [unit.rows for unit in run.landed]) == ([FIRST], [SECOND], [6])
    assert FeedCursor.parse(read_cursor(feed_settings, "court_debtors")).file == FIRST
    assert not list(feed_settings.landing_dir.rglob("*.tmp"))
    monkeypatch.undo()
    again = feed_run(feed_settings, share)
    assert (
        again.files == [SECOND]
        and _rows(again.landed[0].path)[0]["performedPart"] == "已支付货款人民币35000元"
    )


# ------------------------------------------------------------------------------------------- bad files


@pytest.mark.parametrize(
    ("change", "needle", "reason"),
    [
        (
            ("<areaName>山西</areaName>", "<areaName>山西</areaNam>"),
            "</areaNam>",
            "XML 格式错误：Opening and ending tag",
        ),
        (
            ("<areaName>山西</areaName>", "<areaName>山西 & 太原</areaName>"),
            "山西 & 太原",
            "XML 格式错误：xmlParseEntityRef",
        ),
        (
            ("<gistUnit>定襄县人民法院</gistUnit>", ""),
            'Debtor id="D-0921-2026-0034"',
            "元素 Debtor：Unexpected child",
        ),
        (
            ("<judgmentDate>2026-08-30</judgmentDate>", "<judgmentDate>2026-02-30</judgmentDate>"),
            "2026-02-30",
            "'judgmentDate'",
        ),
        ((' exportId="XZZY-20261101-0001"', ""), "<JudicialExport", "attribute 'exportId' is required"),
        (("<sex>女</sex>", "<sex>F</sex>"), "<sex>F</sex>", "元素 sex"),
    ],
)
def test_errors_name_the_line_and_the_reason(
    tmp_path: Path, change: tuple[str, str], needle: str, reason: str
) -> None:
    text = (SAMPLES / FIRST).read_text(encoding="utf-8").replace(*change, 1)
    path = _write(tmp_path, "bad.xml", text)
    with pytest.raises(FeedFileError) as caught:
        check_file(path, _schema(), 1 << 30)
    assert caught.value.line == _line_of(text, needle), caught.value.message
    assert reason in caught.value.reason, caught.value.reason


def test_a_truncated_export_is_not_taken_for_a_short_one(tmp_path: Path) -> None:
    """lxml drops well-formedness errors when it validates with resolve_entities=False; the second parser
    of the check is there for exactly this file."""
    text = (SAMPLES / FIRST).read_text(encoding="utf-8")
    path = _write(tmp_path, "cut.xml", text[: text.index("<Debtors>") + 300])
    with pytest.raises(FeedFileError, match="XML 格式错误"):
        check_file(path, _schema(), 1 << 30)


def test_dtds_and_entities_are_refused_without_being_expanded_or_fetched(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("机密内容 SECRET-42", encoding="utf-8")
    text = (SAMPLES / FIRST).read_text(encoding="utf-8")
    xxe = text.replace(
        "?>\n", f'?>\n<!DOCTYPE JudicialExport [<!ENTITY s SYSTEM "{secret.as_uri()}">]>\n', 1
    ).replace("<areaName>山西</areaName>", "<areaName>&s;</areaName>", 1)
    laughs = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10 if i else "哈" * 10}">' for i in range(10))
    bomb = text.replace("?>\n", f"?>\n<!DOCTYPE JudicialExport [{laughs}]>\n", 1).replace(
        "<areaName>山西</areaName>", "<areaName>&l9;</areaName>", 1
    )
    for name, content in (("xxe.xml", xxe), ("bomb.xml", bomb)):
        started = time.monotonic()
        with pytest.raises(FeedFileError) as caught:
            check_file(_write(tmp_path, name, content), _schema(), 1 << 30)
        assert caught.value.line == 2 and "DOCTYPE" in caught.value.reason
        assert "SECRET" not in caught.value.message and time.monotonic() - started < 2


def test_files_over_the_size_limit_are_refused(tmp_path: Path) -> None:
    path = shutil.copy(SAMPLES / FIRST, tmp_path / FIRST)
    with pytest.raises(FeedFileError, match="超过上限 1000 字节"):
        check_file(Path(path), _schema(), 1000)


def test_id_numbers_in_error_messages_are_masked(tmp_path: Path) -> None:
    text = (
        (SAMPLES / FIRST)
        .read_text(encoding="utf-8")
        .replace("140902198503121234</cardNum>", "14090219850312123Y</cardNum>")
    )
    with pytest.raises(FeedFileError) as caught:
        check_file(_write(tmp_path, "id.xml", text), _schema(), 1 << 30)
    assert "1409021985" not in caught.value.message and "元素 cardNum" in caught.value.message
    assert mask_ids("身份证号 140902198503121234 有误") == "身份证号 140902********1234 有误"
    assert mask_ids("代码 91140902MA0K2B3C30") == "代码 91140902MA0K2B3C30"


def test_a_gbk_encoded_export_is_read(tmp_path: Path) -> None:
    text = (SAMPLES / FIRST).read_text(encoding="utf-8").replace('encoding="UTF-8"', 'encoding="GBK"')
    path = tmp_path / "gbk.xml"
    path.write_bytes(text.encode("gbk"))
    checked = check_file(path, _schema(), 1 << 30)
    assert checked.size == path.stat().st_size


# ------------------------------------------------------------------------------------------------- memory

MEASURE = """
import resource, sys
from pathlib import Path
from connectors.xml_feed import FeedPull, FeedSchema, check_file

schema = FeedSchema.load(Path(sys.argv[1]), "Debtor")
for path in (Path(sys.argv[2]), Path(sys.argv[3])):  # the small file warms every code path up first
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    checked = check_file(path, schema, 1 << 30)
    pull = FeedPull("bulk", schema, checked, None, "c")
    rows = sum(batch.num_rows for batch in pull.batches())
print(rows, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""


def test_a_fifty_megabyte_export_is_streamed_in_flat_memory(tmp_path: Path) -> None:
    """Held as a tree, 50 MB of XML would take several hundred MB; streamed, the peak grows by the batch
    being built (5000 rows) and no more. Measured in a child process so the peak is this work's alone."""
    big = tmp_path / "bulk.xml"
    debtors = make_judicial.write_large(big, 50 * 1024 * 1024)
    assert big.stat().st_size >= 50 * 1024 * 1024
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, str(XSD), str(SAMPLES / FIRST), str(big)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    rows, growth_mb = (int(v) for v in result.stdout.split())
    assert rows == debtors
    assert growth_mb < 64, f"peak memory grew by {growth_mb} MB for a {big.stat().st_size >> 20} MB file"


# -------------------------------------------------------------------------------------------- configuration


def test_the_folder_comes_from_the_connection_and_stays_inside_it(tmp_path: Path) -> None:
    assert FeedShareHook(Connection("fs", extra={"path": "/mnt/court"})).root() == Path("/mnt/court")
    assert FeedShareHook(Connection("fs", host="/mnt/court2")).root() == Path("/mnt/court2")
    with pytest.raises(FeedError, match="Airflow 连接没有给出目录"):
        FeedShareHook(Connection("fs")).root()
    assert (
        FeedShareHook(Connection("fs", extra={"path": "/mnt", "settle_seconds": "5"})).settle_seconds() == 5.0
    )
    assert FeedShareHook(Connection("fs", extra={"path": "/mnt"})).settle_seconds() is None
    block = {
        "kind": "xml_feed",
        "connection": "c",
        "folder": "judicial",
        "record_element": "Debtor",
        "xsd": "x.xsd",
    }
    config = FeedConfig.from_pull(block, root=tmp_path, base=REPO_ROOT)
    assert config.folder == tmp_path / "judicial" and config.xsd == REPO_ROOT / "x.xsd"
    with pytest.raises(FeedError, match="不在连接给出的目录"):
        FeedConfig.from_pull({**block, "folder": "../elsewhere"}, root=tmp_path, base=REPO_ROOT)
    with pytest.raises(FeedError, match="无法识别的键"):
        FeedConfig.from_pull({**block, "recursive": True}, root=tmp_path, base=REPO_ROOT)


def test_the_sample_exports_carry_valid_codes() -> None:
    from lxml import etree

    from gateway.ids import resident_id, uscc

    namespace = {"x": "urn:cn:xinzhou:court:export:1"}
    persons: list[str] = []
    for name in (FIRST, SECOND):
        tree = etree.parse(str(SAMPLES / name))
        codes = tree.xpath("//x:uscc/text() | //x:courtCode/text()", namespaces=namespace)
        codes += tree.getroot().xpath("@senderCode")
        persons += tree.xpath("//x:cardNum/text() | //x:idNumber/text()", namespaces=namespace)
        assert codes and all(uscc.is_valid(code) for code in codes), codes
        assert _schema().validator.validate(tree), name
    assert len(persons) == 3 and all(resident_id.is_valid(number) for number in persons)
