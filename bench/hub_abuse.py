"""Pushes per second the reference hub sustains on loopback, alone and under a slow-client attack (issue 15).

    .venv/bin/python bench/hub_abuse.py                       # 8 senders × 250 batches of ~1 KB, 50 attackers
    .venv/bin/python bench/hub_abuse.py --batches 100 --repeat 1 --json out.json

The hub is ``python -m hub serve`` in a child process with its default limits (hub/settings.py), as it is
deployed; plain HTTP on loopback (``--plain-http``), so TLS costs are not in the figures. Eight senders, each
a party of its own with its own keys (the hub's sequence rule is per sender), push pre-sealed batches in
seq order over a kept-alive connection with the gateway's HubClient, from eight threads. Each batch is one
行政处罚 record rendered by gateway.delivery.render and sealed by gateway.transfer.Sender: about 1 KB of
XML, an envelope of about 1.4 KB. Sealing happens before the clock starts; each push is verified, decrypted,
validated against the XSD, stored in SQLite and answered with a signed receipt that the client verifies.

The attack is a second child process (this file with ``--attack``): asyncio connections, each from a
loopback address of its own (127.0.1.x, so no per-address bound is shared with the senders):

* half of them are slow heads: a request line and then one byte of header per second, reconnecting as soon
  as the hub closes the connection;
* half are slow bodies: a complete unauthenticated POST head announcing 60,000 bytes, then one byte per
  second, reconnecting when closed.

The figures printed are pushes per second (all accepted), push latency p50/p99, and GET /v1/health latency
sampled from 127.0.0.1 during each phase; the attackers report how many connections they made and how the
hub ended them. Phases are repeated (``--repeat``) because the two-core machine is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from gateway.bundled import bundled_dir  # noqa: E402
from gateway.delivery.render import RenderRow, render_batch  # noqa: E402
from gateway.schema import load_record_types  # noqa: E402
from gateway.transfer import HubClient, Sealed, Sender, generate_keys  # noqa: E402
from gateway.transfer.protocol import HEALTH_PATH  # noqa: E402
from gateway.transfer.provision import (  # noqa: E402
    export_public,
    gateway_store,
    generate_own,
    hub_store,
    import_public,
)
from hub import launch  # noqa: E402

HUB = "SX-HUB"
AUTHORITY = "11140900MB0000000X"
COMPANY = "91140900MA0K000000"
# One 行政处罚 record as the gateway's pipeline stores it (canonical fields, XSD codes).
PENALTY = {
    "CF_XDR_MC": "忻州市某某商贸有限公司",
    "CF_XDR_LB": "法人及非法人组织",
    "CF_XDR_SHXYM": COMPANY,
    "CF_FRDB": "张三",
    "CF_WFXW": "销售过期食品",
    "CF_SY": "经查，当事人销售过期食品",
    "CF_YJ": "《中华人民共和国食品安全法》第一百二十四条",
    "CF_CFLB": "罚款",
    "CF_NR": "罚款人民币伍仟元",
    "CF_NR_FK": "0.5",
    "CF_JDRQ": "2024-03-05",
    "CF_YXQ": "2025-03-05",
    "CF_CFJG": "忻州市市场监督管理局",
    "CF_CFJGDM": AUTHORITY,
    "CF_SJLY": "忻州市市场监督管理局",
    "CF_SJLYDM": AUTHORITY,
}
SLOW_HEAD = b"POST /v1/batches HTTP/1.1\r\nHost: hub\r\n"
SLOW_BODY = b"POST /v1/batches HTTP/1.1\r\nHost: hub\r\nContent-Length: 60000\r\n\r\n"


# ------------------------------------------------------------------------------------------ setup


def make_senders(keys: Path, count: int) -> list[Sender]:
    """``count`` sender parties registered with one hub (keys/hub): the first by generate_keys, the
    others by generating their own signing keys and exchanging public keyrings, as provisioning does."""
    names = [f"XZ1409{n:02d}" for n in range(count)]
    generate_keys(keys, names[0], HUB, insecure_plaintext=True)
    hub = hub_store(keys)
    senders = [Sender.load(keys, names[0])]
    for name in names[1:]:
        own = keys / name
        store = gateway_store(own)
        generate_own(store, name, uses=("sign",), insecure_plaintext=True)
        import_public(store, export_public(hub))
        import_public(hub, export_public(store))
        senders.append(Sender.load(own, name))
    return senders


def seal_batches(sender: Sender, folder: Path, first_seq: int, count: int) -> list[tuple[Path, Sealed, str]]:
    """``count`` one-record batches of ``sender``, rendered and sealed by the gateway's own code."""
    rtype = load_record_types(bundled_dir("schemas"))["admin_penalty"]
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for seq in range(first_seq, first_seq + count):
        batch_id = f"{sender.sender_id}-{seq:06d}"
        number = f"忻市监罚〔2024〕{seq}号"
        fields = {**PENALTY, "CF_WSH": number}
        row = RenderRow("i", seq, f"{AUTHORITY}|{number}", 1, json.dumps(fields, ensure_ascii=False), COMPANY)
        xml = folder / f"{batch_id}.xml"
        with xml.open("wb") as fh:
            render_batch(
                fh,
                rtype=rtype,
                batch_id=batch_id,
                seq=seq,
                sender=sender.sender_id,
                created_at=datetime.now(UTC),
                count=1,
                rows=[row],
            )
        envelope = folder / f"{batch_id}.gwenv"
        out.append((envelope, sender.seal(xml, envelope, batch_id=batch_id, seq=seq), batch_id))
    return out


