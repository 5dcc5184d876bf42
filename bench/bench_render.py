"""Render benchmark: an issue's YAML to HTML + text + .eml, in process and as a whole command.

Run from the repository root:  .venv/bin/python bench/bench_render.py
Targets (issue #2): under 100 ms in process, under 0.5 s as a whole command.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import ROOT, machine, median, write_section

ISSUE = "issues/2018-03-iom-turkey.yaml"
RUNS = 20
COMMAND_RUNS = 15

# One fresh interpreter per sample: the first render in a process pays for compiling the
# templates and the CSS parser's caches, which is what `mailer preview` pays every time.
IN_PROCESS = """
import sys, time
from pathlib import Path
sys.path.insert(0, "src")
from mailer.pipeline import load
from mailer.preview import write_preview
out = Path(sys.argv[1])
start = time.perf_counter()
write_preview(load(Path(sys.argv[2])), out)
first = time.perf_counter() - start
warm = []
for _ in range(10):
    start = time.perf_counter()
    write_preview(load(Path(sys.argv[2])), out)
    warm.append(time.perf_counter() - start)
print(first, sorted(warm)[len(warm) // 2])
"""


def in_process(out: Path) -> tuple[float, float]:
    cold, warm = [], []
    for _ in range(RUNS // 4):
        result = subprocess.run(
            [sys.executable, "-c", IN_PROCESS, str(out), ISSUE],
            cwd=ROOT, check=True, capture_output=True, text=True,
        )
        first, steady = map(float, result.stdout.split())
        cold.append(first)
        warm.append(steady)
    return median(cold), median(warm)


def whole_command(out: Path) -> tuple[float, str]:
    mailer = str(ROOT / ".venv" / "bin" / "mailer")
    command = f"{mailer} preview {ISSUE} --no-serve --out {out}"
    hyperfine = shutil.which("hyperfine")
    if hyperfine:
        export = out / "hyperfine.json"
        subprocess.run(
            [hyperfine, "--warmup", "2", "--runs", str(COMMAND_RUNS), "--export-json",
             str(export), "--style", "none", command],
            cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
        )
        result = json.loads(export.read_text())["results"][0]
        return result["median"], f"hyperfine --warmup 2 --runs {COMMAND_RUNS}"
    times = []
    for _ in range(COMMAND_RUNS):
        start = time.perf_counter()
        subprocess.run(command.split(), cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return median(times), f"{COMMAND_RUNS} timed runs"


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        cold, warm = in_process(out)
        command, how = whole_command(out)
    body = f"""
## Render: YAML to HTML + text + .eml (`bench/bench_render.py`)

Machine: {machine()}
Command: `.venv/bin/python bench/bench_render.py` (issue `{ISSUE}`). Each in-process sample
loads the YAML and writes HTML, text and .eml (MJML, premailer, text template, MIME).

| what | median | target |
| --- | --- | --- |
| in process, first render in a fresh interpreter | {cold * 1000:.0f} ms | < 100 ms |
| in process, steady state (same interpreter) | {warm * 1000:.1f} ms | |
| whole command `mailer preview {ISSUE} --no-serve` ({how}) | {command * 1000:.0f} ms | < 500 ms |

For comparison, the MJML reference CLI takes about 560 ms a run on this machine to compile
alone (figure from issue #2; Node is not part of this project, so it is not re-measured here).
"""
    write_section("bench_render", body)
    print(body)


if __name__ == "__main__":
    main()
