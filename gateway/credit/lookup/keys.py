"""The lookup's callers: one credential per department caller, an API key or a client certificate, and a role.

An API key is ``gwl_<key_id>_<secret>``: ``key_id`` (12 hex characters) is public — it finds the caller's row
and names the caller in lists — and ``secret`` (32 random bytes, URL-safe base64) is known only to the caller.
The key is printed once when it is made; the store keeps its SHA-256, and a presented key is compared with
``hmac.compare_digest`` so the time an answer takes says nothing about how much of a guess was right. A plain
SHA-256 is enough because the secret is 256 random bits, not a password: there is nothing to brute-force.

A client certificate is registered by the SHA-256 fingerprint of its DER form. At request time the TLS layer
has already verified it against the client CA (gateway.credit.lookup.server); the fingerprint only says which
caller it is. A revoked caller keeps its row (the query log points at it) with ``revoked_at`` set.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import Connection, insert, select, update

from gateway.credit.lookup.tables import lookup_caller

PREFIX = "gwl"
ROLES = ("department", "internal", "auditor")
"""department: looks entities up, without the risk class; internal: the same with the risk class (内部参考);
auditor: reads the query log and nothing else."""

_KEY = re.compile(r"^gwl_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class CallerError(ValueError):
    """A caller cannot be made, found or changed as asked; the message says why."""


@dataclass(frozen=True)
class Caller:
    id: int
    name: str
    department: str
    role: str


@dataclass(frozen=True)
class CallerRow:
    """A caller as `keys list` shows it: never a secret, only the key's public id or the certificate's
    fingerprint."""

    name: str
    department: str
    role: str
    credential: str  # key | cert
    key_id: str | None
    cert_sha256: str | None
    created_at: datetime
    revoked_at: datetime | None


def key_sha256(key: str) -> str:
    return hashlib.sha256(key.encode("ascii")).hexdigest()


def parse_key(presented: str) -> str | None:
    """The key id of a well-formed key, or None: a malformed key is refused without touching the store."""
    match = _KEY.match(presented)
    return match.group(1) if match else None


def key_matches(presented: str, stored_sha256: str | None) -> bool:
    """Constant-time comparison of the presented key's SHA-256 with the stored one."""
    if not stored_sha256:
        return False
    return hmac.compare_digest(key_sha256(presented).encode("ascii"), stored_sha256.encode("ascii"))


def new_key() -> tuple[str, str]:
    """A fresh (key_id, key)."""
    key_id = secrets.token_hex(6)
    return key_id, f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"


def cert_fingerprint(der: bytes) -> str:
    """The SHA-256 of a certificate's DER form, lower-case hex: what a certificate is registered by."""
    return hashlib.sha256(der).hexdigest()


def fingerprint_of_pem(path: Path) -> str:
    """The fingerprint of the one certificate in a PEM file; refuses a file that holds none or several, or a
    certificate that does not allow client authentication (it could never complete the handshake)."""
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise CallerError(f"{path}: cannot read the certificate ({exc.strerror})") from exc
    try:
        certificates = x509.load_pem_x509_certificates(text)
    except ValueError as exc:
        raise CallerError(f"{path}: not a PEM certificate ({exc})") from exc
    if len(certificates) != 1:
        raise CallerError(f"{path}: holds {len(certificates)} certificates; register one client certificate")
    certificate = certificates[0]
    try:
        purposes = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        purposes = None
    if purposes is not None and x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH not in purposes:
        raise CallerError(f"{path}: the certificate does not allow client authentication (extendedKeyUsage)")
    return cert_fingerprint(certificate.public_bytes(Encoding.DER))


def _check(name: str, department: str, role: str) -> None:
    if not _NAME.match(name):
        raise CallerError(
            f"caller name {name!r}: 1–64 characters, letters, digits, '_', '.', '-', starting with a letter "
            "or digit"
        )
    if not department.strip() or len(department) > 64:
        raise CallerError(f"department {department!r}: 1–64 characters")
    if role not in ROLES:
        raise CallerError(f"role {role!r}: one of {', '.join(ROLES)}")


def _taken(conn: Connection, name: str) -> None:
    if conn.execute(select(lookup_caller.c.id).where(lookup_caller.c.name == name)).first() is not None:
        raise CallerError(
            f"caller {name!r} exists; revoke it and choose another name to issue a new credential"
        )


def add_key_caller(
    conn: Connection, name: str, department: str, role: str, now: datetime | None = None
) -> tuple[Caller, str]:
    """A new caller with an API key; returns the caller and the key, which is never stored or shown again."""
    _check(name, department, role)
    _taken(conn, name)
    key_id, key = new_key()
    caller = _insert_caller(conn, name, department, role, now, key_id=key_id, key_sha256=key_sha256(key))
    return caller, key


def add_cert_caller(
    conn: Connection, name: str, department: str, role: str, cert: Path, now: datetime | None = None
) -> tuple[Caller, str]:
    """A new caller identified by the client certificate in ``cert``; returns it and the fingerprint."""
    _check(name, department, role)
    fingerprint = fingerprint_of_pem(cert)
    _taken(conn, name)
    holder = conn.execute(
        select(lookup_caller.c.name).where(lookup_caller.c.cert_sha256 == fingerprint)
    ).scalar()
    if holder is not None:
        raise CallerError(f"{cert}: this certificate is already registered for caller {holder!r}")
    return _insert_caller(conn, name, department, role, now, cert_sha256=fingerprint), fingerprint


def _insert_caller(
    conn: Connection, name: str, department: str, role: str, now: datetime | None, **credential: str
) -> Caller:
    """The caller's row with its credential (``key_id`` and ``key_sha256``, or ``cert_sha256``)."""
    caller_id = conn.execute(
        insert(lookup_caller)
        .values(
            name=name, department=department, role=role, created_at=now or datetime.now(UTC), **credential
        )
        .returning(lookup_caller.c.id)
    ).scalar_one()
    return Caller(int(caller_id), name, department, role)


def revoke(conn: Connection, name: str, now: datetime | None = None) -> bool:
    """Revoke the caller's credential; False when it was revoked already. Unknown names are an error."""
    row = conn.execute(
        select(lookup_caller.c.id, lookup_caller.c.revoked_at).where(lookup_caller.c.name == name)
    ).first()
    if row is None:
        raise CallerError(f"no caller named {name!r}")
    if row.revoked_at is not None:
        return False
    conn.execute(
        update(lookup_caller).where(lookup_caller.c.id == row.id).values(revoked_at=now or datetime.now(UTC))
    )
    return True


def callers(conn: Connection) -> Sequence[CallerRow]:
    rows = conn.execute(select(lookup_caller).order_by(lookup_caller.c.name)).all()
    return [
        CallerRow(
            r.name,
            r.department,
            r.role,
            "key" if r.key_id else "cert",
            r.key_id,
            r.cert_sha256,
            r.created_at,
            r.revoked_at,
        )
        for r in rows
    ]
