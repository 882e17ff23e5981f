"""Write one benchmark's results into its own section of docs/benchmarks.md.

Each bench script owns a section between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->` markers, so the
scripts can run separately and each rewrites only its own numbers.
"""

from __future__ import annotations

import os
import platform
import re
import threading
import time
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
HEADER = (
    "# Benchmarks\n\n"
    "Numbers written by the scripts in `bench/` (each rewrites its own section). Every measurement stands\n"
    "beside a baseline measured in the same run on the same machine, so the ratio means more than the\n"
    "absolute value. Machine of the last run of each section is named in it.\n"
)


def machine() -> str:
    return f"{platform.machine()}, {platform.python_implementation()} {platform.python_version()}"


def write_section(name: str, body: str, doc: Path = DOC) -> None:
    """Replace (or append) the section `name` of the benchmarks document with `body`."""
    text = doc.read_text() if doc.exists() else HEADER
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    footer = f"_Last run: {stamp} on {machine()}._"
    block = f"<!-- bench:{name} -->\n{body.rstrip()}\n\n{footer}\n<!-- /bench:{name} -->"
    pattern = re.compile(rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->", re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else f"{text.rstrip()}\n\n{block}\n"
    doc.write_text(text)


def table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


class LoadWatch:
    """Samples, every `interval` s while a benchmark runs, whether another test run (a pytest process)
    shares the machine and the 1-minute load average, so that the section can say how loaded it was."""

    def __init__(self, interval: float = 5.0) -> None:
        self.interval, self.samples, self.busy = interval, 0, 0
        self.loads: list[float] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> LoadWatch:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)

    def _loop(self) -> None:
        while True:
            self.samples += 1
            self.busy += bool(other_pytest())
            self.loads.append(os.getloadavg()[0])
            if self.stop.wait(self.interval):
                return

    def note(self) -> str:
        cores = os.cpu_count() or 1
        peak = max(self.loads, default=0.0)
        if not self.busy:
            return f"No other test run shared the machine ({cores} cores; peak load average {peak:.1f})."
        return (
            f"Other test runs (pytest) shared the {cores} cores in {self.busy} of {self.samples} samples "
            f"taken every {self.interval:.0f} s (peak load average {peak:.1f}): numbers taken then are "
            "higher and noisier; the baselines ran in the same run."
        )


def other_pytest() -> list[int]:
    """Pids of pytest processes on this machine (this benchmark never runs under pytest)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if any(arg.endswith(b"pytest") for arg in argv[:3]):
                found.append(int(entry.name))
    return found
