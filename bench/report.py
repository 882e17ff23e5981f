"""Write one benchmark's results into its own section of docs/benchmarks.md.

Each bench script owns a section between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->` markers, so the
scripts can run separately and each rewrites only its own numbers.
"""

from __future__ import annotations

import platform
import re
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
