"""``python -m hub``: run the reference provincial hub, or report what it holds."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer

from gateway.transfer import TransferError
from hub.report import build_report, print_report
from hub.settings import DB_FILE, DEFAULT_MAX_BODY, DEFAULT_MAX_SKEW, Settings

app = typer.Typer(
    help=(
        "省级平台参考实现（reference provincial hub）："
        "接收加密签名批次，验证、解密、校验、入库，返回签名回执。"
    ),
    no_args_is_help=True,
    add_completion=False,
)

Home = Annotated[Path, typer.Option(help="平台状态目录：hub.db、received/、tmp/")]


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
    max_skew: Annotated[int, typer.Option(help="清单时间与平台时间允许的最大偏差（秒）")] = DEFAULT_MAX_SKEW,
    max_body: Annotated[int, typer.Option(help="单个信封的最大字节数")] = DEFAULT_MAX_BODY,
    log_level: Annotated[str, typer.Option(help="日志级别：debug、info、warning")] = "info",
) -> None:
    """启动平台：POST /v1/batches、GET /v1/health、GET /v1/keys。"""
    # Imported here so that `hub report` does not pay for FastAPI, uvicorn and the XSD compilation.
    from hub.app import create_app
    from hub.server import bind, make_server, url_of

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings(home=home, keys=keys, schemas=schemas, max_skew=max_skew, max_body=max_body)
    try:
        application = create_app(settings)
    except TransferError as exc:
        typer.echo(f"无法启动平台：{exc}", err=True)
        raise typer.Exit(2) from exc
    sock = bind(host, port)
    typer.echo(f"hub listening on {url_of(sock)}")
    make_server(application, log_level=log_level).run(sockets=[sock])


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


def main() -> None:
    app()
