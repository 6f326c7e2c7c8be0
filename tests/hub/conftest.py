"""Fixtures for the reference hub: keys, a batch XML builder, a hub on a loopback port, crafted pushes."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import pytest
import requests

from gateway.schema import load_record_types
from gateway.transfer import Manifest, Sealed, Sender, gateway_store, generate_keys, sign_manifest
from gateway.transfer.protocol import BATCHES_PATH, IDEMPOTENCY_HEADER, MANIFEST_HEADER, SIGNATURE_HEADER
from hub.app import create_app
from hub.server import ServerThread
from hub.settings import Settings
from hub.validate import BatchValidator

SENDER = "city-001"
HUB = "shanxi-hub"
AUTHORITY = "11140900MB0000000X"
COMPANY = "91140900MA0K000000"

_PENALTY = {
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
_LICENSE = {
    "XK_XDR_MC": "忻州市某某餐饮店",
    "XK_XDR_LB": "个体工商户",
    "XK_XDR_SHXYM": COMPANY,
    "XK_FRDB": "李四",
    "XK_XKWS": "食品经营许可证",
    "XK_XKLB": "普通",
    "XK_NR": "预包装食品销售",
    "XK_JDRQ": "2024-01-02",
    "XK_YXQZ": "2024-01-02",
    "XK_YXQZI": "2029-01-01",
    "XK_XKJG": "忻州市行政审批服务管理局",
    "XK_XKJGDM": AUTHORITY,
    "XK_ZT": "1",
    "XK_LYDW": "忻州市行政审批服务管理局",
    "XK_LYDWDM": AUTHORITY,
}


@dataclasses.dataclass(frozen=True)
class Rec:
    """One record to render: operation, index-derived document number, optional field overrides."""

    op: str = "i"
    overrides: tuple[tuple[str, str], ...] = ()


BatchWriter = Callable[..., Path]


@pytest.fixture(scope="session")
def batch_writer(schemas_dir: Path) -> BatchWriter:
    """Write a schemas/batch.xsd document; field order comes from the XSD so it stays valid as it evolves."""
    record_types = load_record_types(schemas_dir)

    def write(
        path: Path,
        *,
        batch_id: str,
        seq: int,
        records: Sequence[Rec] = (Rec(),),
        record_type: str = "admin_penalty",
        sender: str = SENDER,
        count: int | None = None,
    ) -> Path:
        rt = record_types[record_type]
        base = _PENALTY if record_type == "admin_penalty" else _LICENSE
        number_field = "CF_WSH" if record_type == "admin_penalty" else "XK_WSH"
        lines = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            f'<Batch xmlns="urn:cn:xinzhou:gateway:1" batchId="{batch_id}" seq="{seq}" sender="{sender}" '
            f'recordType="{record_type}" createdAt="2026-11-28T00:00:00Z" '
            f'count="{len(records) if count is None else count}" schemaVersion="1">',
        ]
        for index, rec in enumerate(records):
            number = f"忻市监罚〔2024〕{index + 1}号"
            values = {**base, number_field: number, **dict(rec.overrides)}
            key = f"{AUTHORITY}|{number}"
            fields = "".join(f"<{c}>{escape(values[c])}</{c}>" for c in rt.codes if c in values)
            lines.append(
                f'<Record op="{rec.op}" id="r{index}" key={quoteattr(key)} version="1" entity="{COMPANY}">'
                f"<{rt.element}>{fields}</{rt.element}></Record>"
            )
        lines.append("</Batch>")
        path.write_text("\n".join(lines), "utf-8")
        return path

    return write


@pytest.fixture(scope="session")
def validator(schemas_dir: Path) -> BatchValidator:
    return BatchValidator.from_dir(schemas_dir)


@pytest.fixture
def keys_root(tmp_path: Path) -> Path:
    generate_keys(tmp_path / "keys", SENDER, HUB, insecure_plaintext=True)
    return tmp_path / "keys"


@pytest.fixture
def settings(tmp_path: Path, keys_root: Path, schemas_dir: Path) -> Settings:
    return Settings(home=tmp_path / "hub", keys=keys_root / "hub", schemas=schemas_dir)


@pytest.fixture
def hub_url(settings: Settings, validator: BatchValidator) -> Iterator[str]:
    with ServerThread(create_app(settings, validator=validator)) as url:
        yield url


@pytest.fixture
def sender(keys_root: Path) -> Sender:
    return Sender.load(keys_root, SENDER)


@pytest.fixture
def seal_batch(
    sender: Sender, batch_writer: BatchWriter, tmp_path: Path
) -> Callable[..., tuple[Path, Sealed]]:
    """Render and seal a batch; returns (envelope path, Sealed)."""

    def seal(
        batch_id: str,
        seq: int,
        *,
        using: Sender | None = None,
        created_at: int | None = None,
        **kwargs: object,
    ) -> tuple[Path, Sealed]:
        xml = batch_writer(tmp_path / f"{batch_id}.xml", batch_id=batch_id, seq=seq, **kwargs)
        envelope = tmp_path / f"{batch_id}.gwenv"
        sealed = (using or sender).seal(xml, envelope, batch_id=batch_id, seq=seq, created_at=created_at)
        return envelope, sealed

    return seal


@pytest.fixture
def resign(keys_root: Path, sender: Sender) -> Callable[..., Sealed]:
    """Sign a manifest for crafted envelope bytes with the sender's real key (an authentic but bad batch)."""

    def sign(envelope: bytes, base: Sealed, **changes: object) -> Sealed:
        manifest = Manifest.decode(base.manifest)
        fields = {"envelope_sha256": hashlib.sha256(envelope).hexdigest(), "size": len(envelope), **changes}
        manifest = dataclasses.replace(manifest, **fields)  # type: ignore[arg-type]
        entry = sender.signing_entry(int(time.time()))
        raw, signature = sign_manifest(manifest, gateway_store(keys_root).load_private(entry), entry.kty)
        return Sealed(raw, signature, manifest.envelope_sha256, manifest.size)

    return sign


@pytest.fixture
def post_raw(hub_url: str) -> Callable[..., requests.Response]:
    """POST exactly the given bytes and headers, bypassing HubClient's own checks."""

    def post(
        body: bytes, sealed: Sealed, *, batch_id: str | None = None, **headers: str
    ) -> requests.Response:
        session = requests.Session()
        session.trust_env = False
        m = Manifest.decode(sealed.manifest)
        base = {
            IDEMPOTENCY_HEADER: batch_id or m.batch_id,
            MANIFEST_HEADER: base64.b64encode(sealed.manifest).decode(),
            SIGNATURE_HEADER: base64.b64encode(sealed.signature).decode(),
        }
        with session:
            return session.post(hub_url + BATCHES_PATH, data=body, headers={**base, **headers}, timeout=30)

    return post
