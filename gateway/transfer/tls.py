"""Mutual TLS on the provincial link: both ends' SSLContexts, and which sender a client certificate names.

Both contexts are built here, by hand, for three reasons: requests cannot load an encrypted client key
(there is no password argument), ``Session.verify`` is silently replaced by REQUESTS_CA_BUNDLE
(docs/protocol.md §12.4), and the policy — TLS 1.3 only, strict X.509 checks, a pinned CA — should be written
once for the hub and the gateway alike.

**Identity rule.** A client certificate names its sender by its subject common name (CN): exactly one
CN, equal to the manifest's ``sender``. The CN is what the CAs licensed for government use let an
applicant choose on an organisation or device certificate; a custom SAN URI needs a CA profile that
they do not generally offer.
"""

from __future__ import annotations

import logging
import os
import re
import ssl
import stat
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID
from requests.adapters import HTTPAdapter

from gateway.transfer.errors import TransferError

log = logging.getLogger(__name__)

GATEWAY_TLS_PASSPHRASE_ENV = "GATEWAY_TLS_KEY_PASSPHRASE"
HUB_TLS_PASSPHRASE_ENV = "HUB_TLS_KEY_PASSPHRASE"
MINIMUM_VERSION = ssl.TLSVersion.TLSv1_3

_ENCRYPTED_MARKERS = (b"-----BEGIN ENCRYPTED PRIVATE KEY-----", b"Proc-Type: 4,ENCRYPTED")

# OpenSSL reason names (stable across versions) → what an engineer should check. The first match wins,
# so the specific alerts come before the generic verification failure.
_REASONS = (
    ("CERTIFICATE_EXPIRED", "对方认为证书已过期（或尚未生效），请更换证书并检查两端的系统时间"),
    ("UNKNOWN_CA", "对方不信任签发本方证书的 CA：证书须由平台指定的 CA 签发"),
    ("UNSUPPORTED_CERTIFICATE", "证书用途不符：客户端证书须含扩展用途 clientAuth，平台证书须含 serverAuth"),
    ("CERTIFICATE_REQUIRED", "平台要求客户端证书，但请求没有携带（检查 cert 与私钥配置）"),
    ("BAD_CERTIFICATE", "对方拒绝了本方证书（格式或扩展不合要求）"),
    ("PROTOCOL_VERSION", "TLS 版本不被接受：两端都须支持 TLS 1.3"),
    ("WRONG_VERSION_NUMBER", "对方不是 TLS 服务（地址应为 http:// 还是 https://？）"),
    ("CERTIFICATE_VERIFY_FAILED", "平台证书验证失败：检查所配置的平台 CA 文件和访问地址中的主机名"),
    ("EOF", "对方在 TLS 通道中途断开（可能拒绝了客户端证书），请查看平台日志"),
)


def explain(exc: BaseException) -> str:
    """A Chinese explanation of a TLS failure, followed by OpenSSL's own words for the log."""
    text = str(exc)
    hint = next((hint for reason, hint in _REASONS if reason in text), "TLS 握手或加密通道失败")
    detail = re.search(r"\[SSL: [A-Z0-9_]+\][^'\"(]*", text)
    return f"{hint}（{detail.group(0).strip() if detail else type(exc).__name__}）"


def _config_error(message: str, code: str = "tls_config") -> TransferError:
    return TransferError(message, code=code)


def _passphrase(key_path: Path, passphrase_env: str) -> str | None:
    """The key's passphrase if it is encrypted; a clear-text key must be readable by its owner only."""
    try:
        pem = key_path.read_bytes()
        mode = stat.S_IMODE(key_path.stat().st_mode)
    except OSError as exc:
        raise _config_error(f"无法读取 TLS 私钥文件 {key_path}") from exc
    if any(marker in pem for marker in _ENCRYPTED_MARKERS):
        passphrase = os.environ.get(passphrase_env)
        if not passphrase:
            raise _config_error(
                f"TLS 私钥 {key_path.name} 已加密，请设置环境变量 {passphrase_env}", "passphrase_required"
            )
        return passphrase
    if os.name == "posix" and mode & 0o077:
        raise _config_error(
            f"未加密的 TLS 私钥 {key_path} 权限过宽（{oct(mode)}），须为 0600", "key_file_mode"
        )
    return None


def _load_chain(context: ssl.SSLContext, cert: Path, key: Path | None, passphrase_env: str) -> None:
    passphrase = _passphrase(key or cert, passphrase_env)

    def password() -> str:
        # A callable, so that OpenSSL never falls back to prompting on a terminal (which would hang a
        # worker) when a key turns out to be encrypted in a form the markers above do not recognise.
        return passphrase or ""

    try:
        context.load_cert_chain(cert, key, password=password)
    except (ssl.SSLError, OSError) as exc:
        raise _config_error(
            f"无法加载证书 {cert.name} 与私钥：文件缺失或损坏、口令错误，或证书与私钥不匹配"
        ) from exc


