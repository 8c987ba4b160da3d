"""py-spy for bench/ingest.py (``--py-spy``): where a server's CPU goes during a measured run.

Only round 1's measured runs are profiled: py-spy costs some throughput, and one profile per
server and batch size says where the time goes as well as N would.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from servers import RESULTS, Server, log


@dataclass
class Recording:
    process: subprocess.Popen[bytes]
    output: Path
    label: str


class Profiler:
    """py-spy sampling a server during a measured run."""

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
    threads, own, ours = _tally(path)
    samples = sum(threads.values())
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


def _tally(path: Path) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """Samples of py-spy's raw stacks by thread, by leaf function and by iotwarden function."""
    threads: dict[str, int] = {}
    own: dict[str, int] = {}
    ours: dict[str, int] = {}
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        # "func (file.py:123)" -> "func (file.py)": lines of one function add up.
        frames = [frame.rsplit(":", 1)[0] + ")" for frame in stack.split(";")]
        thread = "worker threads" if "threading.py" in frames[0] else "event loop"
        threads[thread] = threads.get(thread, 0) + count
        own[frames[-1]] = own.get(frames[-1], 0) + count
        for frame in set(frames):
            if "(iotwarden/" in frame and "(iotwarden/cli/" not in frame:
                ours[frame] = ours.get(frame, 0) + count
    return threads, own, ours
