"""The drop folder: listing what is ready, neutralising names, archiving idempotently."""

from __future__ import annotations

import hashlib
import logging
import os
import random
import stat
import threading
import time
from pathlib import Path

import pytest

from connectors.drop_folder import (
    MAX_NAME_BYTES,
    DropFolder,
    Pending,
    display_name,
    is_temporary,
    safe_name,
    shown_name,
)
from gateway.ids.resident_id import calc_check, mask
from gateway.ids.resident_id import mask_in_text as mask_ids

LATER = 3600.0


def folder(root: Path, **options: float) -> DropFolder:
    """A drop folder whose clock runs an hour ahead, so files written by the test count as settled."""
    return DropFolder(
        root, clock=lambda: time.time() + LATER, probe_seconds=options.pop("probe", 0.0), **options
    )


def resident_ids(seed: int, count: int) -> list[str]:
    """Valid 18-character resident ID numbers (address code, birth date, sequence, GB 11643 check)."""
    rng = random.Random(seed)
    made = []
    for _ in range(count):
        body = f"{rng.choice(['140902', '110105', '440305'])}{rng.randint(1950, 2005)}"
        body += f"{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
        made.append(body + calc_check(body))
    return made


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


def test_pending_lists_files_and_every_other_entry_with_its_kind(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    zone = folder(tmp_path, temp_grace_seconds=2 * LATER)  # temporary names still within their grace
    good = drop(zone, "处罚.csv")
    for name in (".hidden.csv", "upload.csv.part", "x.TMP", "d.crdownload", "~$处罚.xlsx"):
        drop(zone, name)
    inbox = good.parent
    (inbox / "sub").mkdir()
    (inbox / "link.csv").symlink_to(good)
    (inbox / "outside.csv").symlink_to("/etc/passwd")
    os.mkfifo(inbox / "pipe.csv")
    os.link(inbox / "x.TMP", inbox / "hardlink.csv")
    with caplog.at_level(logging.INFO, logger="connectors.drop_folder"):
        listed = zone.pending("scjgj")
    assert sorted((item.name, item.kind) for item in listed) == [
        ("hardlink.csv", "hardlink"),
        ("link.csv", "symlink"),
        ("outside.csv", "symlink"),
        ("pipe.csv", "fifo"),
        ("处罚.csv", "file"),
    ]
    [plain] = [item for item in listed if item.kind == "file"]
    assert plain.path == good and plain.size == good.stat().st_size and not plain.claimed
    logged = caplog.text
    for name in (".hidden.csv", "upload.csv.part", "x.TMP", "d.crdownload", "~$处罚.xlsx"):
        assert f"{name!r} has a temporary name" in logged  # never skipped without a word
    assert "folder 'sub' left alone" in logged


def test_temporary_names_are_taken_once_their_grace_period_is_over(tmp_path: Path) -> None:
    zone = folder(tmp_path, temp_grace_seconds=LATER / 2)
    drop(zone, "处罚.csv")
    for name in (".处罚.csv", "upload.csv.part", "~$处罚.xlsx"):
        drop(zone, name)
    listed = {item.name: item.kind for item in zone.pending("scjgj")}
    assert listed == {
        "处罚.csv": "file",
        ".处罚.csv": "temporary",
        "upload.csv.part": "temporary",
        "~$处罚.xlsx": "temporary",
    }
    assert {name: is_temporary(name) for name in listed} == {
        name: kind != "file" for name, kind in listed.items()
    }


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


# --- ID numbers in names ------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_id_numbers_in_names_are_masked_wherever_a_name_is_shown(seed: int) -> None:
    number, legacy_body = resident_ids(seed, 2)
    legacy = legacy_body[:6] + legacy_body[8:17]  # the 15-digit form: YYMMDD, no check character
    lower_x = number[:17] + "x"
    for raw, secret in [
        (f"张三_{number}_处罚.csv", number),
        (f"sfz{number}.xlsx", number),  # glued to letters, as people name files
        (f"{legacy}李四.csv", legacy),
        (f"王五{lower_x}.csv", lower_x),
        (f"{number[:6]}　{number[6:]}.csv".replace("　", ""), number),
    ]:
        shown = shown_name(raw)
        assert secret not in shown and secret.upper() not in shown
        assert mask(secret) in shown
        archived_as = safe_name(shown)  # "*" is not allowed in Windows names: the mask becomes "_"
        assert secret not in archived_as and mask(secret).replace("*", "_") in archived_as
    full_width = number.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))
    assert mask_ids(f"处罚{full_width}.csv") == f"处罚{mask(number)}.csv"
    gbk = os.fsdecode(f"处罚{number}.csv".encode("gbk"))
    assert shown_name(gbk) == f"处罚{mask(number)}.csv"
    # Not an ID: shorter, longer, or part of a longer number stays as written.
    for kept in ("处罚2026年10月.csv", "文书号20261128.csv", "批次12345678901234567890.csv"):
        assert shown_name(kept) == kept


