"""Benchmark of ``mailer send``: SMTP and a Mailgun-style batch API on loopback, and the naive way.

Run from the repository root::

    .venv/bin/python bench/bench_send.py [--count 20000] [--naive-count 200]

It copies the project (mailer.toml, templates/, issues/) into a temporary folder, generates
``--count`` subscribers, and times the real command, ``mailer send ISSUE --yes``, in a child
process (its CPU time and peak RSS come from ``os.wait4``) against:

* a light asyncio SMTP sink, in its own process, that answers the dialogue and skips each
  message (BDAT by its size, DATA by scanning for ``CRLF . CRLF``), so it is not the bottleneck;
* a Mailgun-style ``/v3/DOMAIN/messages`` endpoint (``http.server``) that counts recipients.

The naive baseline renders the issue for every subscriber and opens one smtplib connection per
message; it runs on a sample (``--naive-count``) and is reported per message. The results
replace the ``bench_send`` section of ``docs/benchmarks.md``.

With ``--base COMMIT`` it compares instead: the code of COMMIT (a ``git worktree`` in a
temporary folder, run with this checkout's interpreter and libraries, ``PYTHONPATH`` at its
``src/``) and the code here send the same subscribers over SMTP to the same sink, each with its
own project files (settings, theme, the example issue) and hosted images, in ``--rounds``
interleaved rounds (A B, B A, ...) so that the machine's drift hits both alike. Medians, and
now / before, go to the ``bench_send_base`` section.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import smtplib
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchlib import (
    ROOT,
    base_checkout,
    commit_of,
    copy_project,
    machine,
    mailer_from,
    median,
    write_section,
)
from sinks import free_port, run_child, run_http_sink, run_smtp_sink, wait_for

ISSUE = "issues/2018-03-iom-turkey.yaml"
SECRET = "benchmark-only-unsubscribe-secret-0123456789"
# Where the images are published in the side-by-side runs (the issue's own organisation: the
# checks before a send refuse example.org).
IMAGE_BASE_URL = "https://turkiye.iom.int/newsletter/images/"
ROUNDS = 5

# -- the measured runs -----------------------------------------------------------------------


def mailer_send(
    project: Path, subscribers: Path, transport: str, ledger: str,
    extra: dict[str, str] | None = None,
) -> dict:
    env = {**os.environ, "MAILER_UNSUBSCRIBE_SECRET": SECRET, "MAILGUN_API_KEY": "bench",
           **(extra or {})}
    command = [
        sys.executable, "-c", "from mailer.cli import main; main()", "send", ISSUE, "--yes",
        "--subscribers", str(subscribers), "--transport", transport, "--ledger", ledger,
    ]
    result = run_child(command, env, project)
    match = re.search(r"sent ([\d,]+) now \(([\d,.]+)/s\)", result["out"])
    if not match:
        raise RuntimeError(f"unexpected output:\n{result['out']}")
    result["sent"] = int(match.group(1).replace(",", ""))
    result["send_rate"] = float(match.group(2).replace(",", ""))
    return result


def naive(project: Path, subscribers: Path, count: int, port: int) -> None:
    """One full render and one smtplib connection per subscriber (the baseline)."""
    os.environ["MAILER_UNSUBSCRIBE_SECRET"] = SECRET
    from mailer.audience.subscribers import SubscriberReader
    from mailer.compose.issue import load
    from mailer.delivery.prepare import prepare

    started = time.monotonic()
    sent = 0
    for subscriber in SubscriberReader(subscribers):
        if sent == count:
            break
        factory = prepare(load(project / ISSUE), real_send=True).factory
        message = factory.build(subscriber)
        with smtplib.SMTP("127.0.0.1", port) as connection:
            connection.sendmail(message.content.sender_address, [subscriber.email], message.data)
        sent += 1
    print(json.dumps({"sent": sent, "seconds": time.monotonic() - started}))


# -- the report ------------------------------------------------------------------------------


def generate(path: Path, count: int) -> None:
    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["email", "name", "first_name", "last_name", "language"])
        for n in range(count):
            writer.writerow([f"reader{n}@example.org", f"Reader {n}", "Reader", str(n), "en"])


# -- side by side with an earlier commit ---------------------------------------------------


@dataclass
class Side:
    """One version of the code in the comparison, and its runs."""

    label: str  # for the report: "before (29cbf06)", "now (8392f47)"
    tree: Path  # the checkout whose src/ runs and whose project files it sends
    project: Path = Path()
    runs: list[dict] = field(default_factory=list)

    def extra(self) -> dict[str, str]:
        return {"PYTHONPATH": str(self.tree / "src"), "MAILER_IMAGE_BASE_URL": IMAGE_BASE_URL}

    def median(self, key: str) -> float:
        return median([run[key] for run in self.runs])


def versus(args: argparse.Namespace) -> None:
    """``mailer send`` of COMMIT and of this checkout in interleaved rounds; the report."""
    smtp_port = free_port()
    sink = subprocess.Popen([sys.executable, __file__, "--smtp-sink", str(smtp_port)])
    try:
        wait_for(smtp_port)
        with base_checkout(args.base) as tree, \
                tempfile.TemporaryDirectory(prefix="bench-send-") as scratch:
            folder = Path(scratch)
            sides = [Side(f"before ({commit_of(args.base)})", tree),
                     Side(f"now ({commit_of('HEAD')})", ROOT)]
            for n, side in enumerate(sides):
                mailer_from(side.tree / "src")
                side.project = copy_project(folder / f"project-{n}", side.tree)
            subscribers = folder / "subscribers.csv"
            generate(subscribers, args.count)
            for round_ in range(args.rounds):
                for side in sides if round_ % 2 == 0 else sides[::-1]:
                    ledger = f"ledger-{round_}.sqlite3"
                    result = mailer_send(side.project, subscribers,
                                         f"smtp://127.0.0.1:{smtp_port}", ledger, side.extra())
                    for leftover in side.project.glob(f"{ledger}*"):
                        leftover.unlink()  # the disk holds one ledger at a time
                    result["cpu_us"] = result["cpu"] / result["sent"] * 1e6
                    result["overall"] = result["sent"] / result["wall"]
                    side.runs.append(result)
                    print(f"round {round_ + 1} {side.label}: {result['send_rate']:,.0f} msg/s, "
                          f"{result['cpu_us']:,.0f} µs CPU a message, "
                          f"{result['rss_mb']:,.0f} MB", flush=True)
            sizes = [message_size(side) for side in sides]
    finally:
        sink.terminate()
        sink.wait()
    report_versus(args, sides, sizes)


def report_versus(args: argparse.Namespace, sides: list[Side], sizes: list[int]) -> None:
    before, now = sides
    rows = [
        ("send rate (msg/s), the command's own figure", "send_rate", "{:,.0f}"),
        ("overall (msg/s), with start-up, render and ledger fill", "overall", "{:,.0f}"),
        ("CPU per message (µs), user + system of the whole command", "cpu_us", "{:,.0f}"),
        ("peak RSS (MB)", "rss_mb", "{:,.0f}"),
    ]
    table = "\n".join(
        f"| {what} | {form.format(before.median(key))} | {form.format(now.median(key))} | "
        f"{now.median(key) / before.median(key):.2f} |"
        for what, key, form in rows
    )
    table += (f"\n| message size (KB) | {sizes[0] / 1024:,.1f} | {sizes[1] / 1024:,.1f} | "
              f"{sizes[1] / sizes[0]:.2f} |")
    rounds = "\n".join(
        f"* {side.label}: " + ", ".join(f"{run['send_rate']:,.0f}" for run in side.runs)
        + " msg/s; " + ", ".join(f"{run['cpu_us']:,.0f}" for run in side.runs) + " µs"
        for side in sides
    )
    title = f"`mailer send` now and at {args.base} (bench/bench_send.py --base)"
    write_section("bench_send_base", f"""## {title}

