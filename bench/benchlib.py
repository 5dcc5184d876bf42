"""What every benchmark script shares: the machine's description and docs/benchmarks.md.

Each script owns one section of ``docs/benchmarks.md``, between ``<!-- NAME -->`` and
``<!-- /NAME -->``, and rewrites only that section.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

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


@contextlib.contextmanager
def base_checkout(ref: str) -> Iterator[Path]:
    """The repository at ``ref``, checked out (``git worktree add``) in a temporary folder that
    is removed afterwards, its sources byte-compiled as :func:`compile_sources` does ours."""
    with tempfile.TemporaryDirectory(prefix="bench-base-") as scratch:
        tree = Path(scratch) / "tree"
        subprocess.run(["git", "worktree", "add", "-q", "--detach", str(tree), ref], cwd=ROOT,
                       check=True)
        try:
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "src")],
                           check=True)
            yield tree
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT,
                           check=True)


def commit_of(ref: str) -> str:
    """``ref``'s short commit id, with ``+changes`` when it is HEAD and the tree has edits."""
    short = subprocess.run(["git", "rev-parse", "--short", ref], cwd=ROOT, check=True,
                           capture_output=True, text=True).stdout.strip()
    if ref == "HEAD":
        status = subprocess.run(["git", "status", "--porcelain", "--", "src", "templates"],
                                cwd=ROOT, check=True, capture_output=True, text=True).stdout
        if status.strip():
            short += "+changes"
    return short


def mailer_from(src: Path) -> str:
    """The file of the ``mailer`` package a child with ``PYTHONPATH=src`` imports, printed;
    RuntimeError unless it is the one in ``src`` (and not, say, the editable install's)."""
    found = subprocess.run(
        [sys.executable, "-c", "import mailer; print(mailer.__file__)"],
        env={**os.environ, "PYTHONPATH": str(src)}, check=True, capture_output=True, text=True,
    ).stdout.strip()
    if not Path(found).resolve().is_relative_to(src.resolve()):
        raise RuntimeError(f"PYTHONPATH={src} imports mailer from {found}, not from {src}")
    print(f"PYTHONPATH={src}: mailer.__file__ = {found}", file=sys.stderr)
    return found


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


def copy_project(folder: Path, tree: Path = ROOT) -> Path:
    """``tree``'s settings, theme and issues copied into ``folder`` (made here): a project to
    send from, which a benchmark may fill with subscribers and ledgers."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(tree / "mailer.toml", folder / "mailer.toml")
    for name in ("templates", "issues"):
        shutil.copytree(tree / name, folder / name)
    return folder


def project_scratch() -> tempfile.TemporaryDirectory:
    """A scratch folder inside the project's ``issues/``: an issue's images must be files
    inside the project folder (the folder of mailer.toml), named relative to the issue."""
    return tempfile.TemporaryDirectory(dir=ROOT / "issues", prefix=".bench-")


def _items(data: dict) -> list[dict]:
    """The lead and every item of an issue's YAML data."""
    lead = [data["lead"]] if data.get("lead") else []
    return lead + [item for section in data.get("sections", []) for item in section["items"]]


def issue_copy(folder: Path, source: str, name: str, change: Callable[[dict], None]) -> Path:
    """``source`` (an issue below ROOT) written to ``folder/name`` after ``change`` edits its
    data, with image paths made relative to the new place."""
    data = yaml.safe_load((ROOT / source).read_text(encoding="utf-8"))
    base = (ROOT / source).parent
    for item in _items(data):
        if "image" in item:
            item["image"]["src"] = os.path.relpath(base / item["image"]["src"], folder)
    change(data)
    path = folder / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def three_editions(folder: Path, source: str) -> Path:
    """``source`` as ``three.yaml`` with a Turkish and an Arabic edition beside it, which leave
    out what an edition inherits (id, image files, link URLs); the path of ``three.yaml``."""

    def edition(language: str) -> Callable[[dict], None]:
        def change(data: dict) -> None:
            del data["id"]
            data["language"] = language
            data["subject"] = f"[{language}] {data['subject']}"
            for item in _items(data):
                item.get("image", {}).pop("src", None)
                for link in item.get("links", []):
                    link.pop("url")
        return change

    default = issue_copy(folder, source, "three.yaml", lambda data: None)
    for language in ("tr", "ar"):
        issue_copy(folder, str(default.relative_to(ROOT)), f"three.{language}.yaml",
                   edition(language))
    return default
