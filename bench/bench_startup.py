"""Start-up: ``mailer --help`` and ``mailer preview --no-serve``, now and at an earlier commit.

Run from the repository root:  .venv/bin/python bench/bench_startup.py [--base REF]

Both trees run with the same interpreter and libraries (this checkout's .venv), each from its
own ``src/`` (``PYTHONPATH``, checked through ``mailer.__file__``) and previewing its own copy
of the example issue with its own settings and theme. The earlier tree is a git worktree of
REF in a temporary folder (default: the commit before the package layout, 29cbf06). The runs
are interleaved, so that the host's drift hits both alike: ``--rounds`` hyperfine calls, each
timing every command in turn (the order reversed every other round), or without hyperfine a
loop that runs each command once a turn. Medians of all runs. Targets (issue #8): ``--help``
under 200 ms, ``preview --no-serve`` under 300 ms; and (issue #18) preview no slower than REF.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import ROOT, base_checkout, commit_of, machine, mailer_from, median, write_section

BASE = "29cbf06"
ISSUE = "issues/2018-03-iom-turkey.yaml"
ROUNDS = 5
RUNS = 6  # per command and round


def launcher(src: Path, folder: Path, name: str) -> Path:
    """A script running ``mailer`` from the sources in ``src`` (byte-compiled already)."""
    script = folder / name
    script.write_text(
        f'#!/bin/sh\nPYTHONPATH="{src}" exec "{sys.executable}" '
        '-c "from mailer.cli import main; main()" "$@"\n',
        encoding="utf-8",
    )
    script.chmod(0o755)
    return script


def with_hyperfine(
    commands: list[str], runs: int, export: Path, prepare: str | None
) -> list[list[float]]:
    """Each command's run times (seconds), from one hyperfine call; ``prepare`` (a shell
    command) runs before each run, untimed."""
    before = ["--prepare", prepare] if prepare else []
    subprocess.run(
        ["hyperfine", "-N", "--warmup", "2", "--runs", str(runs), "--export-json", str(export),
         "--style", "none", *before, *commands],
        cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
    )
    return [result["times"] for result in json.loads(export.read_text())["results"]]


def with_loop(commands: list[str], runs: int, prepare: str | None) -> list[list[float]]:
    """Each command's run times (seconds): every command once a turn, after one warm-up."""
    times: list[list[float]] = [[] for _ in commands]
    for turn in range(runs + 1):
        for n, command in enumerate(commands):
            if prepare:
                subprocess.run(prepare, shell=True, check=True)
            started = time.perf_counter()
            subprocess.run(command.split(), cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
            if turn:
                times[n].append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default=BASE, help="the commit to compare with")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--runs", type=int, default=RUNS, help="per command and round")
    args = parser.parse_args()
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "src")], check=True)
    tool = "hyperfine" if shutil.which("hyperfine") else "loop"
    labels = [f"before ({commit_of(args.base)})", f"now ({commit_of('HEAD')})"]
    with base_checkout(args.base) as tree, tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        commands, previews, inlined = [], [], []
        for n, checkout in enumerate((tree, ROOT)):
            mailer_from(checkout / "src")
            script = launcher(checkout / "src", folder, f"mailer-{n}")
            preview = f"{script} preview {checkout / ISSUE} --no-serve --out {folder / 'out'}"
            commands += [f"{script} --help", preview]
            previews.append(preview)
            inlined.append(f"{checkout / '.mailer' / 'template-cache'}/inlined-*.html")
        # The first preview after an edit: the inlined HTML kept from the last run is gone.
        edited = f"sh -c 'rm -f {' '.join(inlined)}'"  # hyperfine -N runs it without a shell
        times: list[list[float]] = [[] for _ in commands + previews]
        for round_ in range(args.rounds):
            for group, prepare, offset in ((commands, None, 0),
                                           (previews, edited, len(commands))):
                order = list(range(len(group)))
                if round_ % 2:
                    order.reverse()
                ordered = [group[n] for n in order]
                if tool == "hyperfine":
                    measured = with_hyperfine(ordered, args.runs, folder / "hyperfine.json",
                                              prepare)
                else:
                    measured = with_loop(ordered, args.runs, prepare)
                for n, runs in zip(order, measured, strict=True):
                    times[offset + n] += runs
    ms = [median(runs) * 1000 for runs in times]
    how = (f"`hyperfine -N --warmup 2 --runs {args.runs}` of the four commands, {args.rounds} "
           "times, the order reversed every other time" if tool == "hyperfine" else
           f"{args.rounds} × {args.runs} runs of each command, one each in turn")
    total = args.rounds * args.runs
    body = f"""
## Start-up (`bench/bench_startup.py`)

Machine: {machine()}
Command: `.venv/bin/python bench/bench_startup.py --base {args.base}`: {how}; medians of the
{total} runs of each command. "before" is commit `{args.base}`, run with the same interpreter
and libraries from its own checkout (sources, settings, theme and example issue).

| command | {labels[0]} | {labels[1]} | now / before | target |
| --- | ---: | ---: | ---: | --- |
| `mailer --help` | {ms[0]:.0f} ms | {ms[2]:.0f} ms | {ms[2] / ms[0]:.2f} | < 200 ms |
| `mailer preview {ISSUE} --no-serve` | {ms[1]:.0f} ms | {ms[3]:.0f} ms | {ms[3] / ms[1]:.2f} \
| < 300 ms, and no slower than before |
| the same, first after an edit (no inlined HTML kept) | {ms[4]:.0f} ms | {ms[5]:.0f} ms \
| {ms[5] / ms[4]:.2f} | |

`--help` imports only typer and the CLI module; every command imports what it uses when it
runs. `preview` imports what rendering needs: pydantic (the issue model), PyYAML, Jinja2,
markdown-it-py and MRML. The HTML with its CSS inlined is kept in the project's
`.mailer/template-cache` by what went in (as the compiled templates are), so a preview, check
or send of an issue that has not changed since the last command skips premailer and its imports
(cssutils, lxml, requests). The last row removes that copy before each run, as an edit to the
issue does: premailer then runs, on a theme with about twice the CSS rules of {args.base}'s.
"""
    write_section("bench_startup", body)
    print(body)


if __name__ == "__main__":
    main()
