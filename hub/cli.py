"""``python -m hub``: run the reference provincial hub, or report what it holds."""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import sys
from pathlib import Path
from typing import Annotated

import typer

from gateway.transfer import TransferError
from gateway.transfer.suites import parse_suite_list
from hub.launch import announcement
from hub.report import build_report, print_report
from hub.settings import (
    BODY_MIN_RATE_ENV,
    BODY_TIMEOUT_ENV,
    DB_FILE,
    DEFAULT_BODY_MIN_RATE,
    DEFAULT_BODY_TIMEOUT,
    DEFAULT_HEADER_TIMEOUT,
    DEFAULT_MAX_BODY,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_CONNECTIONS_PER_CLIENT,
    DEFAULT_MAX_HEADER_SIZE,
    DEFAULT_MAX_SKEW,
    DEFAULT_MAX_UNAUTHENTICATED_BODY,
    DEFAULT_SUITES,
    DOCS_ENV,
    HEADER_TIMEOUT_ENV,
    MAX_BODY_ENV,
    MAX_CONNECTIONS_ENV,
    MAX_CONNECTIONS_PER_CLIENT_ENV,
    MAX_HEADER_SIZE_ENV,
    MAX_SKEW_ENV,
    MAX_UNAUTHENTICATED_BODY_ENV,
    SUITES_ENV,
    Limits,
    SettingError,
    Settings,
)

app = typer.Typer(
    help=(
        "省级平台参考实现（reference provincial hub）："
        "接收加密签名批次，验证、解密、校验、入库，返回签名回执。"
    ),
    no_args_is_help=True,
    add_completion=False,
)

Home = Annotated[Path, typer.Option(help="平台状态目录：hub.db、received/、tmp/")]

PLAIN_HTTP_WARNING = (
    "警告：平台以明文 HTTP 运行（--plain-http）：流量不加密，也不校验客户端证书与发送方是否一致。"
    "仅供本机演示和测试。"
)