def test_listed_names_and_paths_are_masked_and_the_entry_is_found_by_either(tmp_path: Path) -> None:
    zone = folder(tmp_path)
    [number] = resident_ids(7, 1)
    path = drop(zone, f"张三_{number}_处罚.csv")
    [item] = zone.pending("scjgj")
    assert item.path == path  # the real entry, to be claimed
    assert item.name == f"张三_{mask(number)}_处罚.csv"
    assert item.shown_path == path.parent / item.name
    assert number not in str(item.shown_path)


# --- claiming ------------------------------------------------------------------------------------------


def slots(root: Path, department: str = "scjgj") -> list[Path]:
    work = root / department / ".work"
    return sorted(work.iterdir()) if work.exists() else []


def test_claim_moves_the_entry_into_a_private_slot_and_checks_it(tmp_path: Path) -> None:
    zone = folder(tmp_path)
    data = "名称,金额\n甲,1\n".encode()
    path = drop(zone, "处罚.csv", data)
    os.chmod(path, 0o666)
    [item] = zone.pending("scjgj")
    claimed = zone.claim(item, "scjgj")
    assert claimed is not None and claimed.kind == "file" and claimed.claimed
    assert not path.exists()
    assert claimed.path.read_bytes() == data and claimed.path.name == "处罚.csv"
    assert stat.S_IMODE(claimed.path.stat().st_mode) == 0o640  # ours, and never readable by others
    work = tmp_path / "scjgj" / ".work"
    assert stat.S_IMODE(work.stat().st_mode) == 0o700
    assert stat.S_IMODE(claimed.path.parent.stat().st_mode) == 0o700
    assert zone.pending("scjgj") == [claimed]  # a claimed file left by a crash is listed again


def test_an_entry_swapped_for_a_symlink_after_listing_is_claimed_as_a_link(tmp_path: Path) -> None:
    zone = folder(tmp_path)
    secret = tmp_path / "secret.csv"
    secret.write_bytes(b"not for the gateway")
    path = drop(zone, "a.csv")
    [item] = zone.pending("scjgj")
    path.unlink()
    path.symlink_to(secret)
    claimed = zone.claim(item, "scjgj")
    assert claimed is not None and claimed.kind == "symlink"
    assert claimed.path.is_symlink() and os.readlink(claimed.path) == str(secret)
    reference = zone.discard(claimed, "scjgj", {".receipt.json": b"{}"})
    assert not claimed.path.is_symlink() and slots(tmp_path) == []
    assert (reference.parent / f"{reference.name}.receipt.json").read_bytes() == b"{}"
    assert not reference.exists()  # the receipt names the link; nothing of it is kept
    assert secret.read_bytes() == b"not for the gateway" and secret.stat().st_nlink == 1


def test_an_entry_swapped_for_a_hard_link_is_claimed_as_a_hard_link(tmp_path: Path) -> None:
    zone = folder(tmp_path)
    secret = tmp_path / "secret.csv"
    secret.write_bytes(b"elsewhere")
    os.chmod(secret, 0o604)
    path = drop(zone, "a.csv")
    [item] = zone.pending("scjgj")
    path.unlink()
    os.link(secret, path)
    claimed = zone.claim(item, "scjgj")
    assert claimed is not None and claimed.kind == "hardlink"
    zone.discard(claimed, "scjgj", {".receipt.json": b"{}"})
    assert secret.read_bytes() == b"elsewhere" and secret.stat().st_nlink == 1
    assert stat.S_IMODE(secret.stat().st_mode) == 0o604  # never opened, never made ours


def test_an_entry_replaced_by_another_file_is_put_back_not_read(tmp_path: Path) -> None:
    zone = folder(tmp_path)
    path = drop(zone, "a.csv", b"first\n")
    [item] = zone.pending("scjgj")
    upload = path.with_name("a.csv.filepart")
    upload.write_bytes(b"second, unsettled\n")
    os.replace(upload, path)  # an SFTP client's atomic upload over the listed file
    claimed = zone.claim(item, "scjgj")
    assert claimed is not None and claimed.kind == "replaced"
    assert zone.release(claimed, item)
    assert path.read_bytes() == b"second, unsettled\n" and path.stat().st_nlink == 1
    assert slots(tmp_path) == []