Machine: {machine()}. Measured {time.strftime('%Y-%m-%d')} with:

    .venv/bin/python bench/bench_send.py --base {args.base} --count {args.count} \\
        --rounds {args.rounds} --concurrency {args.concurrency}

`mailer send {ISSUE} --yes` to {args.count:,} generated subscribers over SMTP
with {args.concurrency} connections to one light sink that offers PIPELINING and CHUNKING;
hosted images (`image_base_url`). Both versions run with this checkout's interpreter and
libraries, each from its own `src/` (`PYTHONPATH`, checked through `mailer.__file__`) with its
own settings, theme and example issue, in {args.rounds} interleaved rounds; medians, and
now / before. CPU and peak RSS are the sending process's own (`os.wait4`).

| {args.count:,} readers | {before.label} | {now.label} | now / before |
| --- | ---: | ---: | ---: |
{table}

Each round, send rate and CPU per message:

{rounds}
""")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--naive-count", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--base", help="compare with the code of this commit (SMTP only)")
    parser.add_argument("--rounds", type=int, default=ROUNDS,
                        help="interleaved rounds of each version (with --base)")
    parser.add_argument("--smtp-sink", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--plain-sink", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--http-sink", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--naive", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--message-size", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.message_size:
        print(message_size())
        return None
    if args.smtp_sink:
        return run_smtp_sink(args.smtp_sink)
    if args.plain_sink:
        return run_smtp_sink(args.plain_sink, plain=True)
    if args.http_sink:
        return run_http_sink(args.http_sink)
    if args.naive:
        project, subscribers, count = args.naive
        port = int(os.environ["BENCH_SMTP_PORT"])
        return naive(Path(project), Path(subscribers), int(count), port)

    os.environ["MAILER_CONCURRENCY"] = str(args.concurrency)
    if args.base:
        return versus(args)
    smtp_port, plain_port, http_port = free_port(), free_port(), free_port()
    sinks = [
        subprocess.Popen([sys.executable, __file__, "--smtp-sink", str(smtp_port)]),
        subprocess.Popen([sys.executable, __file__, "--plain-sink", str(plain_port)]),
        subprocess.Popen([sys.executable, __file__, "--http-sink", str(http_port)]),
    ]
    rows = []
    try:
        for port in (smtp_port, plain_port, http_port):
            wait_for(port)
        with tempfile.TemporaryDirectory(prefix="bench-send-") as folder:
            project = copy_project(Path(folder))
            small, large = project / "small.csv", project / "subscribers.csv"
            generate(small, args.count // 4)
            generate(large, args.count)
            smtp = f"smtp://127.0.0.1:{smtp_port}"
            mailgun = f"mailgun://bench.example.org?endpoint=http://127.0.0.1:{http_port}"
            for label, subscribers, transport in [
                ("mailer send, SMTP", large, smtp),
                ("mailer send, SMTP (quarter of the list)", small, smtp),
                ("mailer send, SMTP without PIPELINING/CHUNKING", large,
                 f"smtp://127.0.0.1:{plain_port}"),
                ("mailer send, Mailgun-style batch API", large, mailgun),
            ]:
                ledger = f"ledger-{len(rows)}.sqlite3"
                result = mailer_send(project, subscribers, transport, ledger)
                rows.append((label, result["sent"], result["send_rate"],
                             result["sent"] / result["wall"], result["cpu"], result["rss_mb"]))
                print(rows[-1], flush=True)
            env = {**os.environ, "BENCH_SMTP_PORT": str(smtp_port)}
            baseline = run_child(
                [sys.executable, __file__, "--naive", str(project), str(large),
                 str(args.naive_count)], env,
            )
            naive_result = json.loads(baseline["out"])
            naive_rate = naive_result["sent"] / naive_result["seconds"]
            rows.append(("naive: full render + one smtplib connection per message",
                         naive_result["sent"], naive_rate, naive_result["sent"] / baseline["wall"],
                         baseline["cpu"], baseline["rss_mb"]))
            print(rows[-1], flush=True)
    finally:
        for sink in sinks:
            sink.terminate()
            sink.wait()
    table = "\n".join(
        f"| {label} | {sent:,} | {rate:,.0f} | {overall:,.0f} | {cpu:,.1f} | {rss:,.0f} |"
        for label, sent, rate, overall, cpu, rss in rows
    )
    write_section("bench_send", f"""## `mailer send` throughput (bench/bench_send.py)

