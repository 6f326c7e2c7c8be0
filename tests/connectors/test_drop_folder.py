"""The drop folder: listing what is ready, neutralising names, archiving idempotently."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path

import pytest

from connectors.drop_folder import MAX_NAME_BYTES, DropFolder, display_name, safe_name

LATER = 3600.0


def folder(root: Path, **options: float) -> DropFolder:
    """A drop folder whose clock runs an hour ahead, so files written by the test count as settled."""
    return DropFolder(
        root, clock=lambda: time.time() + LATER, probe_seconds=options.pop("probe", 0.0), **options
    )


def drop(zone: DropFolder, name: str | bytes, data: bytes = "名称,金额\n甲,1\n".encode()) -> Path:
    inbox = zone.ensure("scjgj") / "inbox"
    path = Path(
        os.fsdecode(os.path.join(os.fsencode(inbox), name if isinstance(name, bytes) else name.encode()))
    )
    path.write_bytes(data)
    return path


# --- safe_name -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("行政处罚2024.csv", "行政处罚2024.csv"),
        ("..\\..\\x.csv", "x.csv"),
        ("a/../../b", "b"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Windows\\system32\\处罚.xlsx", "处罚.xlsx"),
        ("bad\x00name.csv", "badname.csv"),
        ("line\nbreak\r.csv", "linebreak.csv"),
        ("invoice\u202exslx.csv", "invoicexslx.csv"),
        ("..", "file"),
        ("...", "file"),
        ("", "file"),
        (" . ", "file"),
        ("/", "file"),
        (".hidden.csv", "hidden.csv"),
        ("CON.csv", "_CON.csv"),
        ("con", "_con"),
        ("Lpt1.tar.gz", "_Lpt1.tar.gz"),
        ("CONSOLE.csv", "CONSOLE.csv"),
        ('a<b>c:d"e|f?g*.csv', "a_b_c_d_e_f_g_.csv"),
        ("全角／斜杠.csv", "全角_斜杠.csv"),
        ("trailing. . .", "trailing"),
        ("名单.csv.", "名单.csv"),
    ],
)
def test_safe_name_neutralises_tricks(raw: str, expected: str) -> None:
    assert safe_name(raw) == expected


def test_safe_name_caps_length_and_keeps_chinese_and_extension() -> None:
    name = safe_name("忻州市市场监督管理局" * 30 + ".xlsx")
    assert name.endswith(".xlsx")
    assert len(name.encode()) <= MAX_NAME_BYTES
    assert name.startswith("忻州市市场监督管理局")
    assert "\ufffd" not in name


@pytest.mark.parametrize(
    "raw", ["..", "a/../../b", "..\\..\\x.csv", "\x00", "x" * 1000, "CON.csv", "/etc/passwd", "é" * 300]
)
def test_safe_name_is_always_one_usable_component(tmp_path: Path, raw: str) -> None:
    name = safe_name(raw)
    assert name and "/" not in name and "\\" not in name and not name.startswith(".")
    (tmp_path / name).write_bytes(b"x")
    assert [path.name for path in tmp_path.iterdir()] == [name]


def test_display_name_reads_gbk_file_names() -> None:
    raw = os.fsdecode("行政处罚.csv".encode("gbk"))
    assert display_name(raw) == "行政处罚.csv"
    assert display_name("a\tb\x07.csv") == "ab.csv"


# --- departments and pending -----------------------------------------------------------------------


def test_departments_are_valid_real_directories(tmp_path: Path) -> None:
    zone = folder(tmp_path)
    zone.ensure("scjgj")
    zone.ensure("swj-2")
    (tmp_path / "bad name").mkdir()
    (tmp_path / ".snapshot").mkdir()
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "linked").symlink_to(tmp_path / "scjgj")
    assert zone.departments() == ["scjgj", "swj-2"]
    with pytest.raises(ValueError, match="部门标识不合法"):
        zone.ensure("../etc")


def test_pending_lists_only_finished_regular_files(tmp_path: Path) -> None:
    zone = folder(tmp_path)
    good = drop(zone, "处罚.csv")
    for name in (".hidden.csv", "upload.csv.part", "x.TMP", "d.crdownload", "~$处罚.xlsx"):
        drop(zone, name)
    inbox = good.parent
    (inbox / "sub").mkdir()
    (inbox / "link.csv").symlink_to(good)
    (inbox / "outside.csv").symlink_to("/etc/passwd")
    os.mkfifo(inbox / "pipe.csv")
    os.link(tmp_path / "scjgj" / "inbox" / "x.TMP", inbox / "hardlink.csv")
    listed = zone.pending("scjgj")
    assert [item.name for item in listed] == ["处罚.csv"]
    assert listed[0].path == good
    assert listed[0].size == good.stat().st_size


def test_pending_waits_for_files_to_settle(tmp_path: Path) -> None:
    zone = DropFolder(tmp_path, settle_seconds=30, probe_seconds=0)
    path = drop(zone, "新.csv")
    old = time.time() - 3600
    os.utime(path, (old, old))  # a copy tool preserving an old mtime must not fool the settle check
    assert zone.pending("scjgj") == []
    later = DropFolder(tmp_path, settle_seconds=30, probe_seconds=0, clock=lambda: time.time() + 60)
    assert [item.name for item in later.pending("scjgj")] == ["新.csv"]


def test_pending_skips_a_file_that_is_still_growing(tmp_path: Path) -> None:
    zone = folder(tmp_path, probe=0.3)
    path = drop(zone, "growing.csv")
    stop = threading.Event()

    def writer() -> None:
        with path.open("ab") as stream:
            while not stop.is_set():
                stream.write(b"1,2\n")
                stream.flush()
                time.sleep(0.01)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert zone.pending("scjgj") == []
    finally:
        stop.set()
        thread.join()
    assert [item.name for item in zone.pending("scjgj")] == ["growing.csv"]


def test_pending_of_a_missing_or_symlinked_inbox_is_empty(tmp_path: Path) -> None:
    zone = folder(tmp_path)
    assert zone.pending("nobody") == []
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "a.csv").write_text("a")
    (tmp_path / "dept").mkdir()
    (tmp_path / "dept" / "inbox").symlink_to(elsewhere)
    assert zone.pending("dept") == []


def test_pending_names_are_sanitised_for_display(tmp_path: Path) -> None:
    zone = folder(tmp_path)
    drop(zone, "处罚\x1b[31m.csv".encode())
    drop(zone, "许可".encode("gbk") + b".csv")
    assert sorted(item.name for item in zone.pending("scjgj")) == ["处罚[31m.csv", "许可.csv"]


# --- finish ------------------------------------------------------------------------------------------

RECEIPTS = {".receipt.json": b'{"accepted": 1}', ".receipt.txt": "已接收1行".encode()}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_finish_archives_with_receipts(tmp_path: Path) -> None:
    zone = folder(tmp_path)
    data = "名称\n甲\n".encode()
    drop(zone, "上报\\..\\..\\处罚.csv", data)
    [item] = zone.pending("scjgj")
    archived = zone.finish(item, "scjgj", "processed", sha(data), RECEIPTS)
    today = time.strftime("%Y-%m-%d", time.localtime(time.time() + LATER))
    assert archived == tmp_path / "scjgj" / "processed" / today / f"{sha(data)[:12]}-处罚.csv"
    assert archived.read_bytes() == data
    assert (archived.parent / f"{archived.name}.receipt.json").read_bytes() == RECEIPTS[".receipt.json"]
    assert (archived.parent / f"{archived.name}.receipt.txt").read_text() == "已接收1行"
    assert not item.path.exists()
    assert sorted(path.name for path in archived.parent.iterdir()) == sorted(
        [archived.name, f"{archived.name}.receipt.json", f"{archived.name}.receipt.txt"]
    )


def test_finish_is_idempotent_after_the_move(tmp_path: Path) -> None:
    zone = folder(tmp_path)
    data = b"a\n1\n"
    drop(zone, "a.csv", data)
    [item] = zone.pending("scjgj")
    first = zone.finish(item, "scjgj", "rejected", sha(data), {".receipt.json": b"v1"})
    second = zone.finish(item, "scjgj", "rejected", sha(data), {".receipt.json": b"v2"})
    assert first == second
    assert (first.parent / f"{first.name}.receipt.json").read_bytes() == b"v2"
    assert len(list(first.parent.iterdir())) == 2


def test_finish_after_a_crash_between_receipts_and_move(tmp_path: Path) -> None:
    zone = folder(tmp_path)
    data = b"a\n1\n"
    drop(zone, "a.csv", data)
    today = time.strftime("%Y-%m-%d", time.localtime(time.time() + LATER))
    target_dir = tmp_path / "scjgj" / "processed" / today
    target_dir.mkdir(parents=True)
    (target_dir / f"{sha(data)[:12]}-a.csv.receipt.json").write_bytes(b"half")
    [again] = zone.pending("scjgj")
    archived = zone.finish(again, "scjgj", "processed", sha(data), {".receipt.json": b"whole"})
    assert archived.read_bytes() == data
    assert (target_dir / f"{archived.name}.receipt.json").read_bytes() == b"whole"
    assert zone.pending("scjgj") == []


def test_same_file_dropped_twice_keeps_one_copy(tmp_path: Path) -> None:
    zone = folder(tmp_path)
    data = b"a\n1\n"
    drop(zone, "a.csv", data)
    [item] = zone.pending("scjgj")
    first = zone.finish(item, "scjgj", "processed", sha(data), RECEIPTS)
    drop(zone, "a.csv", data)
    [item] = zone.pending("scjgj")
    second = zone.finish(item, "scjgj", "processed", sha(data), RECEIPTS)
    assert first == second
    assert not item.path.exists()
    assert len(list(first.parent.iterdir())) == 3


def test_prefix_collision_never_overwrites(tmp_path: Path) -> None:
    zone = folder(tmp_path)
    data = b"a\n1\n"
    drop(zone, "a.csv", data)
    [item] = zone.pending("scjgj")
    today = time.strftime("%Y-%m-%d", time.localtime(time.time() + LATER))
    squatter = tmp_path / "scjgj" / "processed" / today / f"{sha(data)[:12]}-a.csv"
    squatter.parent.mkdir(parents=True)
    squatter.write_bytes(b"other bytes")
    archived = zone.finish(item, "scjgj", "processed", sha(data), {})
    assert archived.name == f"{sha(data)}-a.csv"
    assert archived.read_bytes() == data
    assert squatter.read_bytes() == b"other bytes"


def test_finish_refuses_a_file_changed_since_listing(tmp_path: Path) -> None:
    zone = folder(tmp_path)
    path = drop(zone, "a.csv", b"a\n1\n")
    [item] = zone.pending("scjgj")
    path.write_bytes(b"a\n1\n2\n")
    with pytest.raises(ValueError, match="changed"):
        zone.finish(item, "scjgj", "processed", sha(b"a\n1\n"), {})
    assert path.exists()


def test_finish_refuses_a_file_swapped_for_a_symlink(tmp_path: Path) -> None:
    zone = folder(tmp_path)
    path = drop(zone, "a.csv", b"a\n1\n")
    [item] = zone.pending("scjgj")
    path.unlink()
    path.symlink_to("/etc/hostname")
    with pytest.raises(ValueError, match="changed"):
        zone.finish(item, "scjgj", "processed", sha(b"a\n1\n"), {})


@pytest.mark.parametrize(
    ("outcome", "digest", "receipts", "message"),
    [
        ("done", "0" * 64, {}, "outcome"),
        ("processed", "XYZ", {}, "sha256"),
        ("processed", "0" * 64, {"/../../x": b""}, "suffix"),
        ("processed", "0" * 64, {"receipt": b""}, "suffix"),
    ],
)
def test_finish_checks_its_arguments(
    tmp_path: Path, outcome: str, digest: str, receipts: dict[str, bytes], message: str
) -> None:
    zone = folder(tmp_path)
    drop(zone, "a.csv")
    [item] = zone.pending("scjgj")
    with pytest.raises(ValueError, match=message):
        zone.finish(item, "scjgj", outcome, digest, receipts)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not in"):
        zone.finish(item, "other", "processed", "0" * 64, {})
    assert item.path.exists()


def test_finish_of_an_unknown_file_fails(tmp_path: Path) -> None:
    zone = folder(tmp_path)
    path = drop(zone, "a.csv", b"x")
    [item] = zone.pending("scjgj")
    path.unlink()
    with pytest.raises(FileNotFoundError):
        zone.finish(item, "scjgj", "processed", sha(b"x"), {})
