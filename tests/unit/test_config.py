"""Settings from the environment, and ``Secret`` values that never print."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from iotwarden.config import Environment, Settings
from iotwarden.secret import Secret

VALUE = "s3cr3t-Value-that-must-never-show-0123456789"


@pytest.fixture(autouse=True)
def _no_outside_configuration(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("IOTWARDEN_") or name in {"DATABASE_URL", "REDIS_URL"}:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_production_is_the_default(tmp_path: Path) -> None:
    settings = Settings()
    assert settings.environment is Environment.PRODUCTION
    assert settings.is_production
    assert settings.data_dir == tmp_path / ".iotwarden"
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.cors_origins == ()
    assert settings.secret_key is None


def test_development_is_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IOTWARDEN_ENVIRONMENT", "development")
    assert not Settings().is_production
    monkeypatch.setenv("IOTWARDEN_ENVIRONMENT", "dev")
    with pytest.raises(ValidationError):
        Settings()


def test_database_defaults_to_sqlite_in_the_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IOTWARDEN_DATA_DIR", "/srv/iotwarden")
    settings = Settings()
    assert settings.database_url is None
    assert settings.resolved_database_url == "sqlite+aiosqlite:////srv/iotwarden/iotwarden.db"


@pytest.mark.parametrize("name", ["DATABASE_URL", "IOTWARDEN_DATABASE_URL"])
def test_database_url_under_either_name(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv(name, "postgresql://app@db.internal/iotwarden")
    settings = Settings()
    assert settings.database_url == "postgresql://app@db.internal/iotwarden"
    assert settings.resolved_database_url == "postgresql://app@db.internal/iotwarden"


def test_prefixed_database_url_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://platform@db/one")
    monkeypatch.setenv("IOTWARDEN_DATABASE_URL", "postgresql://app@db/two")
    assert Settings().database_url == "postgresql://app@db/two"


@pytest.mark.parametrize("name", ["REDIS_URL", "IOTWARDEN_REDIS_URL"])
def test_redis_url_under_either_name(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv(name, "redis://cache:6379/0")
    assert Settings().redis_url == "redis://cache:6379/0"


@pytest.mark.parametrize(
    "origins",
    ['["*"]', '["https://*.example.com"]', '["example.com"]', '["https://ok.example", "*"]'],
)
def test_cors_origins_must_be_exact(monkeypatch: pytest.MonkeyPatch, origins: str) -> None:
    monkeypatch.setenv("IOTWARDEN_CORS_ORIGINS", origins)
    with pytest.raises(ValidationError, match="CORS origins must be exact"):
        Settings()


def test_exact_cors_origins_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "IOTWARDEN_CORS_ORIGINS", '["https://app.example.com", "http://localhost:5173"]'
    )
    assert Settings().cors_origins == ("https://app.example.com", "http://localhost:5173")


def test_token_lifetimes_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IOTWARDEN_ACCESS_TOKEN_TTL", "86400")
    with pytest.raises(ValidationError, match="access_token_ttl") as caught:
        Settings()
    # Inputs are hidden from errors: the same path could carry a secret.
    assert "86400" not in str(caught.value)


def test_settings_are_frozen() -> None:
    settings = Settings()
    with pytest.raises(ValidationError):
        settings.environment = Environment.DEVELOPMENT  # type: ignore[misc]


def test_secret_never_prints() -> None:
    secret = Secret(VALUE)
    for shown in (repr(secret), str(secret), f"{secret}", f"{secret!r}", "%s" % secret):  # noqa: UP031
        assert VALUE not in shown
    assert secret.reveal() == VALUE
    assert secret == Secret(VALUE)
    assert secret != Secret(VALUE + "x")
    assert secret != VALUE


def test_settings_never_print_their_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IOTWARDEN_SECRET_KEY", VALUE)
    monkeypatch.setenv("IOTWARDEN_SIGNING_KEY_PEM", VALUE + "-pem")
    settings = Settings()
    assert isinstance(settings.secret_key, Secret)
    assert settings.secret_key.reveal() == VALUE
    for shown in (repr(settings), str(settings), f"{settings}", settings.model_dump_json()):
        assert VALUE not in shown
    assert VALUE not in str(settings.model_dump(mode="json"))


def test_invalid_secret_is_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    # A secret given where a number is expected still does not appear in the error.
    monkeypatch.setenv("IOTWARDEN_PORT", VALUE)
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert VALUE not in str(caught.value)
