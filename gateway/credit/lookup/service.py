"""One lookup from credential to answer, apart from the web framework (gateway.credit.lookup.app serves it).

The order is the point: identify the caller (401 without a valid credential, nothing logged: there is no
caller to log); check the role, the matter and the code; find the entity and read its standing; render the
answer with its report number; write the log row and commit it; only then hand the answer back. Every
outcome after identification — found, unknown, ambiguous, malformed, bad_check, bad_matter, forbidden — is
logged the same way; when the row cannot be committed the caller gets 503 instead of the answer, and when
the caller was revoked meanwhile (the row is written only for a caller not revoked), 401.

All statements of one request run on one pooled DBAPI connection in autocommit (gateway.credit.lookup.db):
the standing is one statement, so one snapshot; the log row is a write transaction of its own, committed
when the INSERT returns, so a lookup never holds SQLite's write lock while it reads or renders.
"""

from __future__ import annotations

import json
import logging
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from gateway.credit.lookup import report
from gateway.credit.lookup.blocks import check_fields
from gateway.credit.lookup.codes import LABELS, CodeRefused, parse_code
from gateway.credit.lookup.db import Database, fetch_all
from gateway.credit.lookup.keys import Caller, cert_fingerprint, key_matches, parse_key
from gateway.credit.lookup.querylog import (
    MATTER_LENGTH,
    CallerRevoked,
    Entry,
    Filters,
    QueryLog,
    logged_code,
    logged_matter,
    read,
    report_number,
)
from gateway.credit.lookup.standing import NotFound, StandingReader
from gateway.credit.risk.service import model_for
from gateway.schema import load_record_types
from gateway.settings import Settings

log = logging.getLogger(__name__)

LOOKUP_ROLES = ("department", "internal")
AUDIT_ROLES = ("auditor",)
MEDIA = {
    "json": "application/json",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
}
REPORT_TRIES = 3
LOG_READ = "(查询日志)"

KEY_CALLER = "SELECT id, name, department, role, key_sha256, revoked_at FROM lookup_caller WHERE key_id = ?"
CERT_CALLER = "SELECT id, name, department, role, revoked_at FROM lookup_caller WHERE cert_sha256 = ?"

# outcome → HTTP status and machine code of the answer
STATUS = {
    "found": (200, None),
    "unknown": (404, "unknown_entity"),
    "ambiguous": (409, "ambiguous_code"),
    "malformed": (400, "malformed_code"),
    "bad_check": (422, "bad_check_character"),
    "bad_matter": (400, "matter_required"),
    "forbidden": (403, "role_forbidden"),
}


@dataclass(frozen=True)
class Credentials:
    """What the request presented: an API key (Authorization: Bearer, or X-API-Key) and/or a client
    certificate that the TLS layer verified (PEM, from the connection)."""

    key: str | None = None
    cert_pem: str | None = None


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    media_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


class Unauthorized(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Answer:
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Answer(status, data, "application/json", headers or {})


def error_body(code: str, message: str, **more: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}, **more}


