from __future__ import annotations

import stat
from pathlib import Path

import pytest

from iotwarden.db.engine import create_engine, normalize_url


def test_plain_urls_get_async_drivers() -> None:
    assert normalize_url("postgresql://u@h/db").startswith("postgresql+asyncpg://")
    assert normalize_url("sqlite:////tmp/x.db").startswith("sqlite+aiosqlite://")


def test_unsupported_database_refused() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        normalize_url("mysql://u@h/db")


async def test_sqlite_file_is_created_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    engine = create_engine(f"sqlite:///{path}")
    await engine.dispose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
