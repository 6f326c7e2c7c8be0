"""objections.yaml: the shipped file, per-channel days over the default, and files that do not say clearly
what they mean refused with the file, the key and the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.credit.objections.config import (
    DEFAULT_REPLY_WORKING_DAYS,
    ObjectionConfigError,
    load_config,
    parse_config,
)
from gateway.settings import CREDIT_DEFAULTS


def test_the_shipped_file_gives_every_channel_ten_working_days() -> None:
    config = load_config(CREDIT_DEFAULTS)
    assert {name: c.reply_working_days for name, c in config.channels.items()} == {
        "department": 10,
        "credit_platform": 10,
    }
    assert DEFAULT_REPLY_WORKING_DAYS == 10


def test_a_channel_without_its_own_number_takes_the_default() -> None:
    config = parse_config(
        {"default_reply_working_days": 15, "channels": {"credit_platform": {"reply_working_days": 5}}}, "f"
    )
    assert config.channel("department").reply_working_days == 15
    assert config.channel("credit_platform").reply_working_days == 5
    assert parse_config({}, "f").channel("department").reply_working_days == 10
    with pytest.raises(ObjectionConfigError, match="不是 'email'"):
        config.channel("email")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([1, 2], "内容应为映射"),
        ({"version": 2}, "version 须为 1"),
        ({"reply_days": 10}, "不认识的键 reply_days"),
        ({"default_reply_working_days": 0}, "default_reply_working_days: 须在 1 到 250"),
        ({"default_reply_working_days": "ten"}, "须为整数"),
        (
            {"channels": {"department": {"reply_working_days": True}}},
            r"channels\.department\.reply_working_days: 须为整数",
        ),
        ({"channels": {"department": {"reply_working_days": 999}}}, "须在 1 到 250"),
        (
            {"channels": {"department": {"reply_workdays": 5}}},
            r"channels\.department: 不认识的键 reply_workdays",
        ),
        ({"channels": {"email": {"reply_working_days": 5}}}, "不认识的渠道 email"),
        ({"channels": ["department"]}, "channels 须为映射"),
        ({"channels": {"department": 5}}, r"channels\.department: 须为映射"),
    ],
)
def test_unclear_files_are_refused_naming_the_key(data: object, message: str) -> None:
    with pytest.raises(ObjectionConfigError, match=message):
        parse_config(data, "objections.yaml")


def test_a_missing_or_unreadable_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ObjectionConfigError, match=r"objections\.yaml: 找不到异议配置"):
        load_config(tmp_path)
    (tmp_path / "objections.yaml").write_text("channels: [unclosed\n", encoding="utf-8")
    with pytest.raises(ObjectionConfigError, match="无法读取异议配置"):
        load_config(tmp_path)