class LookupService:
    """The lookup for one database; one per process, called from the server's threads."""

    def __init__(self, settings: Settings, *, cache_seconds: float = 60.0) -> None:
        self.settings = settings
        self.zone = ZoneInfo(settings.timezone)
        self.db = Database(settings.database_url)
        record_types = load_record_types(settings.schemas_dir)
        check_fields(record_types)
        self.record_labels = {name: rt.label for name, rt in record_types.items()}
        class_labels = {c.cls: c.label for c in model_for(settings).classes}
        self.reader = StandingReader(
            self.db,
            timezone=settings.timezone,
            record_labels=self.record_labels,
            class_labels=class_labels,
            cache_seconds=cache_seconds,
        )
        self.log = QueryLog(self.db)
        self._key_caller = self.db.sql(KEY_CALLER)
        self._cert_caller = self.db.sql(CERT_CALLER)
        # Callers this process has seen with a valid credential: key id (or "cert:" + fingerprint) → the
        # caller and the stored SHA-256 of its key. Only what never changes for a caller is kept — its id,
        # name, role and key hash; whether it is revoked is not: every answer's log row is written only
        # while the caller is not revoked (querylog.INSERT), so a revocation holds from the next request.
        self._known: dict[str, tuple[Caller, str | None]] = {}

    # ---------------------------------------------------------------------------------- credentials
    def _caller(self, raw: Any, credentials: Credentials) -> Caller:
        if credentials.key is not None:
            key_id = parse_key(credentials.key)
            known = self._known.get(key_id) if key_id else None
            if known is not None and key_matches(credentials.key, known[1]):
                return known[0]
            rows = fetch_all(raw, self._key_caller, (key_id,)) if key_id else []
            if not rows or not key_matches(credentials.key, rows[0][4]):
                log.warning("lookup: refused an API key (key id %s)", key_id or "malformed")
                raise Unauthorized("credential_invalid", "API 密钥无效")
            caller_id, name, department, role, stored, revoked = rows[0]
            slot = key_id
        elif credentials.cert_pem is not None:
            fingerprint = cert_fingerprint(ssl.PEM_cert_to_DER_cert(credentials.cert_pem))
            slot, stored = f"cert:{fingerprint}", None
            known = self._known.get(slot)
            if known is not None:
                return known[0]
            rows = fetch_all(raw, self._cert_caller, (fingerprint,))
            if not rows:
                log.warning("lookup: refused an unregistered client certificate sha256:%s", fingerprint)
                raise Unauthorized("credential_invalid", "客户端证书未登记为查询调用方")
            caller_id, name, department, role, revoked = rows[0]
        else:
            raise Unauthorized(
                "credential_missing", "需要凭据：Authorization: Bearer <API 密钥>、X-API-Key 或客户端证书"
            )
        if revoked is not None:
            raise self._revoked(name)
        caller = Caller(int(caller_id), name, department, role)
        self._known[slot] = (caller, stored)
        return caller

    def _revoked(self, name: str) -> Unauthorized:
        log.warning("lookup: refused the revoked credential of caller %s", name)
        for slot, (caller, _) in list(self._known.items()):
            if caller.name == name:
                self._known.pop(slot, None)
        return Unauthorized("credential_revoked", "该凭据已吊销")

    def _unauthorized(self, exc: Unauthorized) -> Answer:
        return _json(401, error_body(exc.code, str(exc)), {"WWW-Authenticate": 'Bearer realm="lookup"'})

    # ------------------------------------------------------------------------------------- lookups
    def lookup(self, credentials: Credentials, typed: str, matter: str | None, fmt: str) -> Answer:
        """GET /v1/standing/{code} (fmt json) and /v1/report/{code}.html|.pdf."""
        now = datetime.now(UTC)
        today = now.astimezone(self.zone).date()
        with self.db.connection() as raw:
            try:
                caller = self._caller(raw, credentials)
            except Unauthorized as exc:
                return self._unauthorized(exc)

            def refuse(
                outcome: str, message: str, kind: str | None = None, code: str | None = None
            ) -> Answer:
                entry = Entry(
                    now,
                    caller.id,
                    logged_code(typed, named_entity=False),
                    kind,
                    None,
                    logged_matter(matter or ""),
                    outcome,
                    None,
                    fmt,
                )
                failed = self._write(raw, entry, caller)
                if failed is not None:
                    return failed
                status, machine = STATUS[outcome]
                return _json(status, error_body(code or machine or outcome, message, outcome=outcome))

            if caller.role not in LOOKUP_ROLES:
                return refuse("forbidden", f"角色 {caller.role} 不能查询信用状况（仅可查阅查询日志）")
            if matter is None or not matter.strip():
                return refuse("bad_matter", "必须说明所办理的事项（matter：案件号或申请编号）")
            if len(matter.strip()) > MATTER_LENGTH:
                return refuse(
                    "bad_matter", f"事项（matter）不超过 {MATTER_LENGTH} 个字符", code="matter_too_long"
                )
            try:
                code = parse_code(typed)
            except CodeRefused as exc:
                return refuse(exc.outcome, str(exc), exc.kind)
            document: dict[str, Any] = {
                "generated_at": now.astimezone(self.zone).isoformat(timespec="seconds"),
                "as_of": today.isoformat(),
                "matter": logged_matter(matter),
                "caller": {"name": caller.name, "department": caller.department, "role": caller.role},
                "query": {"code": code.value, "kind": code.kind, "label": LABELS[code.kind]},
            }
            try:
                found, standing = self.reader.read(raw, code, internal=caller.role == "internal", today=today)
            except NotFound as exc:
                if exc.outcome == "ambiguous":
                    candidates = [{"uscc": e.uscc, "name": e.name} for e in exc.candidates]
                    entry = Entry(
                        now,
                        caller.id,
                        code.value,
                        code.kind,
                        None,
                        document["matter"],
                        "ambiguous",
                        None,
                        fmt,
                    )
                    failed = self._write(raw, entry, caller)
                    if failed is not None:
                        return failed
                    body = error_body("ambiguous_code", str(exc), outcome="ambiguous", candidates=candidates)
                    return _json(409, body)
                document |= {"outcome": "unknown", "error": {"code": "unknown_entity", "message": str(exc)}}
                return self._answer(
                    raw, now, caller, document, None, logged_code(code.value, named_entity=False), fmt
                )
            document["outcome"] = "found"
            document |= standing
            return self._answer(raw, now, caller, document, found.id, code.value, fmt)

    def _answer(
        self,
        raw: Any,
        now: datetime,
        caller: Caller,
        document: dict[str, Any],
        entity_id: int | None,
        code: str,
        fmt: str,
    ) -> Answer:
        """Number, render, log, commit — drawing a new number if the first was taken."""
        outcome = document["outcome"]
        status = STATUS[outcome][0]
        kind = document["query"]["kind"]
        for _ in range(REPORT_TRIES):
            document["report_no"] = report_number(now.astimezone(self.zone).date())
            body = self._render(document, fmt)
            entry = Entry(
                now, caller.id, code, kind, entity_id, document["matter"], outcome, document["report_no"], fmt
            )
            try:
                self.log.write(raw, entry)
            except self.log.duplicate:
                continue  # the number was taken (autocommit: nothing to roll back); draw another
            except CallerRevoked:
                return self._unauthorized(self._revoked(caller.name))
            except Exception:
                log.exception("lookup: the query log could not be written; the answer is withheld")
                return self._log_down()
            return Answer(status, body, MEDIA[fmt], {"X-Report-No": document["report_no"]})
        return self._log_down()

    def _render(self, document: dict[str, Any], fmt: str) -> bytes:
        if fmt == "html":
            return report.html(document).encode("utf-8")
        if fmt == "pdf":
            return report.pdf(document)
        return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    def _write(self, raw: Any, entry: Entry, caller: Caller) -> Answer | None:
        """Log a refusal; the answer to send instead of it when the row could not be written."""
        try:
            self.log.write(raw, entry)
        except CallerRevoked:
            return self._unauthorized(self._revoked(caller.name))
        except Exception:
            log.exception("lookup: the query log could not be written; the answer is withheld")
            return self._log_down()
        return None

    @staticmethod
    def _log_down() -> Answer:
        return _json(503, error_body("log_unavailable", "查询日志暂不可写，本次查询未完成，请稍后重试"))

    # ------------------------------------------------------------------------------------ the log
    def queries(self, credentials: Credentials, filters: Filters) -> Answer:
        """GET /v1/queries: auditors only; every read of the log, and every refused one, is itself logged."""
        now = datetime.now(UTC)
        with self.db.connection() as raw:
            try:
                caller = self._caller(raw, credentials)
            except Unauthorized as exc:
                return self._unauthorized(exc)
            allowed = caller.role in AUDIT_ROLES
            entry = Entry(
                now,
                caller.id,
                logged_code(filters.entity or "", named_entity=False),
                None,
                None,
                LOG_READ,
                "audit_read" if allowed else "forbidden",
                None,
                "json",
            )
            failed = self._write(raw, entry, caller)
            if failed is not None:
                return failed
        if not allowed:
            return _json(403, error_body("role_forbidden", "仅审计角色可查阅查询日志", outcome="forbidden"))
        with self.db.engine.connect() as conn:
            items, next_before = read(conn, filters, self.settings.timezone)
        return _json(200, {"items": items, "next_before": next_before})

    def health(self) -> Answer:
        with self.db.connection() as raw:
            fetch_all(raw, "SELECT 1", ())
        return _json(200, {"status": "ok", "database": self.db.dialect})