def _is_loopback(host: str) -> bool:
    """True when every address ``host`` names is a loopback address (127.0.0.0/8, ::1)."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


def _transport_problem(
    host: str, tls_cert: Path | None, client_ca: Path | None, tls_key: Path | None, plain_http: bool
) -> str | None:
    """Why this combination of transport options is refused, or None when it is acceptable."""
    tls_given = tls_cert is not None or client_ca is not None or tls_key is not None
    if plain_http and tls_given:
        return "--plain-http 不能与 --tls-cert、--tls-key、--client-ca 同时使用"
    if plain_http:
        return None if _is_loopback(host) else f"--plain-http 只允许监听本机回环地址，而 --host 是 {host}"
    if tls_cert is None or client_ca is None:
        return (
            "平台必须以双向 TLS 运行：请给出 --tls-cert（及 --tls-key）与 --client-ca；"
            "仅在本机演示时可显式使用 --plain-http"
        )
    return None


@app.command()
def serve(
    home: Home = Path("var/hub"),
    keys: Annotated[
        Path, typer.Option(help="平台密钥目录（keyring.json 与 private/），由 generate_keys 生成")
    ] = Path("var/keys/hub"),
    schemas: Annotated[Path, typer.Option(help="XSD 目录（含 batch.xsd）")] = Path("schemas"),
    host: Annotated[str, typer.Option(help="监听地址")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(help="监听端口；0 表示由系统分配，实际端口打印在 'hub listening on' 行")
    ] = 8765,
    max_skew: Annotated[
        int, typer.Option(envvar=MAX_SKEW_ENV, help="清单时间与平台时间允许的最大偏差（秒）")
    ] = DEFAULT_MAX_SKEW,
    max_body: Annotated[
        int, typer.Option(envvar=MAX_BODY_ENV, help="单个信封的最大字节数")
    ] = DEFAULT_MAX_BODY,
    max_unauthenticated_body: Annotated[
        int,
        typer.Option(
            envvar=MAX_UNAUTHENTICATED_BODY_ENV,
            help="清单验证通过前最多读取的请求体字节数：被拒请求的请求体只读这么多（丢弃），随即答复并关闭连接",
        ),
    ] = DEFAULT_MAX_UNAUTHENTICATED_BODY,
    header_timeout: Annotated[
        float,
        typer.Option(
            envvar=HEADER_TIMEOUT_ENV, help="请求头（请求行与全部头字段）须在此秒数内收齐，否则关闭连接"
        ),
    ] = DEFAULT_HEADER_TIMEOUT,
    body_timeout: Annotated[
        float,
        typer.Option(
            envvar=BODY_TIMEOUT_ENV, help="读取请求体时等待下一段数据的最长秒数，超时答 408 并关闭连接"
        ),
    ] = DEFAULT_BODY_TIMEOUT,
    body_min_rate: Annotated[
        int,
        typer.Option(
            envvar=BODY_MIN_RATE_ENV,
            help="请求体的最低平均速率（字节/秒），在最初 --body-timeout 秒之后计；0 表示不限",
        ),
    ] = DEFAULT_BODY_MIN_RATE,
    max_header_size: Annotated[
        int, typer.Option(envvar=MAX_HEADER_SIZE_ENV, help="请求头的最大字节数，超过答 431 并关闭连接")
    ] = DEFAULT_MAX_HEADER_SIZE,
    max_connections: Annotated[
        int,
        typer.Option(
            envvar=MAX_CONNECTIONS_ENV,
            help="同时打开的连接总数上限（须低于进程的打开文件数上限，启动时自动调整）",
        ),
    ] = DEFAULT_MAX_CONNECTIONS,
    max_connections_per_client: Annotated[
        int,
        typer.Option(
            envvar=MAX_CONNECTIONS_PER_CLIENT_ENV,
            help="每个客户端地址同时打开的连接上限；满时关闭该地址最早的、仍在等待请求头的连接",
        ),
    ] = DEFAULT_MAX_CONNECTIONS_PER_CLIENT,
    docs: Annotated[
        bool,
        typer.Option(
            "--docs/--no-docs", envvar=DOCS_ENV, help="提供 /docs、/redoc 与 /openapi.json（默认关闭）"
        ),
    ] = False,
    log_level: Annotated[str, typer.Option(help="日志级别：debug、info、warning")] = "info",
    suites: Annotated[
        str, typer.Option(envvar=SUITES_ENV, help="接受的密码套件，逗号分隔：default、sm 或完整套件标识")
    ] = DEFAULT_SUITES,
    tls_cert: Annotated[
        Path | None,
        typer.Option(help="平台 TLS 证书（PEM，可随附中间证书）。须含 serverAuth 与访问用的主机名"),
    ] = None,
    tls_key: Annotated[
        Path | None,
        typer.Option(
            help="平台 TLS 私钥（PEM）。缺省时私钥在证书文件中; 已加密时口令取自 HUB_TLS_KEY_PASSPHRASE"
        ),
    ] = None,
    client_ca: Annotated[
        Path | None, typer.Option(help="签发网关客户端证书的 CA（PEM）。只接受它签发、含 clientAuth 的证书")
    ] = None,
    plain_http: Annotated[
        bool,
        typer.Option("--plain-http", help="不用 TLS: 仅限本机回环地址上的演示 (明文，不校验客户端身份)"),
    ] = False,
) -> None:
    """启动平台：POST /v1/batches、GET /v1/health、GET /v1/keys。"""
    problem = _transport_problem(host, tls_cert, client_ca, tls_key, plain_http)
    if problem is not None:
        typer.echo(f"无法启动平台：{problem}", err=True)
        raise typer.Exit(2)
    # Imported here so that `hub report` does not pay for FastAPI, uvicorn and the XSD compilation.
    from gateway.transfer.tls import server_context
    from hub.app import create_app
    from hub.server import bind, make_server, url_of

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        context = None
        if tls_cert is not None and client_ca is not None:
            context = server_context(cert=tls_cert, key=tls_key, client_ca=client_ca)
        settings = Settings(
            home=home,
            keys=keys,
            schemas=schemas,
            max_skew=max_skew,
            max_body=max_body,
            allowed_suites=parse_suite_list(suites),
            max_unauthenticated_body=max_unauthenticated_body,
            docs=docs,
        )
        limits = Limits(
            header_timeout=header_timeout,
            body_timeout=body_timeout,
            body_min_rate=body_min_rate,
            max_header_size=max_header_size,
            max_connections=max_connections,
            max_connections_per_client=max_connections_per_client,
        )
        application = create_app(settings)
    except (TransferError, SettingError) as exc:
        typer.echo(f"无法启动平台：{exc}", err=True)
        raise typer.Exit(2) from exc
    if context is None:
        typer.echo(PLAIN_HTTP_WARNING, err=True)
    sock = bind(host, port)
    typer.echo(announcement(url_of(sock, tls=context is not None)))
    make_server(application, tls=context, log_level=log_level, limits=limits).run(sockets=[sock])


@app.command()
def report(
    home: Home = Path("var/hub"),
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON（供脚本读取）")] = False,
) -> None:
    """平台数据概况：按发送方的批次数，按记录类型和操作（i/u/d）的记录数。"""
    result = build_report(home / DB_FILE)
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print_report(result)


@app.command("openapi")
def openapi_document() -> None:
    """输出平台 HTTP 接口的 OpenAPI 文档（JSON）：python -m hub openapi > docs/hub-openapi.json"""
    from hub.app import api
    from hub.openapi import text

    sys.stdout.buffer.write(text(api()).encode("utf-8"))
    sys.stdout.buffer.flush()


def main() -> None:
    app()
