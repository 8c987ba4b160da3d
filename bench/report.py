"""The summary of bench/ingest.py: the machine, a table of every measured run, the headlines
(median over rounds), the stored checks, and whether the run is valid.

The headline ratio is the median of per-round ratios, each real run divided by the bare run
of the same round: on a shared machine the bare app alone moves by about 30% between runs a
minute apart, and a ratio taken within a round cancels most of what the two runs share.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from statistics import median

from load import WrkResult

SMALL, LARGE = 10, 1000
RATIO_TARGET = 0.8
READINGS_TARGET = 50_000


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
    """(summary text, valid): valid when both servers were measured, every answer was a 2xx
    without socket errors, and every stored check passed. Targets do not affect validity."""
    lines = ["iotwarden ingest benchmark", ""]
    lines += [f"{key:<12} {value}" for key, value in meta.items()]
    lines += ["", _table(results), ""]
    small, small_ok = _small_headline(results)
    large, large_ok = _large_headline(results)
    checks, checks_ok = _checks(results)
    lines += [*small, *large, *checks, "", *(r.profile for r in results if r.profile)]
    return "\n".join(lines).rstrip() + "\n", small_ok and large_ok and checks_ok


def _runs(results: list[WrkResult], server: str, batch: int) -> dict[int, WrkResult]:
    return {r.round_no: r for r in results if r.server == server and r.batch == batch}


def _verdict(value: float, target: float) -> str:
    return "PASS" if value >= target else "BELOW TARGET"


def _small_headline(results: list[WrkResult]) -> tuple[list[str], bool]:
    real, bare = _runs(results, "real", SMALL), _runs(results, "bare", SMALL)
    rounds = sorted(n for n in real if n in bare and bare[n].rps)
    if not rounds:
        return [f"{SMALL}-reading batches: no real run, no ratio"], False
    ratios = [real[n].rps / bare[n].rps for n in rounds]
    mid = median(ratios)
    return [
        f"{SMALL}-reading batches, ratio real/bare req/s per round: "
        + "  ".join(f"{ratio:.2f}" for ratio in ratios),
        f"  median ratio {mid:.2f} over {len(rounds)} rounds (min {min(ratios):.2f}, "
        f"max {max(ratios):.2f}; target >= {RATIO_TARGET}) {_verdict(mid, RATIO_TARGET)}",
        f"  median real {median(real[n].rps for n in rounds):,.0f} req/s, "
        f"median bare {median(bare[n].rps for n in rounds):,.0f} req/s",
    ], True


def _large_headline(results: list[WrkResult]) -> tuple[list[str], bool]:
    real = [r.readings_per_s for r in _runs(results, "real", LARGE).values()]
    bare = [r.readings_per_s for r in _runs(results, "bare", LARGE).values()]
    if not real:
        return [f"{LARGE}-reading batches: no real run"], False
    mid = median(real)
    lines = [
        f"{LARGE}-reading batches, real readings/s per round: "
        + "  ".join(f"{value:,.0f}" for value in real),
        f"  median {mid:,.0f} readings/s over {len(real)} rounds (min {min(real):,.0f}, "
        f"max {max(real):,.0f}; target >= {READINGS_TARGET:,}) "
        f"{_verdict(mid, READINGS_TARGET)}",
    ]
    if bare:
        lines.append(f"  median bare {median(bare):,.0f} readings/s (for reference)")
    return lines, True


def _checks(results: list[WrkResult]) -> tuple[list[str], bool]:
    """Stored-rows check of every real run, and every non-2xx answer or socket error."""
    lines: list[str] = []
    ok = True
    for r in results:
        if r.stored is not None:
            need = r.ok * r.batch
            good = r.stored >= need
            ok &= good
            lines.append(
                f"stored check, batch {r.batch} round {r.round_no} (run {r.run_id}): "
                f"{r.stored:,} rows >= {r.ok:,} x 2xx x {r.batch} = {need:,}: "
                f"{'OK' if good else 'FAILED: acknowledged but not stored'}"
            )
        if r.non_2xx or r.socket_errors:
            ok = False
            lines.append(
                f"!!! {r.server.upper()} SERVER, batch {r.batch} round {r.round_no}: "
                f"{r.non_2xx} non-2xx answers "
                f"{ {s: n for s, n in r.statuses.items() if not 200 <= s < 300} }, "
                f"socket errors {r.errors}; first body: {r.error_sample}"
            )
    return lines, ok


def _table(results: list[WrkResult]) -> str:
    head = (
        f"{'server':<6} {'batch':>5} {'round':>5} {'2xx':>8} {'non-2xx':>7} {'sock-err':>8} "
        f"{'req/s':>9} {'readings/s':>11} {'p50 ms':>8} {'p99 ms':>8} {'stored':>10}"
    )
    rows = [head, "-" * len(head)]
    for r in results:
        stored = "-" if r.stored is None else f"{r.stored:,}"
        rows.append(
            f"{r.server:<6} {r.batch:>5} {r.round_no:>5} {r.ok:>8} {r.non_2xx:>7} "
            f"{r.socket_errors:>8} {r.rps:>9,.0f} {r.readings_per_s:>11,.0f} "
            f"{r.latency_ms['p50']:>8.1f} {r.latency_ms['p99']:>8.1f} {stored:>10}"
        )
    return "\n".join(rows)
