"""Is the gateway keeping up? The figures the watch DAG alerts on, read from the gateway's own database.

The question a platform engineer needs answered before a department calls: is anything stuck? A batch the
hub has not acknowledged for hours (the hub down, a certificate expired, a batch it keeps refusing), dead
letters nobody has looked at. The drop folder's side (the oldest file waiting in an inbox) is read by the
connector that owns the folders (connectors.department_files.inbox_lag) and judged here with the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from gateway.delivery import ledger, states
from gateway.settings import Settings


@dataclass(frozen=True)
class Finding:
    code: str  # stable, for whoever routes alerts: batch_lag, dead_letters, inbox_lag
    message: str


@dataclass
class Health:
    """The watch's figures and what is wrong with them; ``findings`` empty means all is well."""

    open_batches: int = 0
    oldest_open_batch: str | None = None
    oldest_open_seconds: float = 0.0
    dead_letters: int = 0
    dead_batch_ids: list[str] = field(default_factory=list)
    oldest_inbox_seconds: float = 0.0
    findings: list[Finding] = field(default_factory=list)

    def summary(self) -> str:
        if not self.findings:
            return "网关运行正常 all well: " + self.figures()
        return "；".join(f.message for f in self.findings) + " — " + self.figures()

    def figures(self) -> str:
        return (
            f"open batches {self.open_batches} (oldest {self.oldest_open_seconds / 60:.0f} min), "
            f"dead letters {self.dead_letters}, oldest inbox file {self.oldest_inbox_seconds / 60:.0f} min"
        )


def check(settings: Settings, *, inbox_seconds: float = 0.0, now: datetime | None = None) -> Health:
    """The delivery's figures and every threshold of ``settings`` they cross; ``inbox_seconds``: how long
    the oldest inbox file has waited (from the drop folder)."""
    now = now or datetime.now(UTC)
    health = Health(oldest_inbox_seconds=inbox_seconds)
    open_batches = ledger.batches(settings, states.OPEN)
    health.open_batches = len(open_batches)
    if open_batches:
        oldest = min(open_batches, key=lambda b: ledger.utc(b.open_since) or now)
        health.oldest_open_batch = oldest.batch_id
        health.oldest_open_seconds = max(0.0, (now - (ledger.utc(oldest.open_since) or now)).total_seconds())
    dead = ledger.batches(settings, [states.DEAD])
    health.dead_letters = len(dead)
    health.dead_batch_ids = [b.batch_id for b in dead][:20]
    if health.oldest_open_seconds > settings.alert_batch_age_seconds:
        health.findings.append(
            Finding(
                "batch_lag",
                f"批次 {health.oldest_open_batch} 已 {health.oldest_open_seconds / 60:.0f} 分钟"
                "未获省级平台确认"
                f" (batch not acknowledged for over {settings.alert_batch_age_seconds / 60:.0f} min)",
            )
        )
    if health.dead_letters:
        health.findings.append(
            Finding(
                "dead_letters",
                f"{health.dead_letters} 个批次已放弃重试（死信），请用 gateway deliveries list 查看并处理"
                f" (dead letters: {', '.join(health.dead_batch_ids[:5])})",
            )
        )
    if inbox_seconds > settings.alert_inbox_age_seconds:
        health.findings.append(
            Finding(
                "inbox_lag",
                f"收件箱中有文件已等待 {inbox_seconds / 60:.0f} 分钟未处理"
                f" (an inbox file has waited over {settings.alert_inbox_age_seconds / 60:.0f} min)",
            )
        )
    return health
