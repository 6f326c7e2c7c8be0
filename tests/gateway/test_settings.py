"""Settings come from the environment and the shipped defaults, never from where the checkout is."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

import gateway.bundled
from gateway.bundled import bundled_dir
from gateway.settings import Settings


def test_the_home_defaults_to_var_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env({})
    assert settings.home == tmp_path / "var"
    assert settings.database_url == f"sqlite:///{tmp_path / 'var' / 'gateway' / 'gateway.db'}"
    assert settings.dropzone == tmp_path / "var" / "dropzone"
    assert settings.keys_dir == tmp_path / "var" / "keys"


def test_schemas_and_mappings_default_to_the_shipped_folders(tmp_path: Path) -> None:
    settings = Settings.from_env({"GATEWAY_HOME": str(tmp_path)})
    assert settings.schemas_dir == bundled_dir("schemas")
    assert settings.mappings_dir == bundled_dir("mappings")
    assert (settings.schemas_dir / "batch.xsd").is_file()
    assert (settings.mappings_dir / "defaults.yaml").is_file()


def test_a_deployment_points_at_its_own_folders(tmp_path: Path) -> None:
    own = tmp_path / "own-mappings"
    settings = Settings.from_env(
        {"GATEWAY_HOME": str(tmp_path), "GATEWAY_MAPPINGS_DIR": str(own), "GATEWAY_SCHEMAS_DIR": "~/xsd"}
    )
    assert settings.mappings_dir == own
    assert settings.schemas_dir == Path("~/xsd").expanduser().resolve()


def test_a_missing_shipped_folder_says_how_to_fix_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(gateway.bundled, "_PACKAGE", tmp_path / "gateway")
    with pytest.raises(FileNotFoundError, match="GATEWAY_MAPPINGS_DIR"):
        bundled_dir("mappings")


def test_hub_verify_and_client_certificate(tmp_path: Path) -> None:
    base = {"GATEWAY_HOME": str(tmp_path)}
    assert Settings.from_env({**base, "GATEWAY_HUB_VERIFY": "false"}).hub_verify is False
    assert Settings.from_env({**base, "GATEWAY_HUB_VERIFY": "/etc/ca.pem"}).hub_verify == "/etc/ca.pem"
    pair = Settings.from_env({**base, "GATEWAY_HUB_CLIENT_CERT": "c.pem", "GATEWAY_HUB_CLIENT_KEY": "k.pem"})
    assert pair.hub_cert == ("c.pem", "k.pem")
    assert Settings.from_env({**base, "GATEWAY_HUB_CLIENT_CERT": "both.pem"}).hub_cert == "both.pem"


def test_the_passphrase_never_shows_in_repr(tmp_path: Path) -> None:
    settings = Settings.from_env({"GATEWAY_HOME": str(tmp_path)}).with_overrides(key_passphrase="s3cret-pass")
    assert "s3cret-pass" not in repr(settings)


def test_doctests() -> None:
    assert doctest.testmod(gateway.bundled, raise_on_error=True).attempted > 0


def test_the_reading_process_threshold_is_a_size_or_off() -> None:
    assert Settings.from_env({}).read_process_min_bytes == 8 << 20
    assert Settings.from_env({"GATEWAY_READ_PROCESS_MIN_BYTES": "0"}).read_process_min_bytes == 0
    assert Settings.from_env({"GATEWAY_READ_PROCESS_MIN_BYTES": "Off"}).read_process_min_bytes is None
    with pytest.raises(ValueError, match="GATEWAY_READ_PROCESS_MIN_BYTES"):
        Settings.from_env({"GATEWAY_READ_PROCESS_MIN_BYTES": "-1"})