def _load_trust(context: ssl.SSLContext, ca: Path) -> None:
    try:
        if ca.is_dir():
            context.load_verify_locations(capath=ca)
        else:
            context.load_verify_locations(cafile=ca)
    except (ssl.SSLError, OSError) as exc:
        raise _config_error(f"无法读取 CA 证书文件 {ca}") from exc


def client_context(
    *,
    ca: Path | None,
    cert: Path | None = None,
    key: Path | None = None,
    passphrase_env: str = GATEWAY_TLS_PASSPHRASE_ENV,
) -> ssl.SSLContext:
    """The gateway's context: the hub's CA only (``ca``), or the system trust store when ``ca`` is None.

    ``cert``/``key`` is the client certificate (the key may be inside ``cert``); an encrypted key is
    opened with the passphrase in ``passphrase_env``.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED and hostname checking by default
    context.minimum_version = MINIMUM_VERSION
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    if ca is None:
        context.load_default_certs(ssl.Purpose.SERVER_AUTH)
    else:
        _load_trust(context, ca)
    if cert is not None:
        _load_chain(context, cert, key, passphrase_env)
    return context


# Progress, or the peer going away: nothing was refused, so there is no alert to deliver.
_NOT_REFUSALS = (
    ssl.SSLWantReadError,
    ssl.SSLWantWriteError,
    ssl.SSLEOFError,
    ssl.SSLSyscallError,
    ssl.SSLZeroReturnError,
)


class _RefusingSSLObject(ssl.SSLObject):
    """Server side: a refused handshake still sends its TLS alert, and the hub's log says why.

    asyncio and uvloop drop the connection the moment ``do_handshake`` raises, before writing the alert
    OpenSSL has queued, so the client saw only "EOF occurred in violation of protocol" whatever was
    wrong. On a refusal this object first reports "want read": every memory-BIO TLS driver answers that
    by flushing the outgoing buffer (the alert) and waiting for the peer, and the next call raises the
    real error, so the connection is closed with the client told "certificate expired", "unknown CA",
    "unsupported certificate" or "certificate required".
    """

    _refusal: ssl.SSLError | None = None

    def do_handshake(self) -> None:
        if self._refusal is not None:
            raise self._refusal
        try:
            super().do_handshake()
        except _NOT_REFUSALS:
            raise
        except ssl.SSLError as exc:
            self._refusal = exc
            reason = getattr(exc, "verify_message", None) or exc.reason or str(exc)
            log.warning("TLS handshake refused: %s", reason)
            raise ssl.SSLWantReadError("TLS alert pending") from exc


def server_context(
    *, cert: Path, key: Path | None, client_ca: Path, passphrase_env: str = HUB_TLS_PASSPHRASE_ENV
) -> ssl.SSLContext:
    """The hub's context: TLS 1.3, and a client certificate from ``client_ca`` is required.

    OpenSSL checks on the server side that the client's leaf allows clientAuth (purpose "sslclient"),
    is within its validity dates and chains to ``client_ca``; VERIFY_X509_STRICT adds RFC 5280 checks
    (AKI, key usage consistency) that Python 3.13 makes the default.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = MINIMUM_VERSION
    context.verify_mode = ssl.CERT_REQUIRED
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    _load_trust(context, client_ca)
    _load_chain(context, cert, key, passphrase_env)
    context.sslobject_class = _RefusingSSLObject
    return context


def certificate_identity(pem: str | bytes) -> str | None:
    """The sender a (verified) client certificate names: its only subject CN, or None without one."""
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    certificate = x509.load_pem_x509_certificate(data)
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(names) != 1:
        return None
    value = names[0].value
    return value if isinstance(value, str) else None


class PinnedTLSAdapter(HTTPAdapter):
    """An HTTPS adapter whose trust and client certificate come only from one SSLContext.

    requests would otherwise load ``verify`` (or its own CA bundle) and ``cert`` into whatever context
    the pool uses, adding public CAs to a pinned one; both hooks are therefore neutralised here, which
    is the override requests documents for custom contexts (``build_connection_pool_key_attributes``).
    """

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context
        super().__init__()

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **kwargs: Any) -> None:
        super().init_poolmanager(connections, maxsize, block, ssl_context=self._context, **kwargs)

    def build_connection_pool_key_attributes(
        self, request: Any, verify: Any, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        host_params, _ = super().build_connection_pool_key_attributes(request, verify, cert)
        return host_params, {"ssl_context": self._context}

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        # The pool must not load a CA bundle or a certificate file into the shared context.
        conn.cert_reqs = "CERT_REQUIRED"
        conn.ca_certs = conn.ca_cert_dir = None
        conn.cert_file = conn.key_file = None
