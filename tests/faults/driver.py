"""One delivery run (what `gateway deliver` does) in a child process that can kill itself at a named point.

    python tests/faults/driver.py [--crash POINT [--at N]]

Settings come from the GATEWAY_* environment, as for the CLI. With ``--crash`` the process sends itself
SIGKILL the N-th time it reaches POINT, so nothing runs after it: no ``finally``, no rollback by Python, no
flushing — what a power cut or the OOM killer leaves. The points wrap the seams the delivery goes through:

``during_render``  after the batch's first record was written to its XML, inside the build transaction
``after_build``    after every batch was built and committed, before any seal
``during_seal``    an envelope was written but its seal not recorded; the file is cut in half first (worse
                   than the real atomic write can leave) so a rerun must not trust it
``before_push``    the batch is committed as sent; nothing has gone out
``during_upload``  half of the envelope has been sent to the hub
``after_receipt``  the hub's signed receipt arrived and verified; the gateway has not recorded it

Prints the run's summary as JSON; exit status 0 when delivered, 3 when the run reported DeliveryFailed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import requests

import gateway.delivery.batcher as batcher
from gateway.delivery.policy import DeliveryPolicy
from gateway.delivery.service import DeliveryFailed, build_pending, deliver_all
from gateway.settings import Settings
from gateway.transfer import HubClient, Sender

POINTS = ("during_render", "after_build", "during_seal", "before_push", "during_upload", "after_receipt")


def die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


class Trigger:
    """Counts arrivals at the chosen point and kills the process at the N-th."""

    def __init__(self, point: str | None, at: int) -> None:
        self.point, self.at, self.seen = point, at, 0

    def reached(self, point: str) -> bool:
        if point != self.point:
            return False
        self.seen += 1
        return self.seen == self.at


class _KillingWriter:
    """The XML handle during a build: dies once the head and the first record are written."""

    def __init__(self, handle: Any) -> None:
        self.handle, self.writes = handle, 0

    def write(self, data: bytes) -> int:
        written = self.handle.write(data)
        self.writes += 1
        if self.writes == 2:
            self.handle.flush()
            die()
        return written


class _KillingBody:
    """The upload body: dies once half of it has been read (and so handed to the socket)."""

    mode = "rb"

    def __init__(self, body: Any) -> None:
        self.body = body
        self.half = os.fstat(body.fileno()).st_size // 2
        self.sent = 0

    def fileno(self) -> int:
        return int(self.body.fileno())

    def tell(self) -> int:
        return int(self.body.tell())

    def read(self, size: int = -1) -> bytes:
        if self.sent >= self.half:
            die()
        # Never hand over more than the first half: a small batch read in one call would otherwise reach the
        # hub whole before the process dies on the next read, and the hub would store it.
        left = self.half - self.sent
        chunk: bytes = self.body.read(left if size is None or size < 0 else min(size, left))
        self.sent += len(chunk)
        return chunk


def install(trigger: Trigger) -> None:
    render = batcher.render_batch

    def render_and_maybe_die(out: Any, **kwargs: Any) -> int:
        target = _KillingWriter(out) if trigger.reached("during_render") else out
        return render(target, **kwargs)

    batcher.render_batch = render_and_maybe_die  # type: ignore[assignment]

    seal = Sender.seal

    def seal_and_maybe_die(self: Sender, src: Path, dst: Path, **kwargs: Any) -> Any:
        sealed = seal(self, src, dst, **kwargs)
        if trigger.reached("during_seal"):
            with dst.open("r+b") as handle:
                handle.truncate(dst.stat().st_size // 2)
            die()
        return sealed

    Sender.seal = seal_and_maybe_die  # type: ignore[method-assign]

    push = HubClient.push

    def push_and_maybe_die(self: HubClient, *args: Any, **kwargs: Any) -> Any:
        if trigger.reached("before_push"):
            die()
        receipt = push(self, *args, **kwargs)
        if trigger.reached("after_receipt"):
            die()
        return receipt

    HubClient.push = push_and_maybe_die  # type: ignore[method-assign]

    post: Callable[..., requests.Response] = requests.Session.post

    def post_and_maybe_die(
        self: requests.Session, url: str, data: Any = None, **kwargs: Any
    ) -> requests.Response:
        if trigger.reached("during_upload"):
            data = _KillingBody(data)
        return post(self, url, data=data, **kwargs)

    requests.Session.post = post_and_maybe_die  # type: ignore[method-assign]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crash", choices=POINTS)
    parser.add_argument("--at", type=int, default=1, help="die the N-th time the point is reached")
    args = parser.parse_args()
    trigger = Trigger(args.crash, args.at)
    install(trigger)

    settings = Settings.from_env()
    built = build_pending(settings)
    if trigger.reached("after_build"):
        die()
    sender = Sender.load(settings.keys_dir / "gateway", settings.sender_id)
    # Short timeouts and quick client retries: the tests kill hubs on purpose and must not wait minutes.
    policy = DeliveryPolicy(backoff_base=timedelta(0))
    with HubClient(settings.hub_url, sender, retries=2, backoff=0.05, timeout=(2, 20)) as client:
        try:
            summary = deliver_all(settings, built, client=client, sender=sender, policy=policy)
        except DeliveryFailed as exc:
            print(json.dumps(exc.summary, ensure_ascii=False, default=str))
            return 3
    print(json.dumps(summary, ensure_ascii=False, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
