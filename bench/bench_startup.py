"""Start-up: ``mailer --help`` and ``mailer preview --no-serve``, now and at an earlier commit.

Run from the repository root:  .venv/bin/python bench/bench_startup.py [--base REF]

Both trees run with the same interpreter and libraries (this checkout's .venv), interleaved
in one hyperfine call, so the host's drift hits both alike. The earlier tree is a git
worktree of REF in a temporary folder (default: the commit before the package layout,
29cbf06). Targets (issue #8): ``--help`` under 200 ms, ``preview --no-serve`` under 300 ms.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from benchlib import ROOT, machine, write_section

BASE = "29cbf06"
ISSUE = "issues/2018-03-iom-turkey.yaml"
RUNS = 30


def launcher(src: Path, folder: Path, name: str) -> Path:
    """A script running ``mailer`` from the sources in ``src``, byte-compiled first (this
    machine sets PYTHONDONTWRITEBYTECODE; any normal interpreter keeps its .pyc files)."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(src)], check=True)
    script = folder / name
    script.write_text(
        f'#!/bin/sh\nPYTHONPATH="{src}" exec "{sys.executable}" '
        '-c "from mailer.cli import main; main()" "$@"\n',
        encoding="utf-8",
    )
    script.chmod(0o755)
    return script


def hyperfine(commands: list[str], export: Path) -> list[dict]:
    subprocess.run(
        ["hyperfine", "-N", "--warmup", "3", "--runs", str(RUNS), "--export-json", str(export),
         "--style", "none", *commands],
        cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
    )
    return json.loads(export.read_text())["results"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default=BASE, help="the commit to compare with")
    base = parser.parse_args().base
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        tree = folder / "base"
        subprocess.run(["git", "worktree", "add", "-q", "--detach", str(tree), base],
                       cwd=ROOT, check=True)
        try:
            before = launcher(tree / "src", folder, "before")
            now = launcher(ROOT / "src", folder, "now")
            out = folder / "out"
            commands = []
            for script in (before, now):
                commands += [f"{script} --help",
                             f"{script} preview {ISSUE} --no-serve --out {out}"]
            results = hyperfine(commands, folder / "hyperfine.json")
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT,
                           check=True)
    ms = [f"{r['median'] * 1000:.0f} ms" for r in results]
    body = f"""
## Start-up (`bench/bench_startup.py`)

Machine: {machine()}
Command: `.venv/bin/python bench/bench_startup.py --base {base}`: `hyperfine -N --warmup 3
--runs {RUNS}`, the four commands interleaved; medians. "before" is commit `{base}` run with
the same interpreter and libraries.

| command | before ({base}) | now | target |
| --- | --- | --- | --- |
| `mailer --help` | {ms[0]} | {ms[2]} | < 200 ms |
| `mailer preview {ISSUE} --no-serve` | {ms[1]} | {ms[3]} | < 300 ms |

`--help` imports only typer and the CLI module; every command imports what it uses when it
runs. `preview` still imports what rendering needs: pydantic (the issue model), PyYAML,
Jinja2, markdown-it-py, MRML and premailer, which brings cssutils, lxml and requests (premailer
imports requests at its top to fetch remote stylesheets, which we switch off). That floor is
`python -X importtime -c "import mailer.compose.render, mailer.compose.issue"`.
"""
    write_section("bench_startup", body)
    print(body)


if __name__ == "__main__":
    main()
