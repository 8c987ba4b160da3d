"""The real ``iotwarden`` processes: ``serve`` answers on a socket, or refuses to start."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

STARTUP_TIMEOUT = 20.0
STRONG_SECRET = "k3y-0123456789abcdefghijklmnopqrstuvwxyzABCDEF"


def _environment(data_dir: Path, **extra: str) -> dict[str, str]:
    """This process's environment without any iotwarden configuration, plus ``extra``."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("IOTWARDEN_") and name not in {"DATABASE_URL", "REDIS_URL"}
    }
    return {**env, "IOTWARDEN_DATA_DIR": str(data_dir), **extra}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", "iotwarden", *args],
        env=_environment(tmp_path / "data", **env),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@contextmanager
def _serving(tmp_path: Path, *args: str, **env: str) -> Iterator[tuple[str, Path]]:
    """Start ``iotwarden serve``; yield its base URL and log file; always stop it."""
    port = _free_port()
    command = ["serve", "--host", "127.0.0.1", "--port", str(port), *args]
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [sys.executable, "-m", "iotwarden", *command],
            env=_environment(tmp_path / "data", **env),
            cwd=tmp_path,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        # Each worker process imports the whole app again before it answers.
        workers = int(args[args.index("--workers") + 1]) if "--workers" in args else 1
        _wait_until_healthy(process, base, log, STARTUP_TIMEOUT * workers)
        yield base, log
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _wait_until_healthy(
    process: subprocess.Popen[bytes], base: str, log: Path, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"serve was not healthy after {timeout:.0f} s:\n{log.read_text()}")


def _log_entries(log: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("args", "env"),
    [
        pytest.param((), {}, id="one-worker"),
        # Several workers share no state without Redis: only development allows that.
        pytest.param(("--workers", "2"), {"IOTWARDEN_ENVIRONMENT": "development"}, id="workers"),
    ],
)
def test_serve_starts_healthy_with_private_keys(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str]
) -> None:
    data_dir = tmp_path / "data"
    with _serving(tmp_path, *args, **env) as (base, log):
        response = httpx.get(f"{base}/healthz", timeout=5.0)
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}
        assert "server" not in response.headers
        assert "date" in response.headers
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
        for name in ("secret.key", "signing-key.pem"):
            assert stat.S_IMODE((data_dir / name).stat().st_mode) == 0o600
    # Every line is JSON, the workers' included: the access log comes from a worker.
    entries = _log_entries(log)
    assert any(
        entry["logger"] == "iotwarden.access" and entry.get("route") == "/healthz"
        for entry in entries
    )
    assert any(entry["msg"] == "database migrated" for entry in entries)


def test_serve_in_development_accepts_a_weak_secret(tmp_path: Path) -> None:
    env = {"IOTWARDEN_ENVIRONMENT": "development", "IOTWARDEN_SECRET_KEY": "changeme"}
    with _serving(tmp_path, **env) as (base, _):
        assert httpx.get(f"{base}/healthz", timeout=5.0).status_code == 200


def test_serve_refuses_a_weak_secret(tmp_path: Path) -> None:
    result = _run(tmp_path, "serve", "--port", str(_free_port()), IOTWARDEN_SECRET_KEY="changeme")
    assert result.returncode == 1
    assert "IOTWARDEN_SECRET_KEY is weak" in result.stderr
    assert "placeholder" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_refuses_a_world_readable_key_file(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    (data_dir / "secret.key").write_text(STRONG_SECRET)
    (data_dir / "secret.key").chmod(0o644)
    result = _run(tmp_path, "serve", "--port", str(_free_port()))
    assert result.returncode == 1
    assert "readable by other users" in result.stderr
    assert "Traceback" not in result.stderr


def test_console_script_and_module_are_the_same_cli(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("iotwarden")
    assert script.exists(), "install the project (scripts/setup) to get the console script"
    by_script = subprocess.run(  # noqa: S603 - the project's own console script
        [str(script), "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    by_module = _run(tmp_path, "--help")
    assert by_script.returncode == by_module.returncode == 0
    for command in ("serve", "db", "user", "device"):
        assert command in by_script.stdout
    assert by_script.stdout == by_module.stdout