# ----------------------------------------------------------------------------------------- phases


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _health_sampler(url: str, stop: threading.Event, latencies: list[float], failures: list[str]) -> None:
    import requests

    with requests.Session() as session:
        session.trust_env = False
        while not stop.is_set():
            started = time.perf_counter()
            try:
                session.get(url + HEALTH_PATH, timeout=5).raise_for_status()
                latencies.append(time.perf_counter() - started)
            except requests.RequestException as exc:
                failures.append(type(exc).__name__)
            stop.wait(0.05)


def push_phase(url: str, work: list[tuple[Sender, list[tuple[Path, Sealed, str]]]]) -> dict[str, Any]:
    """Every sender pushes its batches in order from a thread of its own; pushes/s over the wall time."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def run(sender: Sender, batches: list[tuple[Path, Sealed, str]]) -> None:
        mine: list[float] = []
        try:
            with HubClient(url, sender, retries=3, backoff=0.05) as client:
                for envelope, sealed, batch_id in batches:
                    started = time.perf_counter()
                    receipt = client.push(envelope, sealed, batch_id)
                    mine.append(time.perf_counter() - started)
                    if receipt.status != "accepted":
                        raise RuntimeError(f"{batch_id}: {receipt.status}")
        except Exception as exc:  # reported with the figures, not hidden
            errors.append(f"{sender.sender_id}: {type(exc).__name__}: {exc}")
        with lock:
            latencies.extend(mine)

    stop = threading.Event()
    health: list[float] = []
    health_failures: list[str] = []
    sampler = threading.Thread(target=_health_sampler, args=(url, stop, health, health_failures))
    threads = [threading.Thread(target=run, args=pair) for pair in work]
    sampler.start()
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    stop.set()
    sampler.join()
    return {
        "pushes": len(latencies),
        "seconds": round(elapsed, 2),
        "pushes_per_s": round(len(latencies) / elapsed, 1),
        "push_p50_ms": round(1000 * _percentile(latencies, 0.5), 1),
        "push_p99_ms": round(1000 * _percentile(latencies, 0.99), 1),
        "health_samples": len(health),
        "health_p50_ms": round(1000 * _percentile(health, 0.5), 1),
        "health_max_ms": round(1000 * max(health, default=float("nan")), 1),
        "health_failures": len(health_failures),
        "errors": errors,
    }


# ------------------------------------------------------------------------------------- the attack


async def _slow_client(
    host: str, port: int, source: str, body: bool, stop: asyncio.Event, seen: Counter[str]
) -> None:
    """One slow client: reconnects whenever the hub ends its connection, until ``stop`` is set."""
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection(host, port, local_addr=(source, 0))
        except OSError:
            seen["connect_failed"] += 1
            await asyncio.sleep(0.2)
            continue
        seen["connections"] += 1
        opened = loop.time()
        writer.write(SLOW_BODY if body else SLOW_HEAD)
        answer = b""
        try:
            while not stop.is_set():
                try:
                    answer = await asyncio.wait_for(reader.read(256), timeout=1.0)
                    break  # an answer, or the end of the connection
                except TimeoutError:
                    writer.write(b"x" if body else b"X")  # one byte a second
                    await writer.drain()
        except OSError:
            answer = b""  # the hub reset the connection: counted below as "closed"
        status = answer[9:12].decode("ascii", "replace") if answer.startswith(b"HTTP/1.1 ") else "closed"
        seen[f"ended_{status}"] += 1
        seen["held_ms"] += int(1000 * (loop.time() - opened))
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def _attack(url: str, clients: int) -> Counter[str]:
    """Attack until standard input is closed (by the parent, when its push phase is over)."""
    host, port = url.split("//")[1].rsplit(":", 1)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    threading.Thread(
        target=lambda: (sys.stdin.read(), loop.call_soon_threadsafe(stop.set)), daemon=True
    ).start()
    seen: Counter[str] = Counter()
    await asyncio.gather(
        *(_slow_client(host, int(port), f"127.0.1.{10 + n}", n % 2 == 1, stop, seen) for n in range(clients))
    )
    return seen


def attack_main(url: str, clients: int) -> None:
    seen = asyncio.run(_attack(url, clients))
    print(json.dumps(dict(seen)), flush=True)


# ------------------------------------------------------------------------------------------- main


def run(args: argparse.Namespace) -> dict[str, Any]:
    sys.path.insert(0, str(HERE))
    import machine

    results: dict[str, Any] = {
        "command": " ".join([Path(sys.executable).name, "bench/hub_abuse.py", *sys.argv[1:]]),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_before": machine.load_average(),
        "machine": machine.describe(None),
        "settings": vars(args),
        "runs": [],
    }
    with tempfile.TemporaryDirectory(prefix="hub-abuse-") as tmp:
        home = Path(tmp)
        senders = make_senders(home / "keys", args.senders)
        command = launch.serve_command(home / "hub", home / "keys" / "hub", bundled_dir("schemas"))
        with launch.start(command, home / "hub.log", cwd=ROOT) as hub:
            next_seq = 1
            for repeat in range(args.repeat):
                for phase in ("alone", "attacked"):
                    work = [
                        (s, seal_batches(s, home / "batches" / s.sender_id, next_seq, args.batches))
                        for s in senders
                    ]
                    next_seq += args.batches
                    sizes = [sealed.size for _, batches in work for _, sealed, _ in batches]
                    attacker = None
                    if phase == "attacked":
                        attacker = subprocess.Popen(
                            [
                                sys.executable,
                                __file__,
                                "--attack",
                                hub.url,
                                "--attackers",
                                str(args.attackers),
                            ],
                            stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE,
                        )
                        time.sleep(args.warmup)  # let the slow clients settle in
                    figures = push_phase(hub.url, work)
                    figures.update(
                        phase=phase, repeat=repeat + 1, envelope_bytes=round(statistics.mean(sizes))
                    )
                    if attacker is not None:
                        out, _ = attacker.communicate(timeout=60)  # closing its stdin ends the attack
                        figures["attackers"] = json.loads(out)
                    results["runs"].append(figures)
                    print(json.dumps(figures, ensure_ascii=False), file=sys.stderr, flush=True)
        results["hub_log_tail"] = (home / "hub.log").read_text("utf-8", errors="replace").splitlines()[-10:]
    results["load_after"] = machine.load_average()
    for phase in ("alone", "attacked"):
        rates = [r["pushes_per_s"] for r in results["runs"] if r["phase"] == phase]
        results[f"{phase}_pushes_per_s"] = {
            "median": statistics.median(rates),
            "min": min(rates),
            "max": max(rates),
        }
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--batches", type=int, default=250, help="batches per sender per phase")
    parser.add_argument("--attackers", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds the attack runs before pushing")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--attack", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.attack:
        attack_main(args.attack, args.attackers)
        return
    results = run(args)
    text = json.dumps(results, ensure_ascii=False, indent=2)
    if args.json:
        Path(args.json).write_text(text + "\n", "utf-8")
    print(text)
    for phase in ("alone", "attacked"):
        rate = results[f"{phase}_pushes_per_s"]
        print(
            f"{phase:>8}: {rate['median']} pushes/s (min {rate['min']}, max {rate['max']})", file=sys.stderr
        )


if __name__ == "__main__":
    main()
