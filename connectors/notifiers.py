"""Alerts to people when a pull, an ingest or a delivery fails: e-mail and a webhook, set up by Connections.

Every gateway task carries ``GatewayAlertNotifier`` as its failure callback (dags/gateway_common/defaults.py)
and the watch DAG uses it when the gateway falls behind. Where an alert goes is operations' business, not
code's, so it is read from two optional Airflow Connections at the moment of the alert:

``gateway_alert_webhook`` (type http)
    host, port, schema (http/https) and, in the extras, ``endpoint`` (a path) and ``headers`` (a JSON
    object, e.g. a bearer token; the Connection's password, if set, is sent as ``Authorization: Bearer``).
    The alert is POSTed as JSON (see ``Alert.as_json``): a chat-room or paging robot reads it.
``gateway_alert_smtp`` (type smtp, read by the SMTP provider's hook)
    the mail server; the extras ``to`` (comma-separated) and ``from_email`` say who gets it.

Neither set: the alert is only logged (a warning says so once per alert). A channel that fails is logged
and the others still go out; the notifier never raises, so a broken mail server cannot hide the task's own
failure behind its own. Texts are cleaned before they leave: ID numbers masked, URL passwords and SQL
parameters removed (gateway.redaction). The module imports nothing of the gateway at load time: DAG files
name the notifier, and the dag-processor parses them constantly.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from airflow.sdk import BaseNotifier

log = logging.getLogger(__name__)

WEBHOOK_CONN_ID = "gateway_alert_webhook"
SMTP_CONN_ID = "gateway_alert_smtp"
WEBHOOK_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Alert:
    """One alert, channel-neutral."""

    title: str
    text: str
    severity: str = "error"  # error: something failed; warning: falling behind (the watch DAG)
    fields: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "source": "xinzhou-gateway",
            "severity": self.severity,
            "title": self.title,
            "text": self.text,
            **self.fields,
        }

    def as_html(self) -> str:
        from html import escape

        rows = "".join(
            f"<tr><th align='left'>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in self.fields.items()
        )
        return f"<p>{escape(self.text)}</p><table>{rows}</table>"


def alert_from_context(context: Any) -> Alert:
    """What failed, where, and why, from a task's failure context; labels of mapped tasks included."""
    from gateway.redaction import redacted

    ti = context.get("ti") or context.get("task_instance")
    dag_id = str(getattr(ti, "dag_id", "") or getattr(context.get("dag"), "dag_id", "?"))
    task_id = str(getattr(ti, "task_id", "?"))
    label = getattr(ti, "rendered_map_index", None) or (
        str(ti.map_index) if ti is not None and getattr(ti, "map_index", -1) not in (-1, None) else ""
    )
    exception = context.get("exception")
    reason = redacted(f"{type(exception).__name__}: {exception}") if exception else "(no exception recorded)"
    fields = {
        "dag_id": dag_id,
        "task_id": task_id,
        "map": str(label),
        "run_id": str(context.get("run_id", "")),
        "try": str(getattr(ti, "try_number", "")),
        "reason": reason[:2000],
    }
    where = f"{dag_id}.{task_id}" + (f"[{label}]" if label else "")
    return Alert(title=f"网关任务失败 gateway task failed: {where}", text=reason[:2000], fields=fields)


def send_alert(alert: Alert) -> list[str]:
    """Send ``alert`` on every configured channel; returns the channels it went out on."""
    sent = []
    for name, channel in (("webhook", _post_webhook), ("smtp", _send_mail)):
        try:
            if channel(alert):
                sent.append(name)
        except Exception as exc:  # a failing channel must not stop the others or mask the task's failure
            log.error("alert via %s failed: %s", name, _safe(exc))
    if not sent:
        log.warning("ALERT (no channel set: see %s, %s): %s", WEBHOOK_CONN_ID, SMTP_CONN_ID, alert.title)
    return sent


class GatewayAlertNotifier(BaseNotifier):
    """Failure callback for every gateway task: builds the alert from the context and sends it."""

    def notify(self, context: Any) -> None:
        try:
            send_alert(alert_from_context(context))
        except Exception as exc:  # never let the alert path raise into Airflow's callback runner
            log.error("could not build or send the failure alert: %s", _safe(exc))


def _optional_connection(conn_id: str) -> Any | None:
    from airflow.sdk.exceptions import AirflowNotFoundException

    from connectors.connection import get_connection

    try:
        return get_connection(conn_id)
    except AirflowNotFoundException:
        return None


def _post_webhook(alert: Alert) -> bool:
    import requests

    conn = _optional_connection(WEBHOOK_CONN_ID)
    if conn is None:
        return False
    extra = conn.extra_dejson or {}
    scheme = conn.schema if conn.schema in {"http", "https"} else "https"
    port = f":{conn.port}" if conn.port else ""
    endpoint = str(extra.get("endpoint", "")).lstrip("/")
    headers = {"Content-Type": "application/json; charset=utf-8", **dict(extra.get("headers") or {})}
    if conn.password:
        headers["Authorization"] = f"Bearer {conn.password}"
    url = f"{scheme}://{conn.host}{port}/{endpoint}"
    body = json.dumps(alert.as_json(), ensure_ascii=False).encode("utf-8")
    response = requests.post(url, data=body, headers=headers, timeout=WEBHOOK_TIMEOUT_SECONDS)
    response.raise_for_status()
    log.info("alert posted to the webhook %s://%s%s/%s", scheme, conn.host, port, endpoint)
    return True


def _send_mail(alert: Alert) -> bool:
    conn = _optional_connection(SMTP_CONN_ID)
    if conn is None:
        return False
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    extra = conn.extra_dejson or {}
    to = [address.strip() for address in str(extra.get("to", "")).split(",") if address.strip()]
    if not to:
        log.error("connection %s has no 'to' in its extras: no e-mail alert sent", SMTP_CONN_ID)
        return False
    with SmtpHook(smtp_conn_id=SMTP_CONN_ID) as hook:
        hook.send_email_smtp(
            to=to,
            subject=alert.title,
            html_content=alert.as_html(),
            from_email=extra.get("from_email") or conn.login or "gateway@localhost",
        )
    log.info("alert mailed to %d recipients", len(to))
    return True


def _safe(exc: BaseException) -> str:
    from gateway.redaction import redacted

    return redacted(f"{type(exc).__name__}: {exc}")[:500]
