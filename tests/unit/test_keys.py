"""Keys: generated once into a private data dir, reused, and weak or exposed ones refused."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from iotwarden.config import Settings
from iotwarden.keys import (
    SECRET_KEY_FILE,
    SIGNING_KEY_FILE,
    InsecureConfigurationError,
    check_secret_strength,
    load_keys,
    new_secret,
)

STRONG = new_secret()


@pytest.fixture(autouse=True)
def _no_outside_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("IOTWARDEN_"):
            monkeypatch.delenv(name)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _settings(data_dir: Path, **values: Any) -> Settings:
    return Settings(data_dir=data_dir, **values)


def test_first_load_generates_private_keys(tmp_path: Path) -> None:
    data_dir = tmp_path / "nested" / "data"
    keys = load_keys(_settings(data_dir))
    assert _mode(data_dir) == 0o700
    assert _mode(data_dir / SECRET_KEY_FILE) == 0o600
    assert _mode(data_dir / SIGNING_KEY_FILE) == 0o600
    assert len(keys.secret) >= 32
    assert keys.secret == (data_dir / SECRET_KEY_FILE).read_bytes().strip()
    assert keys.signing.as_dict(private=False)["crv"] == "Ed25519"


def test_second_load_reuses_the_keys(tmp_path: Path) -> None:
    first = load_keys(_settings(tmp_path))
    second = load_keys(_settings(tmp_path))
    assert second.secret == first.secret
    assert second.signing.thumbprint() == first.signing.thumbprint()


def test_separate_data_dirs_get_separate_keys(tmp_path: Path) -> None:
    one = load_keys(_settings(tmp_path / "one"))
    two = load_keys(_settings(tmp_path / "two"))
    assert one.secret != two.secret
    assert one.signing.thumbprint() != two.signing.thumbprint()


def test_existing_data_dir_is_made_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    data_dir.chmod(0o755)
    load_keys(_settings(data_dir))
    assert _mode(data_dir) == 0o700


@pytest.mark.parametrize("name", [SECRET_KEY_FILE, SIGNING_KEY_FILE])
def test_readable_key_file_is_refused_in_production(tmp_path: Path, name: str) -> None:
    load_keys(_settings(tmp_path))
    (tmp_path / name).chmod(0o640)
    with pytest.raises(InsecureConfigurationError, match="readable by other users") as caught:
        load_keys(_settings(tmp_path))
    assert f"chmod 600 {tmp_path / name}" in str(caught.value)
    # Development tolerates it (a checkout on a shared laptop volume, say).
    load_keys(_settings(tmp_path, environment="development"))


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("changeme", "shorter than 32 characters"),
        ("changeme" + STRONG, "placeholder"),
        ("ab" * 32, "too few distinct characters"),
        ("Password" + STRONG, "placeholder"),
    ],
)
def test_weak_given_secret_is_refused_in_production(
    tmp_path: Path, value: str, reason: str
) -> None:
    with pytest.raises(InsecureConfigurationError, match=reason) as caught:
        load_keys(_settings(tmp_path, secret_key=value))
    assert "IOTWARDEN_SECRET_KEY" in str(caught.value)
    assert value not in str(caught.value)


def test_weak_given_secret_is_allowed_in_development(tmp_path: Path) -> None:
    keys = load_keys(_settings(tmp_path, secret_key="changeme", environment="development"))
    assert keys.secret == b"changeme"


def test_given_secrets_win_and_are_not_written(tmp_path: Path) -> None:
    source = load_keys(_settings(tmp_path / "source"))
    signing_pem = (tmp_path / "source" / SIGNING_KEY_FILE).read_text()
    data_dir = tmp_path / "data"
    keys = load_keys(_settings(data_dir, secret_key=STRONG, signing_key_pem=signing_pem))
    assert keys.secret == STRONG.encode()
    assert keys.signing.thumbprint() == source.signing.thumbprint()
    assert not (data_dir / SECRET_KEY_FILE).exists()
    assert not (data_dir / SIGNING_KEY_FILE).exists()


def test_generated_secret_file_is_checked_too(tmp_path: Path) -> None:
    load_keys(_settings(tmp_path))
    (tmp_path / SECRET_KEY_FILE).write_text("changeme\n")
    with pytest.raises(InsecureConfigurationError, match="weak"):
        load_keys(_settings(tmp_path))


def test_a_generated_secret_that_spells_a_placeholder_is_drawn_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    draws = iter(["A1b2C3d4E5f6G7h8I9j0xxxxK1l2M3n4O5p6Q7r8S9t0U1v2W3x4Y5z6A7b8C9d0", STRONG])
    monkeypatch.setattr(secrets, "token_urlsafe", lambda nbytes: next(draws))
    load_keys(_settings(tmp_path))
    assert (tmp_path / SECRET_KEY_FILE).read_text() == STRONG


def test_signing_key_must_be_ed25519(tmp_path: Path) -> None:
    other = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(InsecureConfigurationError, match="Ed25519"):
        load_keys(_settings(tmp_path, signing_key_pem=other.decode()))


def test_strong_secret_passes() -> None:
    check_secret_strength(STRONG, production=True)


def test_keys_never_print(tmp_path: Path) -> None:
    keys = load_keys(_settings(tmp_path, secret_key=STRONG))
    for shown in (repr(keys), str(keys), f"{keys}"):
        assert STRONG not in shown
        assert "PRIVATE" not in shown
