"""The two servers of bench/ingest.py: their commands, starting and stopping them, and HTTP.

  real  iotwarden serve (or uvicorn on iotwarden.app:create_app if the CLI has no serve yet)
  bare  uvicorn on bench/bare_app.py

Both run one uvicorn worker with the settings ``iotwarden serve`` uses, on 127.0.0.1 and a
free port, each in a process group of its own so that stopping one stops all it started.
Also home to what every bench module shares: the paths, the host and ``log``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
VENV_BIN = Path(sys.executable).parent
HOST = "127.0.0.1"


def log(message: str) -> None:
    print(f"[bench] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    command: list[str]

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


def uvicorn_options(port: int) -> list[str]:
    """What ``iotwarden serve`` passes to uvicorn, as command-line options, for both servers.

    One worker, loop and HTTP parser "auto" (uvicorn's defaults), no access log, no
    ``Server`` header, no proxy headers.
    """
    return [
        "--host", HOST, "--port", str(port), "--workers", "1", "--loop", "auto",
        "--http", "auto", "--no-access-log", "--no-server-header", "--no-proxy-headers",
        "--log-level", "warning",
    ]  # fmt: skip


def cli_serves() -> bool:
    """Whether ``iotwarden serve`` exists yet (the CLI is preferred when it does)."""
    cli = VENV_BIN / "iotwarden"
    if not cli.exists():
        return False
    probe = subprocess.run(
        [str(cli), "serve", "--help"], capture_output=True, timeout=60, check=False
    )
    return probe.returncode == 0


def real_command(port: int) -> tuple[list[str], str]:
    """The real server's command, and how to name it in the summary."""
    if cli_serves():
        # It migrates (again: a no-op here), then runs uvicorn as uvicorn_options() describes.
        cli = [str(VENV_BIN / "iotwarden"), "serve", "--host", HOST, "--port", str(port)]
        return [*cli, "--workers", "1"], "iotwarden serve"
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "iotwarden.app:create_app",
        *uvicorn_options(port),
    ]  # fmt: skip
    return command, "uvicorn --factory iotwarden.app:create_app"


def bare_command(port: int) -> list[str]:
    # --app-dir: bare_app.py is imported from bench/, which is not a package.
    return [
        sys.executable, "-m", "uvicorn", "--factory", "--app-dir", str(BENCH),
        "bare_app:create_app", *uvicorn_options(port),
    ]  # fmt: skip


def start(name: str, command: list[str], env: dict[str, str], port: int, logs: Path) -> Server:
    log_path = logs / f"{name}.log"
    log(f"start {name}: {' '.join(command)}  (stdout+stderr -> {log_path})")
    with log_path.open("wb") as sink:
        process = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
    return Server(name, port, process, log_path, command)


def wait_ready(server: Server, path: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            sys.exit(f"{server.name} exited with {server.process.returncode}:\n{tail(server)}")
        status, _ = http(server.url + path, timeout=2)
        if status:
            return
        time.sleep(0.2)
    sys.exit(f"{server.name} not ready after {timeout}s:\n{tail(server)}")


def tail(server: Server, lines: int = 30) -> str:
    text = server.log_path.read_text(errors="replace") if server.log_path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def stop(server: Server) -> None:
    # The server runs in a session of its own: signal that group, which this script started.
    if server.process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait(timeout=5)
    log(f"stopped {server.name} (exit {server.process.returncode})")


def http(
    url: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10,
) -> tuple[int, bytes]:
    """(status, body); status 0 when nothing answered."""
    request = urllib.request.Request(url, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), bytes(exc.read())
    except (urllib.error.URLError, OSError):
        return 0, b""
