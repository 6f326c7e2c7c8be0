"""A throw-away certificate authority for TLS tests, built with cryptography's x509 API.

Written here rather than taken from trustme because the negative tests need certificates trustme does
not make on request: an expired client, a serverAuth-only certificate used as a client, a second CA.
Every certificate carries SKI and (leaves) AKI so that VERIFY_X509_STRICT accepts the good ones and
refuses the bad ones for the reason the test names, not for a missing extension.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVER_AUTH = ExtendedKeyUsageOID.SERVER_AUTH
CLIENT_AUTH = ExtendedKeyUsageOID.CLIENT_AUTH


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey, password: bytes | None) -> None:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    )
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    )
    path.chmod(0o600)


@dataclass(frozen=True)
class Issued:
    """A leaf on disk: ``cert`` (PEM), ``key`` (PKCS#8 PEM, encrypted when a password was given)."""

    cert: Path
    key: Path
    certificate: x509.Certificate


class Authority:
    """A root CA (P-256) that writes ``<name>-ca.pem`` into ``directory`` and issues leaves next to it."""

    def __init__(self, directory: Path, name: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.name = name
        self._key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} 测试根 CA")])
        now = _now()
        self._ski = x509.SubjectKeyIdentifier.from_public_key(self._key.public_key())
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(self._ski, critical=False)
            .sign(self._key, hashes.SHA256())
        )
        self.cert = directory / f"{name}-ca.pem"
        self.cert.write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))

    def issue(
        self,
        file_stem: str,
        common_name: str,
        *,
        purposes: tuple[x509.ObjectIdentifier, ...],
        dns: tuple[str, ...] = (),
        ips: tuple[str, ...] = (),
        valid_from: dt.datetime | None = None,
        valid_until: dt.datetime | None = None,
        password: bytes | None = None,
    ) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(valid_from or now - dt.timedelta(hours=1))
            .not_valid_after(valid_until or now + dt.timedelta(days=7))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage(list(purposes)), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(self._ski), critical=False
            )
        )
        names: list[x509.GeneralName] = [x509.DNSName(name) for name in dns]
        names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        certificate = builder.sign(self._key, hashes.SHA256())
        cert_path = self.directory / f"{file_stem}.pem"
        key_path = self.directory / f"{file_stem}.key"
        cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        _write_key(key_path, key, password)
        return Issued(cert_path, key_path, certificate)

    def server(self, file_stem: str = "server") -> Issued:
        """The hub's certificate: SAN localhost and 127.0.0.1, serverAuth only."""
        return self.issue(
            file_stem, "localhost", purposes=(SERVER_AUTH,), dns=("localhost",), ips=("127.0.0.1",)
        )

    def client(self, file_stem: str, sender: str, **kwargs: object) -> Issued:
        """A sender's certificate: CN = the sender id, clientAuth only."""
        return self.issue(file_stem, sender, purposes=(CLIENT_AUTH,), **kwargs)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Pki:
    """The hub's CA with its server and client leaves, plus the certificates that must be refused."""

    ca: Authority
    server: Issued
    client: Issued  # CN = the sender, clientAuth, valid
    encrypted_client: Issued  # the same identity, key encrypted with ``password``
    expired: Issued  # CN = the sender, expired yesterday
    wrong_purpose: Issued  # CN = the sender, serverAuth only
    foreign: Issued  # CN = the sender, clientAuth, from another CA
    other_sender: Issued  # valid, from the hub's CA, but for another sender
    other_ca: Authority
    password: bytes


def build(directory: Path, sender: str, other_sender: str) -> Pki:
    ca = Authority(directory, "hub")
    other_ca = Authority(directory, "other")
    now = _now()
    password = b"tls-key-passphrase"
    return Pki(
        ca=ca,
        server=ca.server(),
        client=ca.client("client", sender),
        encrypted_client=ca.client("client-encrypted", sender, password=password),
        expired=ca.client(
            "expired", sender, valid_from=now - dt.timedelta(days=10), valid_until=now - dt.timedelta(days=1)
        ),
        wrong_purpose=ca.issue("wrong-purpose", sender, purposes=(SERVER_AUTH,)),
        foreign=other_ca.client("foreign", sender),
        other_sender=ca.client("other-sender", other_sender),
        other_ca=other_ca,
        password=password,
    )
