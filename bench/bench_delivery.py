"""Deliver one ~1 GB batch end to end and report peak memory: bounded, not proportional to the batch.

    .venv/bin/python bench/bench_delivery.py [--mb 1024] [--json]

Setup, not measured: a fresh gateway home in a temporary folder, transfer keys, and enough penalty records
with a long 违法事实 (~12 KB each in the XML) written straight into the store to make a batch of about
``--mb`` MiB (the ingest path has its own benchmark, bench_validate.py). Measured, in a fresh child process
so that its peak RSS is the delivery's alone: render the batch XML, seal it, push it to the reference hub
(``python -m hub serve``, another child process) and verify the hub's signed receipt. Reported: sizes, time
and MB/s per stage, the delivery process's RSS after its imports and its peak (ru_maxrss), and the hub's
peak RSS (VmHWM).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from gateway.settings import Settings  # noqa: E402
from gateway.store.db import engine_for, migrate  # noqa: E402
from gateway.store.tables import outbox, record, record_version, source_file  # noqa: E402
from hub import launch  # noqa: E402

HUB_ID = "SX-HUB"
PASSPHRASES = {"GATEWAY_KEY_PASSPHRASE": "bench-gateway", "HUB_KEY_PASSPHRASE": "bench-hub"}
AUTHORITY = "11140900MB1950016E"
FACT = "经查，当事人在经营场所销售超过保质期的预包装食品，违反了食品安全法的相关规定。" * 100
RECORD_BYTES = 12_300  # one rendered record with the fields below, measured
CHUNK = 2000


def _mb(n: float) -> float:
    return round(n / 2**20, 1)


def fill(settings: Settings, count: int) -> None:
    """``count`` attached penalty records with an outbound version each, and their outbox rows."""
    now = datetime.now(UTC).replace(microsecond=0)
    base = {
        "CF_XDR_MC": "忻州市晋北商贸有限公司",
        "CF_XDR_LB": "法人及非法人组织",
        "CF_XDR_SHXYM": "91140902MA0K2B3C30",
        "CF_FRDB": "王建国",
        "CF_WFXW": "销售过期食品",
        "CF_SY": FACT,
        "CF_YJ": "《中华人民共和国食品安全法》第一百二十四条",
        "CF_CFLB": "罚款",
        "CF_NR": "罚款人民币伍仟元整",
        "CF_NR_FK": "0.5",
        "CF_JDRQ": "2026-10-08",
        "CF_YXQ": "2027-10-08",
        "CF_CFJG": "忻州市市场监督管理局",
        "CF_CFJGDM": AUTHORITY,
        "CF_SJLY": "忻州市市场监督管理局",
        "CF_SJLYDM": AUTHORITY,
    }
    engine = engine_for(settings.database_url)
    with engine.begin() as conn:
        file_id = conn.execute(
            insert(source_file).values(
                source_id="bench",
                file_name="bench.csv",
                sha256="0" * 64,
                size=0,
                status="accepted",
                receipt="{}",
                received_at=now,
            )
        ).inserted_primary_key[0]
    for start in range(0, count, CHUNK):
        numbers = range(start, min(count, start + CHUNK))
        payloads = {
            n: json.dumps({**base, "CF_WSH": f"忻市监罚〔2026〕{n}号"}, ensure_ascii=False, sort_keys=True)
            for n in numbers
        }
        common = {"content_hash": "0" * 64, "source_file_id": file_id, "created_at": now}
        with engine.begin() as conn:
            conn.execute(
                insert(record),
                [
                    {
                        **common,
                        "id": n + 1,
                        "record_type": "admin_penalty",
                        "natural_key": f"{AUTHORITY}|忻市监罚〔2026〕{n}号",
                        "status": "active",
                        "version": 1,
                        "payload": payloads[n],
                        "source_row": n + 2,
                        "updated_at": now,
                    }
                    for n in numbers
                ],
            )
            conn.execute(
                insert(record_version),
                [
                    {
                        **common,
                        "id": n + 1,
                        "record_id": n + 1,
                        "version": 1,
                        "operation": "i",
                        "payload": payloads[n],
                        "entity_uscc": "91140902MA0K2B3C30",
                        "attach_method": "uscc",
                        "source_sha256": "0" * 64,
                        "source_row": n + 2,
                        "outbound": True,
                    }
                    for n in numbers
                ],
            )
            conn.execute(
                insert(outbox),
                [
                    {"record_version_id": n + 1, "record_type": "admin_penalty", "created_at": now}
                    for n in numbers
                ],
            )


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def current_rss() -> int:
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) * 1024  # type: ignore[union-attr]


def deliver_phase() -> None:
    """The measured part, run in its own process: render, seal, push, verify."""
    from gateway.delivery import ledger, sealing
    from gateway.delivery.batcher import build_batches
    from gateway.delivery.service import deliver_all
    from gateway.schema import load_record_types
    from gateway.transfer import HubClient, Sender

    settings = Settings.from_env()
    record_types = load_record_types(settings.schemas_dir)
    sender = Sender.load(settings.keys_dir / "gateway", settings.sender_id)
    figures: dict[str, object] = {"rss_after_imports_mb": _mb(current_rss())}

    start = time.perf_counter()
    (built,) = build_batches(settings, {"admin_penalty": record_types["admin_penalty"]})
    figures["render_s"] = round(time.perf_counter() - start, 1)
    figures["peak_rss_after_render_mb"] = _mb(peak_rss())

    start = time.perf_counter()
    batch = ledger.load(settings, built.batch_id)
    sealed = sealing.seal(settings, sender, batch, record_types["admin_penalty"], datetime.now(UTC))
    assert sealed is not None
    figures["seal_s"] = round(time.perf_counter() - start, 1)
    figures["peak_rss_after_seal_mb"] = _mb(peak_rss())

    start = time.perf_counter()
    with HubClient(settings.hub_url, sender, retries=0, timeout=(10, 3600)) as client:
        summary = deliver_all(settings, [built.batch_id], client=client, sender=sender)
    figures["push_and_hub_s"] = round(time.perf_counter() - start, 1)
    figures["peak_rss_mb"] = _mb(peak_rss())
    figures["records"] = built.records
    figures["xml_mb"] = _mb(built.xml_path.stat().st_size)
    figures["envelope_mb"] = _mb(sealed[2].size)
    figures["acknowledged"] = summary["acknowledged"]
    print(json.dumps(figures))


def hub_peak_rss(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) * 1024  # type: ignore[union-attr]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=1024, help="size of the batch XML to deliver, in MiB")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--phase", choices=["deliver"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase == "deliver":
        deliver_phase()
        return
    from gateway.transfer import generate_keys

    os.environ.update(PASSPHRASES)
    with tempfile.TemporaryDirectory(prefix="bench-delivery-") as scratch:
        home = Path(scratch) / "var"
        count = args.mb * 2**20 // RECORD_BYTES
        env = {**os.environ, "GATEWAY_HOME": str(home), "GATEWAY_BATCH_MAX_RECORDS": str(count)}
        settings = Settings.from_env(env)
        settings.ensure_dirs()
        migrate(settings.database_url)
        generate_keys(settings.keys_dir, settings.sender_id, HUB_ID)
        start = time.perf_counter()
        fill(settings, count)
        setup_s = round(time.perf_counter() - start, 1)
        command = launch.serve_command(settings.home / "hub", settings.keys_dir / "hub", settings.schemas_dir)
        with launch.start(command, Path(scratch) / "hub.log", env=env) as hub:
            done = subprocess.run(
                [sys.executable, __file__, "--phase", "deliver"],
                env={**env, "GATEWAY_HUB_URL": hub.url},
                capture_output=True,
                check=False,
            )
            hub_peak = hub_peak_rss(hub.proc.pid)
        if done.returncode != 0:
            sys.exit(f"delivery failed:\n{done.stderr.decode()[-3000:]}")
        figures = json.loads(done.stdout.decode().strip().splitlines()[-1])
    xml = figures["xml_mb"]
    figures.update(
        {
            "setup_fill_s": setup_s,
            "render_mb_per_s": round(xml / figures["render_s"], 1),
            "seal_mb_per_s": round(xml / figures["seal_s"], 1),
            "push_and_hub_mb_per_s": round(figures["envelope_mb"] / figures["push_and_hub_s"], 1),
            "hub_peak_rss_mb": _mb(hub_peak),
        }
    )
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"batch: {figures['records']} records, XML {xml} MiB, envelope {figures['envelope_mb']} MiB")
    print(f"render {figures['render_s']} s ({figures['render_mb_per_s']} MiB/s), ", end="")
    print(f"seal {figures['seal_s']} s ({figures['seal_mb_per_s']} MiB/s), ", end="")
    print(f"push + hub verify/decrypt/validate/store {figures['push_and_hub_s']} s")
    print(
        f"delivery process RSS: {figures['rss_after_imports_mb']} MiB after imports, peak "
        f"{figures['peak_rss_after_render_mb']} (render) / {figures['peak_rss_after_seal_mb']} (seal) / "
        f"{figures['peak_rss_mb']} MiB (push); hub peak {figures['hub_peak_rss_mb']} MiB"
    )


if __name__ == "__main__":
    main()