Machine: {machine()}. Measured {time.strftime('%Y-%m-%d')} with:

    .venv/bin/python bench/bench_send.py --count {args.count} --naive-count {args.naive_count} \\
        --concurrency {args.concurrency}

Issue `{ISSUE}` (about {message_size() // 1024} KB a message with its inline images),
{args.count:,} generated subscribers. Each row is the real `mailer send ISSUE --yes` in a child
process; *send rate* is the command's own figure for the sending phase, *overall* includes
start-up, rendering and filling the ledger. CPU seconds (user + system) and peak RSS are the
sending process's own (`os.wait4`); the sinks run in separate processes on the same 2 cores.

| run | messages | send rate (msg/s) | overall (msg/s) | CPU s | peak RSS (MB) |
|---|---:|---:|---:|---:|---:|
{table}

The SMTP sink offers PIPELINING and CHUNKING like Postfix or Exim, so each message is one
write (`MAIL`, `RCPT`, `BDAT <size> LAST` and the bytes) and one round trip, with no
dot-stuffing; the row "without PIPELINING/CHUNKING" is a server offering neither (three round
trips and dot-stuffing a message). Peak RSS for a quarter of the list against the whole list
shows whether memory grows with the number of subscribers. The naive baseline runs on a
sample of {args.naive_count}; its rate is per message and scales linearly.

Targets (issue #4): at least 1,500 messages a second over SMTP, at least 5,000 recipients a
second through the batch API, memory flat in the number of subscribers.
""")


def message_size(side: Side | None = None) -> int:
    """The size of one message to a generated reader: of this checkout's example, or of
    ``side``'s, asked of that version's code in a child."""
    if side is not None:
        result = run_child(
            [sys.executable, __file__, "--message-size"],
            {**os.environ, **side.extra(), "BENCH_PROJECT": str(side.project)},
        )
        return int(result["out"])
    os.environ.setdefault("MAILER_UNSUBSCRIBE_SECRET", SECRET)
    project = Path(os.environ.get("BENCH_PROJECT", ROOT))
    try:
        from mailer.audience.subscribers import Subscriber
        from mailer.compose.issue import load
        from mailer.delivery.prepare import prepare
    except ImportError:  # the flat layout of before the stages (29cbf06)
        from mailer.pipeline import load, prepare  # type: ignore[no-redef]
        from mailer.subscribers import Subscriber  # type: ignore[no-redef]

    reader = Subscriber("reader0@example.org", "Reader 0", "Reader", "0", "en")
    return len(prepare(load(project / ISSUE), real_send=False).factory.build(reader).data)


if __name__ == "__main__":
    main()