def test_release_never_overwrites_a_file_dropped_under_the_same_name(tmp_path: Path) -> None:
    zone = folder(tmp_path)
    path = drop(zone, "a.csv", b"claimed\n")
    [item] = zone.pending("scjgj")
    claimed = zone.claim(item, "scjgj")
    assert claimed is not None
    path.write_bytes(b"new drop\n")
    assert not zone.release(claimed, item)
    assert path.read_bytes() == b"new drop\n" and claimed.path.read_bytes() == b"claimed\n"


def test_a_file_of_another_account_is_replaced_by_a_private_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    zone = folder(tmp_path)
    data = "名称\n甲\n".encode() * 1000
    path = drop(zone, "a.csv", data)
    os.chmod(path, 0o644)
    [item] = zone.pending("scjgj")

    chmod = os.fchmod

    def not_yours(descriptor: int, mode: int) -> None:
        if os.fstat(descriptor).st_ino == item.inode:
            raise PermissionError(1, "Operation not permitted")
        chmod(descriptor, mode)

    monkeypatch.setattr(os, "fchmod", not_yours)  # as for a file the share wrote as the department
    claimed = zone.claim(item, "scjgj")
    monkeypatch.undo()
    assert claimed is not None and claimed.kind == "file"
    assert claimed.inode != item.inode  # a copy read from the checked descriptor
    assert claimed.path.read_bytes() == data
    assert stat.S_IMODE(claimed.path.stat().st_mode) == 0o640
    assert [p.name for p in claimed.path.parent.iterdir()] == ["a.csv"]


def test_what_a_crash_left_in_the_work_folder_is_cleaned_up_or_taken_again(tmp_path: Path) -> None:
    zone = folder(tmp_path)
    zone.ensure("scjgj")
    work = tmp_path / "scjgj" / ".work"
    work.mkdir(mode=0o700)
    empty = work / ("0" * 16)
    empty.mkdir()
    copying = work / ("1" * 16)
    copying.mkdir()
    (copying / "a.csv").write_bytes(b"claimed\n")
    (copying / ".copy-abcd1234").write_bytes(b"half a co")
    putback = work / ("2" * 16)
    putback.mkdir()
    (putback / "b.csv").write_bytes(b"put back\n")
    os.link(putback / "b.csv", tmp_path / "scjgj" / "inbox" / "b.csv")  # died between link and unlink
    listed = zone.pending("scjgj")
    assert [(item.name, item.kind, item.claimed) for item in listed] == [
        ("a.csv", "file", True),
        ("b.csv", "file", False),
    ]
    assert sorted(p.name for p in work.iterdir()) == ["1" * 16]
    assert [p.name for p in copying.iterdir()] == ["a.csv"]
    assert (tmp_path / "scjgj" / "inbox" / "b.csv").stat().st_nlink == 1


def test_claiming_a_temporary_name_keeps_it_temporary_after_a_crash(tmp_path: Path) -> None:
    zone = folder(tmp_path, temp_grace_seconds=0)
    drop(zone, ".处罚.csv")
    [item] = zone.pending("scjgj")
    claimed = zone.claim(item, "scjgj")
    assert claimed is not None and claimed.kind == "temporary"
    [again] = zone.pending("scjgj")  # as the next run would list it
    assert zone.claim(again, "scjgj") == claimed


def test_archive_and_receipts_are_group_readable_at_most_whatever_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        zone = folder(tmp_path)
        data = b"a\n1\n"
        drop(zone, "a.csv", data)
        [item] = zone.pending("scjgj")
        claimed = zone.claim(item, "scjgj")
        assert claimed is not None
        archived = zone.finish(claimed, "scjgj", "processed", sha(data), RECEIPTS)
    finally:
        os.umask(previous)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in archived.parent.iterdir()}
    assert modes == dict.fromkeys([archived.name, *(archived.name + s for s in RECEIPTS)], 0o640)
    assert stat.S_IMODE(archived.parent.stat().st_mode) == 0o750
    assert stat.S_IMODE(archived.parent.parent.stat().st_mode) == 0o750
    assert slots(tmp_path) == []


def test_finish_refuses_a_pending_from_outside_the_inbox_or_work_folder(tmp_path: Path) -> None:
    zone = folder(tmp_path)
    zone.ensure("scjgj")
    stray = tmp_path / "stray.csv"
    stray.write_bytes(b"x")
    info = stray.lstat()
    fake = Pending(stray, "stray.csv", info.st_size, info.st_mtime, info.st_dev, info.st_ino, claimed=True)
    with pytest.raises(ValueError, match="work folder"):
        zone.finish(fake, "scjgj", "processed", sha(b"x"), {})
    with pytest.raises(ValueError, match="work folder"):
        zone.claim(fake, "scjgj")
    assert stray.exists()
