"""One typed settings object, read from the environment (prefix ``IOTWARDEN_``).

``DATABASE_URL`` and ``REDIS_URL`` are also read without the prefix because that is what
hosting platforms inject.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from iotwarden.secret import Secret


class Environment(StrEnum):
    PRODUCTION = "production"
    DEVELOPMENT = "development"


def _default_data_dir() -> Path:
    return Path.cwd() / ".iotwarden"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="IOTWARDEN_", extra="ignore", frozen=True, hide_input_in_errors=True
    )

    environment: Environment = Environment.PRODUCTION
    data_dir: Path = Field(default_factory=_default_data_dir)
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("IOTWARDEN_DATABASE_URL", "DATABASE_URL")
    )
    redis_url: str | None = Field(
        default=None, validation_alias=AliasChoices("IOTWARDEN_REDIS_URL", "REDIS_URL")
    )
    # Given secrets override the generated ones; weak values are refused in production.
    secret_key: Secret | None = None
    signing_key_pem: Secret | None = None

    issuer: str = "iotwarden"
    audience: str = "iotwarden-api"
    access_token_ttl: Annotated[int, Field(ge=30, le=900)] = 600
    device_token_ttl: Annotated[int, Field(ge=30, le=900)] = 900
    refresh_token_ttl: Annotated[int, Field(ge=300, le=90 * 86400)] = 14 * 86400
    session_max_age: Annotated[int, Field(ge=300, le=365 * 86400)] = 30 * 86400
    download_url_ttl: Annotated[int, Field(ge=10, le=300)] = 120

    max_json_body: Annotated[int, Field(ge=1024, le=16 * 1024 * 1024)] = 512 * 1024
    max_recording_bytes: Annotated[int, Field(ge=1024, le=256 * 1024 * 1024)] = 8 * 1024 * 1024
    telemetry_max_future_seconds: Annotated[int, Field(ge=0, le=86400)] = 300

    cors_origins: tuple[str, ...] = ()
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8000
    log_level: str = "INFO"

    @field_validator("cors_origins")
    @classmethod
    def _exact_origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for origin in value:
            if "*" in origin or not origin.startswith(("https://", "http://")):
                raise ValueError("CORS origins must be exact scheme://host[:port] values")
        return value

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.PRODUCTION

    @property
    def recordings_dir(self) -> Path:
        return self.data_dir / "recordings"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'iotwarden.db'}"
