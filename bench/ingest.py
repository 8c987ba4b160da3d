"""Ingest benchmark: the real server against a bare FastAPI app, loaded by wrk.

    .venv/bin/python bench/ingest.py            # or: bench/run

Starts, on 127.0.0.1 and free ports, one uvicorn worker each of
  real  iotwarden (fresh data dir, default SQLite, in-process state), and
  bare  bench/bare_app.py: same path and body model, no auth, no middleware, no storage;
provisions a user and a device, exchanges the device secret for a token at /oauth/token, and
posts telemetry batches with wrk (bench/post.lua) for a fixed time: 10-reading batches
(requests/s and the ratio real/bare), then 1000-reading batches (readings/s). Each batch size
gets one warm-up per server, then N rounds of both, real first in odd rounds and bare first
in even ones; the headlines are medians over
the rounds, and the ratio is the median of the per-round ratios, because on a shared machine
one run of each moves the ratio by more than the code does. Only 2xx answers count, and the
rows each real run stored are counted afterwards to confirm every acknowledged reading was
committed. Prints a summary and writes it to bench/results/latest.txt.

Modules (siblings in bench/): servers (commands, start/stop, HTTP), load (wrk), provision
(database, token, stored rows), profiling (--py-spy), report (the summary).

This is a benchmark, never a test: nothing here runs under pytest.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

# bench/ is not a package: run as a script, Python puts bench/ first on sys.path, so the
# sibling modules import by their plain names.
from load import Load, WrkResult, ensure_wrk
from profiling import Profiler
from provision import count_stored, device_token, post_once, provision, timestamp_format
from report import LARGE, SMALL, filesystem, loadavg, machine, report
from servers import (
    RESULTS,
    Server,
    bare_command,
    free_port,
    log,
    real_command,
    start,
    stop,
    wait_ready,
)

# Server environment: anything that could point the real server elsewhere is dropped.
_FOREIGN_ENV = ("DATABASE_URL", "REDIS_URL")


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rounds",
        type=positive,
        default=5,
        help="rounds of both servers per batch size (default %(default)s)",
    )
    parser.add_argument(
        "--duration",
        type=positive,
        default=8,
        help="seconds per measured run (default %(default)s)",
    )
    parser.add_argument(
        "--warmup", type=int, default=2, help="seconds of warm-up per server (default %(default)s)"
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--tmp", type=Path, default=None, help="parent of the tmp data dir")
    parser.add_argument("--keep", action="store_true", help="keep the tmp dir (logs, db)")
    parser.add_argument(
        "--py-spy",
        metavar="PATH",
        help="py-spy executable: profile both servers during round 1's measured runs",
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
    real, bare, how = start_servers(tmp, data_dir, servers)
    token = device_token(real.url, device_id, secret)
    log(f"device {device_id} holds a token from POST /oauth/token")

    def new_token() -> str:
        return device_token(real.url, device_id, secret)

    load = Load(wrk, args.threads, args.connections, new_token, device_id)
    load.ts_format = timestamp_format(bare, device_id)
    log(f"timestamps sent as {load.ts_format}")
    measured = [real, bare] if real_answers(real, device_id, token) else [bare]

    profiler = Profiler(args.py_spy) if args.py_spy else None
    load_before = loadavg()
    results: list[WrkResult] = []
    for batch in (SMALL, LARGE):
        results += measure_batch(args, load, measured, batch, profiler, data_dir)
    meta = describe(args, how, tmp, load_before, load.ts_format)
    return publish(results, meta)


def start_servers(tmp: Path, data_dir: Path, servers: list[Server]) -> tuple[Server, Server, str]:
    """Start real and bare (appended to ``servers`` at once, so they are stopped whatever
    happens next) and wait until both answer: (real, bare, how real was started)."""
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
    return real, bare, how


def real_answers(real: Server, device_id: str, token: str) -> bool:
    """Whether the real telemetry route takes a batch; if not, only the bare app is measured."""
    status, body = post_once(real, device_id, token, int(time.time() * 1000) - 120_000)
    if 200 <= status < 300:
        return True
    log(f"!!! real telemetry route answered {status}: {body[:300]!r}; only the bare app runs")
    return False


def measure_batch(
    args: argparse.Namespace,
    load: Load,
    servers: list[Server],
    batch: int,
    profiler: Profiler | None,
    data_dir: Path,
) -> list[WrkResult]:
    """One warm-up per server, then ``--rounds`` rounds of both servers.

    The servers alternate so that both see the same conditions: this machine is shared, and
    its speed drifts from one minute to the next. Odd rounds run real first, even rounds bare
    first, so that neither always runs right after the other (the real server may still be
    finishing work when its load stops). Every real run has its own run id, so its stored
    rows are counted on their own. Only round 1 is profiled.
    """
    if args.warmup:
        for server in servers:
            load.warm_up(server, batch, args.warmup)
    results: list[WrkResult] = []
    for round_no in range(1, args.rounds + 1):
        for server in servers if round_no % 2 else servers[::-1]:
            spy = profiler if round_no == 1 else None
            result = load.measure(server, batch, args.duration, round_no, spy)
            if server.name == "real":
                result.stored = count_stored(data_dir / "iotwarden.db", result.run_id)
            results.append(result)
    return results


def describe(
    args: argparse.Namespace, how: str, tmp: Path, load_before: str, ts_format: str
) -> dict[str, str]:
    """The summary's header: what ran, how, and on what."""
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
        "wrk": f"{args.threads} threads, {args.connections} connections; ts as {ts_format}",
        "rounds": f"{args.rounds} per batch size, {args.duration}s per server each, real first "
        f"in odd rounds and bare first in even ones, after one {args.warmup}s warm-up per server",
    }
    if args.py_spy:
        meta["profiled"] = "py-spy at 100 Hz on both servers in round 1 (includes its cost)"
    return meta


def publish(results: list[WrkResult], meta: dict[str, str]) -> int:
    """Print the summary, write it to bench/results/latest.txt; 0 if the run is valid."""
    text, ok = report(results, meta)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.txt").write_text(text)
    print()
    print(text, end="")
    log(f"written to {RESULTS / 'latest.txt'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
