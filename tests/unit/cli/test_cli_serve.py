"""``serve`` up to the point where uvicorn takes over; ``tests/functional/test_cli.py`` runs it."""

from __future__ import annotations

import gc
import os
import secrets
import stat
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from typer.testing import Result

from iotwarden.cli import serve as serve_module
from iotwarden.cli.main import app
from iotwarden.keys import SECRET_KEY_FILE, SIGNING_KEY_FILE

Invoke = Callable[..., Result]

pytestmark = pytest.mark.usefixtures("keep_logging")


@pytest.fixture
def uvicorn_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    """Record what uvicorn would be started with, instead of blocking on a socket."""
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: calls.append((a, kw)))
    return calls


def test_runs_the_factory_with_safe_defaults(
    cli: Invoke, data_dir: Path, uvicorn_calls: list[Any]
) -> None:
    result = cli("serve")
    assert result.exit_code == 0, result.output
    [(args, kwargs)] = uvicorn_calls
    assert args == (serve_module.APP_FACTORY,)
    assert kwargs["factory"] is True
    assert (kwargs["host"], kwargs["port"], kwargs["workers"]) == ("127.0.0.1", 8000, 1)
    assert kwargs["proxy_headers"] is False
    assert kwargs["server_header"] is False
    assert kwargs.get("date_header", True) is True
    assert kwargs["log_config"] is None
    # Keys and schema are ready before the first worker starts.
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    for name in (SECRET_KEY_FILE, SIGNING_KEY_FILE):
        assert stat.S_IMODE((data_dir / name).stat().st_mode) == 0o600
    assert "already at revision" in cli("db", "upgrade").stdout


def test_serve_sweeps_recording_files_left_without_a_row(
    cli: Invoke, data_dir: Path, uvicorn_calls: list[Any]
) -> None:
    recordings = data_dir / "recordings"
    recordings.mkdir(parents=True)
    orphan = recordings / secrets.token_hex(16)
    orphan.write_bytes(b"RIFF")
    long_ago = time.time() - 7 * 86_400
    os.utime(orphan, (long_ago, long_ago))
    assert cli("serve").exit_code == 0
    assert not orphan.exists()


def test_options_override_settings(
    cli: Invoke, uvicorn_calls: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IOTWARDEN_PORT", "8100")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    assert cli("serve").exit_code == 0
    result = cli(
        "serve", "--host", "127.0.0.2", "--port", "9001", "--workers", "3", "--proxy-headers"
    )
    assert result.exit_code == 0, result.output
    assert uvicorn_calls[0][1]["port"] == 8100
    kwargs = uvicorn_calls[1][1]
    assert (kwargs["host"], kwargs["port"], kwargs["workers"]) == ("127.0.0.2", 9001, 3)
    assert kwargs["proxy_headers"] is True


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({"IOTWARDEN_SECRET_KEY": "changeme"}, "IOTWARDEN_SECRET_KEY is weak"),
        ({"IOTWARDEN_CORS_ORIGINS": '["*"]'}, "CORS origins must be exact"),
        ({"IOTWARDEN_ACCESS_TOKEN_TTL": "86400"}, "access_token_ttl"),
        ({"IOTWARDEN_LOG_LEVEL": "chatty"}, "IOTWARDEN_LOG_LEVEL"),
        ({"DATABASE_URL": "mysql://u:hunter2@db/x"}, "invalid DATABASE_URL"),
    ],
)
def test_refuses_bad_configuration(
    cli: Invoke,
    uvicorn_calls: list[Any],
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    reason: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = cli("serve")
    assert result.exit_code == 1
    assert reason in result.stderr
    assert "Traceback" not in result.output
    assert "hunter2" not in result.output
    assert uvicorn_calls == []


def test_refuses_world_readable_key_file(
    cli: Invoke, data_dir: Path, uvicorn_calls: list[Any]
) -> None:
    data_dir.mkdir(mode=0o700)
    key = data_dir / SECRET_KEY_FILE
    key.write_text("k3y-" + "0123456789abcdefghijklmnopqrstuvwxyzABCDEF")
    key.chmod(0o644)
    result = cli("serve")
    assert result.exit_code == 1
    assert "readable by other users" in result.stderr
    assert f"chmod 600 {key}" in result.stderr
    assert uvicorn_calls == []


def test_several_workers_need_shared_state_in_production(
    cli: Invoke, uvicorn_calls: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    result = cli("serve", "--workers", "2")
    assert result.exit_code == 1
    assert "REDIS_URL" in result.stderr
    assert uvicorn_calls == []
    monkeypatch.setenv("IOTWARDEN_ENVIRONMENT", "development")
    assert cli("serve", "--workers", "2").exit_code == 0
    assert uvicorn_calls[0][1]["workers"] == 2


def test_development_accepts_a_weak_secret(
    cli: Invoke, uvicorn_calls: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IOTWARDEN_ENVIRONMENT", "development")
    monkeypatch.setenv("IOTWARDEN_SECRET_KEY", "changeme")
    result = cli("serve")
    assert result.exit_code == 0, result.output
    assert len(uvicorn_calls) == 1


@pytest.mark.parametrize("bad", [("--workers", "0"), ("--port", "0"), ("--port", "70000")])
def test_option_bounds(cli: Invoke, uvicorn_calls: list[Any], bad: tuple[str, str]) -> None:
    assert cli("serve", *bad).exit_code == 2
    assert uvicorn_calls == []


async def test_worker_factory_builds_the_app(data_dir: Path) -> None:
    thresholds, interval = gc.get_threshold(), sys.getswitchinterval()
    try:
        application = serve_module.worker_app()
        assert isinstance(application, FastAPI)
        # The app built at startup is left out of every later collection.
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == serve_module.GC_THRESHOLDS
        await application.state.ctx.engine.dispose()
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
        sys.setswitchinterval(interval)


def test_tracebacks_never_show_local_variables() -> None:
    # Typer can print each frame's locals, which here would include passwords and keys.
    assert app.pretty_exceptions_show_locals is False
