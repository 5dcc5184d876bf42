"""What every benchmark script shares: the machine's description and docs/benchmarks.md.

Each script owns one section of ``docs/benchmarks.md``, between ``<!-- NAME -->`` and
``<!-- /NAME -->``, and rewrites only that section.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "docs" / "benchmarks.md"
HEADER = (
    "# Benchmarks\n\n"
    "Each section is written by the script it names, run from the repository root on the\n"
    "machine it describes. Re-run a script to refresh its section.\n\n"
    "The development VM's speed drifts with its host: the same code measured 26 µs and 38 µs\n"
    "a message an hour apart, and whole commands swing by ±100 ms. Compare rows of one run\n"
    "(ratios) rather than runs of different days.\n"
)


def machine() -> str:
    """One line: CPU model, cores, Python version, OS."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def median(values: list[float]) -> float:
    return statistics.median(values)


def run_quiet(command: list[str]) -> None:
    subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)


def write_section(name: str, body: str) -> None:
    """Replace (or append) the section ``name`` of docs/benchmarks.md with ``body``."""
    start, end = f"<!-- {name} -->", f"<!-- /{name} -->"
    text = REPORT.read_text(encoding="utf-8") if REPORT.exists() else HEADER
    block = f"{start}\n{body.strip()}\n{end}"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        _, after = rest.split(end, 1)
        text = before + block + after
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(text, encoding="utf-8")
    print(f"wrote section '{name}' of {REPORT.relative_to(ROOT)}", file=sys.stderr)
