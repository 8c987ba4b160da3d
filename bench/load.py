"""The load of bench/ingest.py: wrk running bench/post.lua against one server, and its result.

Every wrk run, warm-ups included, gets a run id of its own (``Load.runs``), which post.lua
puts in the metric names, so the readings of separate runs never collide and the rows of one
run can be counted afterwards (provision.count_stored).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from profiling import Profiler
from servers import BENCH, Server, log


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
    round_no: int = 0  # 1..N for measured runs; 0 for a warm-up
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
    # A fresh device token before every run on the real server: one lives at most 15 minutes,
    # and a long benchmark (many rounds) outlives it. The bare app gets the last one, so both
    # servers parse the same headers.
    new_token: Callable[[], str]
    device_id: str
    ts_format: str = "ms"
    metrics: int = 10
    runs: int = 0
    # Timestamps start an hour back: far from the future bound, and every run has its own
    # metric names, so the ranges of different runs may overlap without colliding.
    ts_base: int = field(default_factory=lambda: int(time.time() * 1000) - 3_600_000)
    _token: str = ""

    def warm_up(self, server: Server, batch: int, seconds: int) -> None:
        self._wrk("warm-up", server, batch, seconds)

    def measure(
        self,
        server: Server,
        batch: int,
        seconds: int,
        round_no: int,
        profiler: Profiler | None = None,
    ) -> WrkResult:
        recording = profiler.start(server, batch, seconds) if profiler else None
        result = self._wrk(f"round {round_no}", server, batch, seconds)
        result.round_no = round_no
        if profiler and recording:
            result.profile = profiler.finish(recording, result.ok)
        return result

    def _wrk(self, kind: str, server: Server, batch: int, seconds: int) -> WrkResult:
        self.runs += 1
        if server.name == "real" or not self._token:
            self._token = self.new_token()
        cmd = [
            self.wrk, f"-t{self.threads}", f"-c{self.connections}", f"-d{seconds}s",
            "--timeout", "10s", "-s", str(BENCH / "post.lua"), server.url,
        ]  # fmt: skip
        log(f"{kind} {server.name} batch={batch} run={self.runs}: {' '.join(cmd)}")
        done = subprocess.run(
            cmd,
            env=self._env(batch),
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=False,
        )
        line = next((ln for ln in done.stdout.splitlines() if ln.startswith("BENCH_RESULT ")), None)
        if done.returncode != 0 or line is None:
            sys.exit(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        result = self._parse(line.removeprefix("BENCH_RESULT "), server, batch)
        _log_result(result)
        return result

    def _env(self, batch: int) -> dict[str, str]:
        """post.lua's settings (see its header)."""
        return {
            **os.environ,
            "TOKEN": self._token,
            "DEVICE_ID": self.device_id,
            "THREADS": str(self.threads),
            "BATCH": str(batch),
            "METRICS": str(self.metrics),
            "TS_BASE": str(self.ts_base),
            "TS_FORMAT": self.ts_format,
            "RUN_ID": str(self.runs),
        }

    def _parse(self, text: str, server: Server, batch: int) -> WrkResult:
        data = json.loads(text)
        return WrkResult(
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


def _log_result(result: WrkResult) -> None:
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
