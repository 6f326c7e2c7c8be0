"""``gateway keys``: make, rotate, hand over and inspect transfer keys.

Each command works on one party's key directory (``keyring.json`` + ``private/``): the gateway's
(``$GATEWAY_KEYS_DIR/gateway``) unless ``--keys-dir`` names another, such as the reference hub's. The
passphrase that encrypts private keys is read from a variable (GATEWAY_KEY_PASSPHRASE by default, see
``--passphrase-env``) or a file (``--passphrase-file``, or the variable's ``_FILE`` twin), never from the
command line, where it would show in the process list and the shell history. ``reencrypt`` rewrites the
party's private key files at the current protection (scrypt), and under a new passphrase if one is named.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

import typer
from rich.console import Console

from gateway.transfer import (
    GATEWAY_PASSPHRASE_ENV,
    SM2Options,
    TransferError,
    export_public,
    generate_keys,
    generate_own,
    import_public,
    resolve_suite_id,
    rotate_key,
)
from gateway.transfer.keyring import KeyEntry, Keyring, KeyUse
from gateway.transfer.keystore import PASSPHRASE_FILE_SUFFIX, KeyStore, read_passphrase_file
from gateway.transfer.keytypes import SM2SignParams
from gateway.transfer.provision import (
    GATEWAY_DIR,
    HUB_USES,
    SENDER_USES,
    NotReencrypted,
    Reencrypted,
    reencrypt_keys,
)
from gateway.transfer.sm import (
    CIPHERTEXT_LAYOUTS,
    SIGNATURE_ENCODINGS,
    SM2Error,
    ciphertext_layout,
    signature_encoding,
)
from gateway.transfer.suites import SUITES, parse_suite_list

if TYPE_CHECKING:
    from gateway.settings import Settings

app = typer.Typer(
    help="传输密钥：生成、轮换、导出公钥交给对方、导入对方公钥、列出（transfer keys）。",
    no_args_is_help=True,
    rich_markup_mode=None,
)
console = Console(soft_wrap=True)
HOUR = 3600
ROTATE_SIGN_DELAY_HOURS = 24

KeysDir = Annotated[
    Path | None,
    typer.Option(help="一方的密钥目录（keyring.json 与 private/）；默认 $GATEWAY_KEYS_DIR/gateway"),
]
PassphraseEnv = Annotated[str, typer.Option(help="存放私钥口令的环境变量名；变量名加 _FILE 时为口令文件路径")]
PassphraseFile = Annotated[Path | None, typer.Option(help="口令文件（首行为口令），优先于环境变量")]
Insecure = Annotated[
    bool,
    typer.Option("--insecure-plaintext", help="不加密保存私钥（仅供演示与测试；文件权限 0600）"),
]
ValidDays = Annotated[int, typer.Option(help="新密钥的有效期（天）")]
SuiteOption = Annotated[
    str,
    typer.Option(envvar="GATEWAY_SUITE", help="密码套件：default、sm 或完整套件标识；可逗号分隔多个"),
]
Sm2UserId = Annotated[str, typer.Option(help="SM2 用户标识（参与 Z_A 计算），须与对方约定")]
Sm2Signature = Annotated[str, typer.Option(help=f"SM2 签名编码：{'、'.join(SIGNATURE_ENCODINGS)}")]
Sm2Ciphertext = Annotated[str, typer.Option(help=f"SM2 密文格式：{'、'.join(CIPHERTEXT_LAYOUTS)}")]


def _settings() -> Settings:
    from gateway.settings import Settings  # only when a command runs: `--help` stays fast

    return Settings.from_env()


def _passphrase_from_file(passphrase_file: Path) -> bytes:
    """The first line of the file, as the keystore reads ``*_FILE`` (docs/protocol.md §6)."""
    try:
        passphrase = read_passphrase_file(passphrase_file)
    except (OSError, ValueError) as exc:
        _fail(f"无法读取口令文件 {passphrase_file}")
        raise typer.Exit(2) from exc
    if passphrase is None:
        _fail(f"口令文件 {passphrase_file} 的首行为空")
        raise typer.Exit(2)
    return passphrase


def _store(keys_dir: Path | None, passphrase_env: str, passphrase_file: Path | None) -> KeyStore:
    root = keys_dir if keys_dir is not None else _settings().keys_dir / GATEWAY_DIR
    passphrase = None if passphrase_file is None else _passphrase_from_file(passphrase_file)
    return KeyStore.open(root, passphrase_env, passphrase)


def _fail(message: str) -> None:
    typer.echo(message, err=True)


def _failed(action: str, exc: TransferError) -> typer.Exit:
    _fail(f"{action}失败：{exc}")
    return typer.Exit(2)


@functools.cache
def _zone() -> ZoneInfo:
    return ZoneInfo(_settings().timezone)


def _when(at: int) -> str:
    return datetime.fromtimestamp(at, _zone()).strftime("%Y-%m-%d %H:%M")


def _sm2(user_id: str, signature: str, ciphertext: str) -> SM2Options:
    try:
        options = SM2Options(user_id, signature_encoding(signature), ciphertext_layout(ciphertext))
        SM2SignParams(options.user_id, options.signature)  # checks the user id's form now, not at first use
    except (SM2Error, TransferError) as exc:
        _fail(str(exc))
        raise typer.Exit(2) from exc
    return options


def _print_entries(title: str, entries: list[KeyEntry] | tuple[KeyEntry, ...]) -> None:
    for entry in entries:
        window = f"{_when(entry.not_before)} → {_when(entry.not_after)}"
        console.print(f"{title} {entry.kid}  {entry.kty}/{entry.use}  {window}")


def _print_reencrypted(done: tuple[Reencrypted, ...], skipped: tuple[NotReencrypted, ...]) -> None:
    for item in done:
        console.print(f"已重新加密 {item.kid}  {item.before} → {item.after}")
    for failed in skipped:
        _fail(f"未能重新加密 {failed.kid}（{failed.code}）：请用 reencrypt 命令并给出能打开它的口令")


@app.command("generate")
def generate(
    suite: SuiteOption = "default",
    keys_dir: KeysDir = None,
    party: Annotated[str | None, typer.Option(help="密钥所有方；默认 GATEWAY_SENDER_ID")] = None,
    role: Annotated[str, typer.Option(help="sender（签名密钥）或 hub（加密与回执签名密钥）")] = "sender",
    local_hub: Annotated[
        str | None,
        typer.Option(help="同时在 $GATEWAY_KEYS_DIR/hub 生成本地参考平台的密钥（演示），值为平台标识"),
    ] = None,
    valid_days: ValidDays = 365,
    insecure_plaintext: Insecure = False,
    passphrase_env: PassphraseEnv = GATEWAY_PASSPHRASE_ENV,
    passphrase_file: PassphraseFile = None,
    sm2_user_id: Sm2UserId = SM2Options.user_id,
    sm2_signature: Sm2Signature = SM2Options.signature,
    sm2_ciphertext: Sm2Ciphertext = SM2Options.ciphertext,
) -> None:
    """生成本方密钥（已有的保留，只补缺少的套件）。对接真实平台时，再用 export-public 把公钥交给平台，
    用 import-public 导入平台公布的公钥。"""
    sm2 = _sm2(sm2_user_id, sm2_signature, sm2_ciphertext)
    try:
        suites = parse_suite_list(suite)
        if local_hub is not None:
            settings = _settings()
            passphrase = _store(keys_dir, passphrase_env, passphrase_file).passphrase()
            made = generate_keys(
                settings.keys_dir,
                party or settings.sender_id,
                local_hub,
                suites=suites,
                valid_days=valid_days,
                passphrase=passphrase,
                insecure_plaintext=insecure_plaintext,
                sm2=sm2,
            )
            console.print(
                f"{'已生成' if made else '已存在，未改动'}：{settings.keys_dir}（gateway/ 与 hub/）"
            )
            return
        if role not in ("sender", "hub"):
            _fail("--role 须为 sender 或 hub")
            raise typer.Exit(2)
        store = _store(keys_dir, passphrase_env, passphrase_file)
        uses: tuple[KeyUse, ...] = SENDER_USES if role == "sender" else HUB_USES
        made_entries = generate_own(
            store,
            party or _party(store),
            uses=uses,
            suites=suites,
            valid_days=valid_days,
            sm2=sm2,
            insecure_plaintext=insecure_plaintext,
        )
    except TransferError as exc:
        raise _failed("生成密钥", exc) from exc
    _print_entries("新密钥", made_entries)
    if not made_entries:
        console.print(f"{store.root} 中已有所需密钥，未改动")


def _party(store: KeyStore) -> str:
    if store.keyring_path.exists():
        return store.load_keyring().party
    return _settings().sender_id


@app.command("rotate")
def rotate(
    suite: SuiteOption = "default",
    use: Annotated[str, typer.Option(help="sign（签名密钥）或 encrypt（加密密钥，平台一方）")] = "sign",
    overlap_days: Annotated[int, typer.Option(help="旧密钥在新密钥生效后继续有效的天数")] = 7,
    activate_in_hours: Annotated[
        int | None,
        typer.Option(
            help=f"新密钥几小时后生效；默认签名密钥 {ROTATE_SIGN_DELAY_HOURS} 小时（供对方导入），加密密钥 0"
        ),
    ] = None,
    valid_days: ValidDays = 365,
    keys_dir: KeysDir = None,
    insecure_plaintext: Insecure = False,
    passphrase_env: PassphraseEnv = GATEWAY_PASSPHRASE_ENV,
    passphrase_file: PassphraseFile = None,
) -> None:
    """为本方生成新密钥对；旧密钥保留到新密钥生效后再过 --overlap-days 天。

    之后用 export-public 把公钥交给对方。"""
    if use not in ("sign", "encrypt"):
        _fail("--use 须为 sign 或 encrypt")
        raise typer.Exit(2)
    hours = (
        activate_in_hours
        if activate_in_hours is not None
        else (ROTATE_SIGN_DELAY_HOURS if use == "sign" else 0)
    )
    try:
        chosen = SUITES[resolve_suite_id(suite)]
        result = rotate_key(
            _store(keys_dir, passphrase_env, passphrase_file),
            chosen.sign_kty if use == "sign" else chosen.encrypt_kty,
            overlap_days=overlap_days,
            activate_in_seconds=hours * HOUR,
            valid_days=valid_days,
            insecure_plaintext=insecure_plaintext,
        )
    except TransferError as exc:
        raise _failed("轮换密钥", exc) from exc
    _print_entries("新密钥", [result.new])
    _print_entries("旧密钥截止", result.retired)
    _print_reencrypted(result.reencrypted, result.not_reencrypted)
    console.print("请用 export-public 导出公钥交给对方导入（签名密钥须在新密钥生效前导入）")


@app.command("reencrypt")
def reencrypt(
    keys_dir: KeysDir = None,
    passphrase_env: PassphraseEnv = GATEWAY_PASSPHRASE_ENV,
    passphrase_file: PassphraseFile = None,
    new_passphrase_env: Annotated[
        str | None,
        typer.Option(help="换口令：新口令所在的环境变量名（变量名加 _FILE 时为口令文件路径）"),
    ] = None,
    new_passphrase_file: Annotated[Path | None, typer.Option(help="换口令：新口令文件（首行为口令）")] = None,
) -> None:
    """重新加密本方全部私钥文件：旧版本写的（PBKDF2）、强度不足的或明文的，改用当前的 scrypt 保护；

    给出新口令时，所有私钥改用新口令加密（中断后可用同样的两个口令再次运行）。之后请更新
    Airflow Connection 或环境变量中的口令。"""
    store = _store(keys_dir, passphrase_env, passphrase_file)
    new_passphrase: bytes | None = None
    if new_passphrase_file is not None:
        new_passphrase = _passphrase_from_file(new_passphrase_file)
    elif new_passphrase_env is not None:
        new_passphrase = KeyStore.open(store.root, new_passphrase_env).passphrase()
        if new_passphrase is None:
            _fail(f"未设置新口令：{new_passphrase_env} 或 {new_passphrase_env}{PASSPHRASE_FILE_SUFFIX}")
            raise typer.Exit(2)
    try:
        done, skipped = reencrypt_keys(store, new_passphrase=new_passphrase)
    except TransferError as exc:
        raise _failed("重新加密私钥", exc) from exc
    _print_reencrypted(done, skipped)
    if not done:
        console.print(f"{store.root} 中的私钥均已是当前的保护方式，未改动")


@app.command("export-public")
def export_public_keys(
    out: Annotated[Path | None, typer.Option(help="写入此文件；默认输出到标准输出")] = None,
    keys_dir: KeysDir = None,
) -> None:
    """导出本方全部公钥条目（含即将退役的），交给对方用 import-public 导入。"""
    try:
        public = export_public(_store(keys_dir, GATEWAY_PASSPHRASE_ENV, None))
    except TransferError as exc:
        raise _failed("导出公钥", exc) from exc
    if out is None:
        sys.stdout.write(json.dumps(public.to_json(), indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    else:
        public.save(out)
        console.print(f"已导出 {len(public.entries)} 个公钥到 {out}")


@app.command("import-public")
def import_public_keys(
    file: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, help="对方导出的公钥文件，或平台 GET /v1/keys 的应答"),
    ],
    keys_dir: KeysDir = None,
) -> None:
    """导入对方公布的公钥：新 kid 加入，已知 kid 只更新有效期。"""
    try:
        result = import_public(_store(keys_dir, GATEWAY_PASSPHRASE_ENV, None), Keyring.load(file))
    except TransferError as exc:
        raise _failed("导入公钥", exc) from exc
    _print_entries(f"新增（{result.peer}）", result.added)
    _print_entries(f"更新有效期（{result.peer}）", result.updated)
    if not (result.added or result.updated):
        console.print(f"{result.peer} 的公钥均已存在，未改动")


def _status(keyring: Keyring, entry: KeyEntry, now: int) -> str:
    if now > entry.not_after:
        return "expired"
    if now < entry.not_before:
        return "pending"
    try:
        current = keyring.current(owner=entry.owner, use=entry.use, at=now, kty=entry.kty)
    except TransferError:
        return "valid"
    return "current" if current.kid == entry.kid else "retiring"


def _protection(store: KeyStore, entry: KeyEntry) -> tuple[str, bool]:
    """How the private key file is protected, and whether ``reencrypt`` would rewrite it."""
    try:
        return store.protection(entry).describe(), store.needs_reencrypt(entry)
    except TransferError as exc:
        return exc.code, False


def _private_mark(has: bool, prot: tuple[str, bool] | None) -> str:
    if not has or prot is None:
        return "MISSING"
    if prot[0] == "plaintext":
        return "plain"
    return "OLD" if prot[1] else "yes"


@app.command("list")
def list_keys(
    keys_dir: KeysDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON（供脚本读取）")] = False,
) -> None:
    """列出密钥环：所有方、类型、用途、有效期、状态。

    状态：current 新数据使用的密钥；retiring 重叠期内仍有效；pending 尚未生效；expired 已过期。
    private 列：yes 私钥文件在且为当前保护方式；OLD 旧格式或强度不足（请运行 reencrypt）；
    plain 未加密（演示）；MISSING 缺失。"""
    store = _store(keys_dir, GATEWAY_PASSPHRASE_ENV, None)
    try:
        keyring = store.load_keyring()
    except TransferError as exc:
        raise _failed("读取密钥环", exc) from exc
    now = int(time.time())
    statuses = [_status(keyring, entry, now) for entry in keyring.entries]
    # Own keys need their private key file here; a peer's never have one.
    private = [store.has_private(e.kid) if e.owner == keyring.party else None for e in keyring.entries]
    protection = [
        _protection(store, e) if has else None for e, has in zip(keyring.entries, private, strict=True)
    ]
    if as_json:
        rows = [
            {
                **entry.to_json(),
                "status": status,
                "private_key": has,
                "protection": None if prot is None else prot[0],
                "reencrypt": None if prot is None else prot[1],
            }
            for entry, status, has, prot in zip(keyring.entries, statuses, private, protection, strict=True)
        ]
        sys.stdout.write(
            json.dumps({"party": keyring.party, "keys": rows}, ensure_ascii=False, indent=2) + "\n"
        )
        return
    # Plain aligned lines rather than a table: kids stay whole (to copy) whatever the terminal width.
    console.print(f"{store.keyring_path}（party {keyring.party}）")
    console.print(f"{'kid':<24} {'owner':<16} {'kty':<9} {'use':<8} {'status':<9} {'private':<8} window")
    for entry, status, has, prot in zip(keyring.entries, statuses, private, protection, strict=True):
        mark = "" if has is None else _private_mark(has, prot)
        window = f"{_when(entry.not_before)} → {_when(entry.not_after)}"
        console.print(
            f"{entry.kid:<24} {entry.owner:<16} {entry.kty:<9} {entry.use:<8} {status:<9} {mark:<8} {window}"
        )
