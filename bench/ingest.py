"""Ingest benchmark: the real server against a bare FastAPI app, loaded by wrk.

    .venv/bin/python bench/ingest.py            # or: bench/run

Starts, on 127.0.0.1 and free ports, one uvicorn worker each of
  real  iotwarden (fresh data dir, default SQLite, in-process state), and
  bare  bench/bare_app.py: same path and body model, no auth, no middleware, no storage;
provisions a user and a device, exchanges the device secret for a token at /oauth/token, and
posts telemetry batches with wrk (bench/post.lua) for a fixed time: 10-reading batches on
both (requests/s and the ratio real/bare), then 1000-reading batches (readings/s). Only 2xx
answers count, and the rows stored are counted afterwards to confirm every acknowledged
reading was committed. Prints a summary and writes it to bench/results/latest.txt.

This is a benchmark, never a test: nothing here runs under pytest.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from iotwarden.accounts.services import create_user
from iotwarden.config import Settings
from iotwarden.db.engine import create_engine, create_sessionmaker
from iotwarden.db.migrate import upgrade
from iotwarden.devices.schemas import DeviceCreate
from iotwarden.devices.services import register

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
VENV_BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
SMALL, LARGE = 10, 1000
RATIO_TARGET = 0.8
READINGS_TARGET = 50_000
# Server environment: anything that could point the real server elsewhere is dropped.
_FOREIGN_ENV = ("DATABASE_URL", "REDIS_URL")


def log(message: str) -> None:
    print(f"[bench] {message}", flush=True)


# --- wrk ---------------------------------------------------------------------------------


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        log(f"wrk found at {found}")
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        sys.exit("wrk is missing: install it (Debian: sudo apt-get install -y wrk)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "wrk"]
    log("wrk is missing: " + " ".join(install))
    if subprocess.run(install, env=env, check=False).returncode != 0:
        log("install failed; apt-get update first, then again: " + " ".join(install))
        subprocess.run(["apt-get", "update", "-q"], env=env, check=True)
        subprocess.run(install, env=env, check=True)
    found = shutil.which("wrk")
    if not found:
        sys.exit("wrk is still missing after apt-get install")
    log(f"wrk installed at {found}")
    return found


@dataclass
class WrkResult:
    server: str
    batch: int
    requests: int
    duration_s: float
    statuses: dict[int, int]
    errors: dict[str, int]
    latency_ms: dict[str, float]
    error_sample: str
    run_id: int
    stored: int | None = None
    profile: str = ""

    @property
    def ok(self) -> int:
        return sum(n for status, n in self.statuses.items() if 200 <= status < 300)

    @property
    def non_2xx(self) -> int:
        return sum(n for status, n in self.statuses.items() if not 200 <= status < 300)

    @property
    def socket_errors(self) -> int:
        return sum(n for kind, n in self.errors.items() if kind != "status")

    @property
    def rps(self) -> float:
        return self.ok / self.duration_s

    @property
    def readings_per_s(self) -> float:
        return self.ok * self.batch / self.duration_s


@dataclass
class Load:
    wrk: str
    threads: int
    connections: int
    duration: int
    warmup: int
    ts_format: str = "ms"
    metrics: int = 10
    runs: int = 0
    # Timestamps start an hour back: far from the future bound, and every run has its own
    # metric names, so the ranges of different runs may overlap without colliding.
    ts_base: int = field(default_factory=lambda: int(time.time() * 1000) - 3_600_000)

    def run(
        self,
        server: Server,
        token: str,
        device_id: str,
        batch: int,
        profiler: Profiler | None = None,
    ) -> WrkResult:
        if self.warmup:
            self._wrk("warm-up", server, token, device_id, batch, self.warmup)
        recording = profiler.start(server, batch, self.duration) if profiler else None
        result = self._wrk("measure", server, token, device_id, batch, self.duration)
        if profiler and recording:
            result.profile = profiler.finish(recording, result.ok)
        return result

    def _wrk(
        self, kind: str, server: Server, token: str, device_id: str, batch: int, seconds: int
    ) -> WrkResult:
        self.runs += 1
        env = {
            **os.environ,
            "TOKEN": token,
            "DEVICE_ID": device_id,
            "THREADS": str(self.threads),
            "BATCH": str(batch),
            "METRICS": str(self.metrics),
            "TS_BASE": str(self.ts_base),
            "TS_FORMAT": self.ts_format,
            "RUN_ID": str(self.runs),
        }
        cmd = [
            self.wrk,
            f"-t{self.threads}",
            f"-c{self.connections}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(BENCH / "post.lua"),
            server.url,
        ]
        log(f"{kind} {server.name} batch={batch}: {' '.join(cmd)}")
        done = subprocess.run(
            cmd, env=env, capture_output=True, text=True, timeout=seconds + 60, check=False
        )
        line = next((ln for ln in done.stdout.splitlines() if ln.startswith("BENCH_RESULT ")), None)
        if done.returncode != 0 or line is None:
            sys.exit(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        data = json.loads(line.removeprefix("BENCH_RESULT "))
        result = WrkResult(
            server=server.name,
            batch=batch,
            requests=data["requests"],
            duration_s=data["duration_us"] / 1e6,
            statuses={int(k): v for k, v in data["statuses"].items()},
            errors=data["errors"],
            latency_ms={k: v / 1000 for k, v in data["latency_us"].items()},
            error_sample=data["error_sample"],
            run_id=self.runs,
        )
        log(
            f"  {result.ok} x 2xx in {result.duration_s:.1f}s = {result.rps:,.0f} req/s, "
            f"{result.readings_per_s:,.0f} readings/s; statuses {result.statuses}; "
            f"socket errors {result.socket_errors}"
        )
        if result.non_2xx or result.socket_errors:
            log(
                f"  !!! {result.non_2xx} non-2xx answers, socket errors {result.errors}; "
                f"first body: {result.error_sample}"
            )
        return result


# --- servers -----------------------------------------------------------------------------


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
    return [
        sys.executable, "-m", "uvicorn", "--factory", "--app-dir", str(BENCH),
        "bare_app:create_app", *uvicorn_options(port),
    ]  # fmt: skip


# --- profiling -------------------------------------------------------------------------


@dataclass
class Recording:
    process: subprocess.Popen[bytes]
    output: Path
    label: str


class Profiler:
    """py-spy sampling a server during a measured run (``--py-spy``): where its CPU goes."""

    def __init__(self, py_spy: str, top: int = 15) -> None:
        self.py_spy = py_spy
        self.top = top

    def start(self, server: Server, batch: int, seconds: int) -> Recording:
        label = f"{server.name}-batch{batch}"
        output = RESULTS / f"profile-{label}.txt"
        RESULTS.mkdir(exist_ok=True)
        command = [
            self.py_spy, "record", "--pid", str(server.process.pid), "--duration",
            str(seconds), "--rate", "100", "--nonblocking", "--format", "raw",
            "--output", str(output),
        ]  # fmt: skip
        log(f"profiling {label}: {' '.join(command)}")
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return Recording(process, output, label)

    def finish(self, recording: Recording, requests: int) -> str:
        try:
            recording.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            recording.process.kill()
            recording.process.wait()
        if not recording.output.exists():
            code = recording.process.returncode
            return f"profile {recording.label}: py-spy wrote nothing (exit {code})"
        return summarize_profile(recording.output, recording.label, self.top, requests)


def summarize_profile(path: Path, label: str, top: int, requests: int = 0) -> str:
    """Where the server's busy samples were: by thread, by leaf function (self), and the
    iotwarden functions on the stack (total). Shares are of all busy samples, all threads."""
    own: dict[str, int] = {}
    ours: dict[str, int] = {}
    threads: dict[str, int] = {}
    samples = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        samples += count
        # "func (file.py:123)" -> "func (file.py)": lines of one function add up.
        frames = [frame.rsplit(":", 1)[0] + ")" for frame in stack.split(";")]
        thread = "worker threads" if "threading.py" in frames[0] else "event loop"
        threads[thread] = threads.get(thread, 0) + count
        own[frames[-1]] = own.get(frames[-1], 0) + count
        for frame in set(frames):
            if "(iotwarden/" in frame and "(iotwarden/cli/" not in frame:
                ours[frame] = ours.get(frame, 0) + count
    if not samples:
        return f"profile {label}: no samples"
    split = ", ".join(f"{name} {100 * n / samples:.0f}%" for name, n in threads.items())
    lines = [f"profile {label}: {samples} busy samples ({split}); stacks in {path.name}"]
    if requests:
        lines.append(f"  {10_000 * samples / requests:.0f} us of busy thread time per 2xx request")
    for title, table in (("self", own), ("total, iotwarden code", ours)):
        if not table:
            continue
        lines.append(f"  top {top} by {title}:")
        ranked = sorted(table.items(), key=lambda item: -item[1])[:top]
        lines += [f"    {100 * n / samples:5.1f}%  {frame}" for frame, n in ranked]
    return "\n".join(lines)


# --- provisioning ------------------------------------------------------------------------


async def provision(data_dir: Path) -> tuple[str, str]:
    """Migrate a fresh database and create a user and a device in it: (device id, secret)."""
    settings = Settings(data_dir=data_dir)
    engine = create_engine(settings.resolved_database_url)
    try:
        await upgrade(engine)
        sessions = create_sessionmaker(engine)
        async with sessions() as db:
            user = await create_user(db, "bench@example.com", secrets.token_urlsafe(24))
            device, secret = await register(db, user.id, DeviceCreate(name="bench sensor"))
            return str(device.id), secret
    finally:
        await engine.dispose()


def device_token(base_url: str, device_id: str, secret: str) -> str:
    form = urllib.parse.urlencode(
        {"grant_type": "client_credentials", "client_id": device_id, "client_secret": secret}
    ).encode()
    status, body = http(
        base_url + "/oauth/token",
        form,
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    if status != 200:
        sys.exit(f"POST /oauth/token answered {status}: {body[:300]!r}")
    token: str = json.loads(body)["access_token"]
    return token


def post_once(server: Server, device_id: str, token: str, ts: Any) -> tuple[int, bytes]:
    body = json.dumps({"readings": [{"ts": ts, "metric": "bench.probe", "value": 1.5}]})
    return http(
        f"{server.url}/api/v1/devices/{device_id}/telemetry",
        body.encode(),
        {"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )


def timestamp_format(bare: Server, device_id: str) -> str:
    """Integer epoch milliseconds if the body model takes them, else RFC 3339 strings."""
    now = int(time.time() * 1000) - 60_000
    status, body = post_once(bare, device_id, "", now)
    if 200 <= status < 300:
        return "ms"
    rfc3339 = datetime.fromtimestamp(now / 1000, UTC).isoformat(timespec="milliseconds")
    status2, body2 = post_once(bare, device_id, "", rfc3339.replace("+00:00", "Z"))
    if 200 <= status2 < 300:
        return "rfc3339"
    sys.exit(f"the bare app refused both timestamp forms: {status} {body!r}; {status2} {body2!r}")


def count_stored(db_path: Path, run_id: int) -> int:
    prefix = f"bench.r{run_id}."
    uri = f"file:{db_path}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=30)) as db:
        row = db.execute(
            # "/" follows "." in ASCII: the range is exactly the names with this prefix.
            "SELECT count(*) FROM readings WHERE metric >= ? AND metric < ?",
            (prefix, prefix[:-1] + "/"),
        ).fetchone()
    return int(row[0])


# --- report ------------------------------------------------------------------------------


def machine() -> str:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores {model}".strip()


def loadavg() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def filesystem(path: Path) -> str:
    best, kind = "", "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/mounts").read_text().splitlines():
            parts = line.split()
            if str(path).startswith(parts[1]) and len(parts[1]) > len(best):
                best, kind = parts[1], parts[2]
    return kind


def report(results: list[WrkResult], meta: dict[str, str]) -> tuple[str, bool]:
    lines = ["iotwarden ingest benchmark", ""]
    lines += [f"{key:<12} {value}" for key, value in meta.items()]
    lines += ["", _table(results), ""]
    ok = True
    by = {(r.server, r.batch): r for r in results}
    real_s, bare_s = by.get(("real", SMALL)), by.get(("bare", SMALL))
    if real_s and bare_s and bare_s.rps:
        ratio = real_s.rps / bare_s.rps
        verdict = "PASS" if ratio >= RATIO_TARGET else "BELOW TARGET"
        lines.append(
            f"{SMALL}-reading batches: real {real_s.rps:,.0f} req/s / bare {bare_s.rps:,.0f} "
            f"req/s = ratio {ratio:.2f} (target >= {RATIO_TARGET}) {verdict}"
        )
    else:
        ok = False
        lines.append(f"{SMALL}-reading batches: no real run, no ratio")
    real_l = by.get(("real", LARGE))
    if real_l:
        verdict = "PASS" if real_l.readings_per_s >= READINGS_TARGET else "BELOW TARGET"
        lines.append(
            f"{LARGE}-reading batches: real {real_l.readings_per_s:,.0f} readings/s "
            f"(target >= {READINGS_TARGET:,}) {verdict}"
        )
    else:
        ok = False
        lines.append(f"{LARGE}-reading batches: no real run")
    for r in results:
        if r.stored is not None:
            need = r.ok * r.batch
            good = r.stored >= need
            ok &= good
            lines.append(
                f"stored check, batch {r.batch}: {r.stored:,} rows >= {r.ok:,} x 2xx x "
                f"{r.batch} = {need:,}: {'OK' if good else 'FAILED: acknowledged but not stored'}"
            )
        if r.non_2xx or r.socket_errors:
            ok = False
            lines.append(
                f"!!! {r.server.upper()} SERVER, batch {r.batch}: {r.non_2xx} non-2xx answers "
                f"{ {s: n for s, n in r.statuses.items() if not 200 <= s < 300} }, "
                f"socket errors {r.errors}; first body: {r.error_sample}"
            )
    lines += ["", *(r.profile for r in results if r.profile)]
    return "\n".join(lines).rstrip() + "\n", ok


def _table(results: list[WrkResult]) -> str:
    head = (
        f"{'server':<6} {'batch':>5} {'2xx':>8} {'non-2xx':>7} {'sock-err':>8} "
        f"{'req/s':>9} {'readings/s':>11} {'p50 ms':>8} {'p99 ms':>8} {'stored':>10}"
    )
    rows = [head, "-" * len(head)]
    for r in results:
        stored = "-" if r.stored is None else f"{r.stored:,}"
        rows.append(
            f"{r.server:<6} {r.batch:>5} {r.ok:>8} {r.non_2xx:>7} {r.socket_errors:>8} "
            f"{r.rps:>9,.0f} {r.readings_per_s:>11,.0f} {r.latency_ms['p50']:>8.1f} "
            f"{r.latency_ms['p99']:>8.1f} {stored:>10}"
        )
    return "\n".join(rows)


# --- main --------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up before each")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--tmp", type=Path, default=None, help="parent of the tmp data dir")
    parser.add_argument("--keep", action="store_true", help="keep the tmp dir (logs, db)")
    parser.add_argument(
        "--py-spy",
        metavar="PATH",
        help="py-spy executable: profile both servers during their measured runs",
    )
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    for name in list(os.environ):
        if name.startswith("IOTWARDEN_") or name in _FOREIGN_ENV:
            del os.environ[name]
    wrk = ensure_wrk()
    tmp = Path(tempfile.mkdtemp(prefix="iotwarden-bench-", dir=args.tmp))
    data_dir = tmp / "data"
    data_dir.mkdir(mode=0o700)
    servers: list[Server] = []
    try:
        return run(args, wrk, tmp, data_dir, servers)
    finally:
        for server in servers:
            stop(server)
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def run(
    args: argparse.Namespace, wrk: str, tmp: Path, data_dir: Path, servers: list[Server]
) -> int:
    log(f"provisioning a user and a device in {data_dir} (migrations applied first)")
    device_id, secret = asyncio.run(provision(data_dir))
    real_port, bare_port = free_port(), free_port()
    env = {
        **os.environ,
        "IOTWARDEN_DATA_DIR": str(data_dir),
        # JSON access lines would otherwise be written per request; stderr also goes to a file.
        "IOTWARDEN_LOG_LEVEL": "WARNING",
    }
    command, how = real_command(real_port)
    servers.append(start("real", command, env, real_port, tmp))
    bare_env = {k: v for k, v in os.environ.items() if not k.startswith("IOTWARDEN_")}
    servers.append(start("bare", bare_command(bare_port), bare_env, bare_port, tmp))
    real, bare = servers
    wait_ready(real, "/healthz")
    wait_ready(bare, "/")
    token = device_token(real.url, device_id, secret)
    log(f"device {device_id} holds a token from POST /oauth/token")

    load = Load(wrk, args.threads, args.connections, args.duration, args.warmup)
    load.ts_format = timestamp_format(bare, device_id)
    log(f"timestamps sent as {load.ts_format}")
    status, body = post_once(real, device_id, token, int(time.time() * 1000) - 120_000)
    real_ready = 200 <= status < 300
    if not real_ready:
        log(f"!!! real telemetry route answered {status}: {body[:300]!r}; only the bare app runs")

    profiler = Profiler(args.py_spy) if args.py_spy else None
    load_before = loadavg()
    results: list[WrkResult] = []
    for batch in (SMALL, LARGE):
        if real_ready:
            result = load.run(real, token, device_id, batch, profiler)
            result.stored = count_stored(data_dir / "iotwarden.db", result.run_id)
            results.append(result)
        results.append(load.run(bare, token, device_id, batch, profiler))

    meta = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "load avg": f"{load_before} before, {loadavg()} after (1/5/15 min; other work skews)",
        "python": platform.python_version(),
        "real": f"{how}, SQLite in a fresh data dir on {filesystem(tmp)}, "
        "IOTWARDEN_LOG_LEVEL=WARNING, stderr to a file",
        "bare": "uvicorn --factory bench/bare_app.py:create_app",
        "uvicorn": "1 worker, loop auto, http auto, no access log, no server header, "
        "no proxy headers (both)",
        "wrk": f"{args.threads} threads, {args.connections} connections, {args.duration}s "
        f"per run after {args.warmup}s warm-up; ts as {load.ts_format}",
    }
    if profiler:
        meta["profiled"] = "py-spy at 100 Hz on both servers (figures include its cost)"
    text, ok = report(results, meta)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.txt").write_text(text)
    print()
    print(text, end="")
    log(f"written to {RESULTS / 'latest.txt'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
