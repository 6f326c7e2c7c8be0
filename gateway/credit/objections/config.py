"""config/objections.yaml: how many working days the source has to answer an objection, per channel.

The number is configuration, not code, because the rules differ by place and none binds Xinzhou with a
figure: Guangzhou gives the provider 10 working days, the credit-reporting regulation 20 days, and the
Shanxi social credit regulation provides for objections without a day limit that could be found
(docs/objections.md). A file that does not say clearly what it means is refused with the file, the key and
the reason named, never read with a guessed default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

FILE_NAME = "objections.yaml"
CHANNELS = ("department", "credit_platform")
"""Who may raise an objection: a department (raised_by is its id), or the credit platform (its source id)."""
DEFAULT_REPLY_WORKING_DAYS = 10
MAX_REPLY_WORKING_DAYS = 250  # about a working year: anything longer is a typing mistake, not a rule
_TOP_KEYS = {"version", "default_reply_working_days", "channels"}
_CHANNEL_KEYS = {"reply_working_days"}


class ObjectionConfigError(ValueError):
    """objections.yaml cannot be read or does not say what it must; the message names file and key."""


@dataclass(frozen=True)
class Channel:
    name: str
    reply_working_days: int


@dataclass(frozen=True)
class ObjectionConfig:
    channels: Mapping[str, Channel]
    source: str  # the file it came from, for messages

    def channel(self, name: str) -> Channel:
        try:
            return self.channels[name]
        except KeyError:
            raise ObjectionConfigError(
                f"异议渠道只能是 {' 或 '.join(CHANNELS)}，不是 {name!r} (unknown channel)"
            ) from None


def _days(value: object, where: str) -> int:
    # bool is an int in Python: "reply_working_days: yes" must not become one day.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ObjectionConfigError(f"{where}: 须为整数（工作日数），不是 {value!r}")
    if not 1 <= value <= MAX_REPLY_WORKING_DAYS:
        raise ObjectionConfigError(f"{where}: 须在 1 到 {MAX_REPLY_WORKING_DAYS} 个工作日之间，不是 {value}")
    return value


def parse_config(data: object, source: str) -> ObjectionConfig:
    """Check the parsed YAML and build the configuration; ObjectionConfigError names what is wrong."""
    if not isinstance(data, dict):
        raise ObjectionConfigError(f"{source}: 内容应为映射（version、default_reply_working_days、channels）")
    unknown = sorted(set(map(str, data)) - _TOP_KEYS)
    if unknown:
        raise ObjectionConfigError(
            f"{source}: 不认识的键 {', '.join(unknown)}（可用：{', '.join(sorted(_TOP_KEYS))}）"
        )
    if data.get("version", 1) != 1:
        raise ObjectionConfigError(f"{source}: version 须为 1，不是 {data.get('version')!r}")
    default = _days(
        data.get("default_reply_working_days", DEFAULT_REPLY_WORKING_DAYS),
        f"{source}: default_reply_working_days",
    )
    given = data.get("channels") or {}
    if not isinstance(given, dict):
        raise ObjectionConfigError(f"{source}: channels 须为映射（渠道 → reply_working_days）")
    strange = sorted(set(map(str, given)) - set(CHANNELS))
    if strange:
        raise ObjectionConfigError(
            f"{source}: channels 中不认识的渠道 {', '.join(strange)}（只有 {', '.join(CHANNELS)}）"
        )
    channels = {}
    for name in CHANNELS:
        entry = given.get(name) or {}
        where = f"{source}: channels.{name}"
        if not isinstance(entry, dict):
            raise ObjectionConfigError(f"{where}: 须为映射（reply_working_days）")
        extra = sorted(set(map(str, entry)) - _CHANNEL_KEYS)
        if extra:
            raise ObjectionConfigError(
                f"{where}: 不认识的键 {', '.join(extra)}（可用：{', '.join(sorted(_CHANNEL_KEYS))}）"
            )
        days = _days(entry.get("reply_working_days", default), f"{where}.reply_working_days")
        channels[name] = Channel(name, days)
    return ObjectionConfig(channels, source)


def load_config(credit_dir: Path) -> ObjectionConfig:
    """The objections configuration of a credit folder (Settings.credit_dir)."""
    path = credit_dir / FILE_NAME
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ObjectionConfigError(
            f"{path}: 找不到异议配置；GATEWAY_CREDIT_DIR 指向的文件夹须含 {FILE_NAME}（可复制网关自带的一份）"
        ) from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ObjectionConfigError(f"{path}: 无法读取异议配置（{exc}）") from exc
    return parse_config(data, str(path))


__all__ = [
    "CHANNELS",
    "DEFAULT_REPLY_WORKING_DAYS",
    "FILE_NAME",
    "Channel",
    "ObjectionConfig",
    "ObjectionConfigError",
    "load_config",
    "parse_config",
]
