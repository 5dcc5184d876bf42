"""A million readers: peak memory of ``mailer send`` (dry run, and through a Mailgun-style
batch API) and the size of the ledger a row.

Run from the repository root::

    .venv/bin/python bench/bench_million.py [--count 1000000] [--smtp]

It copies the project into a temporary folder, writes ``--count`` subscribers, and runs the
real command in a child process (peak RSS from ``os.wait4``): ``mailer send ISSUE --dry-run``,
then ``mailer send ISSUE --yes`` to a Mailgun-style endpoint on loopback (``bench/sinks.py``),
and with ``--smtp`` also to the light SMTP sink (slow: about ten minutes a million). The ledger
size is the database file after the send, divided by its rows. Targets (issue #9): under 100 MB
for a million readers, under 150 bytes a ledger row.
"""

from __future__ import annotations

import argparse
import csv
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import ROOT, copy_project, machine, write_section
from sinks import free_port, run_child, wait_for

ISSUE = "issues/2018-03-iom-turkey.yaml"
SECRET = "benchmark-only-unsubscribe-secret-0123456789"
FIRST = ["Ayşe", "Mehmet", "Leyla", "John", "Fatma", "Omar", "Elif", "Can"]
LAST = ["Yılmaz", "Kaya", "Haddad", "Smith", "Demir", "Öztürk", "Aydın", "Nasser"]


def generate(path: Path, count: int) -> None:
    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["email", "name", "first_name", "last_name", "language"])
        for n in range(count):
            first, last = FIRST[n % 8], LAST[n // 8 % 8]
            writer.writerow([f"reader{n}@example.org", f"{first} {last}", first, last,
                             ("en", "tr", "ar")[n % 3]])


def mailer(project: Path, *args: str) -> dict:
    env = {**os.environ, "MAILER_UNSUBSCRIBE_SECRET": SECRET, "MAILGUN_API_KEY": "bench"}
    command = [sys.executable, "-c", "from mailer.cli import main; main()", "send", ISSUE, *args]
    return run_child(command, env, project)


def ledger_size(path: Path) -> tuple[int, int]:
    """(bytes on disk after a checkpoint, rows)."""
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        rows = db.execute("SELECT count(*) FROM recipients").fetchone()[0]
    return path.stat().st_size, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--smtp", action="store_true", help="also send over SMTP (slow)")
    args = parser.parse_args()
    http_port, smtp_port = free_port(), free_port()
    sink = str(ROOT / "bench" / "bench_send.py")
    sinks = [subprocess.Popen([sys.executable, sink, "--http-sink", str(http_port)])]
    if args.smtp:
        sinks.append(subprocess.Popen([sys.executable, sink, "--smtp-sink", str(smtp_port)]))
    rows = []
    try:
        wait_for(http_port)
        with tempfile.TemporaryDirectory(prefix="bench-million-") as folder:
            project = copy_project(Path(folder))
            subscribers = project / "subscribers.csv"
            generate(subscribers, args.count)
            runs = [("dry run", ["--dry-run"], None)]
            runs.append(("Mailgun-style batch API", [
                "--yes", "--transport",
                f"mailgun://bench.example.org?endpoint=http://127.0.0.1:{http_port}",
            ], "mailgun.sqlite3"))
            if args.smtp:
                wait_for(smtp_port)
                runs.append(("SMTP", ["--yes", "--transport", f"smtp://127.0.0.1:{smtp_port}"],
                             "smtp.sqlite3"))
            for label, flags, ledger in runs:
                extra = ["--subscribers", str(subscribers)]
                if ledger:
                    extra += ["--ledger", ledger]
                started = time.monotonic()
                result = mailer(project, *flags, *extra)
                size = ledger_size(project / ledger) if ledger else None
                rows.append((label, result["rss_mb"], time.monotonic() - started, size))
                print(rows[-1], flush=True)
    finally:
        for process in sinks:
            process.terminate()
            process.wait()
    table = "\n".join(
        f"| {label} | {rss:,.0f} MB | {seconds:,.0f} s | "
        + (f"{size:,} B, {size / count:,.0f} B a row" if ledger else "-") + " |"
        for label, rss, seconds, ledger in rows
        for size, count in [ledger or (0, 1)]
    )
    write_section("bench_million", f"""## A million readers (`bench/bench_million.py`)

Machine: {machine()}. Measured {time.strftime('%Y-%m-%d')} with:

    .venv/bin/python bench/bench_million.py --count {args.count}{' --smtp' if args.smtp else ''}

`mailer send {ISSUE}` for {args.count:,} generated subscribers (Turkish, Arabic and English
names), in a child process; peak RSS from `os.wait4`; the ledger's size on disk after a WAL
checkpoint.

| run | peak RSS | wall | ledger |
|---|---:|---:|---|
{table}

Targets (issue #9): under 100 MB for a million readers, under 150 bytes a ledger row. Memory
stays flat because the subscriber file is streamed twice (a first pass counts the rows and
finds unsubscribed ones, to size the duplicate check: about 13 bytes an address), the ledger is
filled in chunks of 1,000, and the runner holds one batch per worker.
""")


if __name__ == "__main__":
    main()
