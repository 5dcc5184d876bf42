"""What every benchmark script shares: the machine's description and docs/benchmarks.md.

Each script owns one section of ``docs/benchmarks.md``, between ``<!-- NAME -->`` and
``<!-- /NAME -->``, and rewrites only that section.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The naive reference builder lives with the tests, which prove the fast builder against it.
sys.path.insert(0, str(ROOT / "tests"))
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


def compile_sources() -> None:
    """Write mailer's own bytecode, as any interpreter does on its first run.

    This machine sets PYTHONDONTWRITEBYTECODE, which would make every timed run recompile
    mailer's sources (installed in editable mode, so pip compiled none of them).
    """
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "src")], check=True)


def median(values: list[float]) -> float:
    return statistics.median(values)


@dataclass(frozen=True)
class CommandTiming:
    median: float
    fastest: float
    slowest: float
    how: str  # how it was measured, for the report


def time_command(
    command: str, runs: int, scratch: Path, prepare: str | None = None
) -> CommandTiming:
    """Time a whole shell command from the repository root: hyperfine when installed.
    ``prepare`` is a shell command run before each run (and warm-up), outside the timing."""
    hyperfine = shutil.which("hyperfine")
    before = ["--prepare", prepare] if prepare else []
    if hyperfine:
        export = scratch / "hyperfine.json"
        subprocess.run(
            [hyperfine, "--warmup", "2", "--runs", str(runs), *before, "--export-json",
             str(export), "--style", "none", command],
            cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
        )
        result = json.loads(export.read_text())["results"][0]
        return CommandTiming(
            result["median"], result["min"], result["max"],
            f"hyperfine --warmup 2 --runs {runs} '{command}'",
        )
    times = []
    for _ in range(runs):
        if prepare:
            subprocess.run(prepare, shell=True, cwd=ROOT, check=True)
        start = time.perf_counter()
        subprocess.run(command.split(), cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return CommandTiming(median(times), min(times), max(times), f"{runs} timed runs of '{command}'")


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
