"""Sign-ups through ``mailer serve``, and a send to a million readers beside 100,000 sign-ups.

Run from the repository root::

    .venv/bin/python bench/bench_signup.py [--seconds 10] [--connections 8] [--count 1000000]
    .venv/bin/python bench/bench_signup.py --base COMMIT --rounds 3 --count 0

First the real ``mailer serve`` (waitress) in a child process on loopback, in a copy of the
project with a sign-up form, driven by wrk (Debian's ``wrk``): each request is the form
POSTed for a new address, with the form's cookie and CSRF field as a browser sends them, so
each one records a pending sign-up and writes its confirmation email to the outbox. The
limit per client is raised for the run (every request comes from one address). Besides
wrk's rate, the emails found in the outbox once the server has stopped are counted, and the
CPU time the server process used while wrk ran (user + system, from ``/proc``) is divided by
them: a figure the other processes on the machine change far less than the rate. With
``--base COMMIT`` the sign-ups of that commit and of this checkout run in ``--rounds``
interleaved rounds (A B, B A, ...), each in a fresh project, so that the machine's drift hits
both alike.

Then, unless ``--count 0``, ``mailer send --dry-run`` in a child process for ``--count``
readers in the CSV, alone and with 100,000 confirmed sign-ups in the store (half of them also
in the CSV, in another language; half new): peak RSS from ``os.wait4``. Targets (issue #20):
500 sign-ups a second on 2 cores; under 100 MB for a million readers with 100,000 sign-ups.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import requests
from bench_million import generate
from benchlib import ROOT, base_checkout, commit_of, machine, mailer_from, write_section
from sinks import free_port, run_child, wait_for

from mailer.audience.store import SuppressionStore

SECRET = "benchmark-only-unsubscribe-secret-0123456789"
ISSUE = "issues/2018-03-iom-turkey.yaml"
SIGNUPS = 100_000
ADDRESSES = 200_000  # distinct addresses wrk can sign up, more than a run reaches
SETTINGS = """
[consent.wording]
en = "I agree to receive the IOM Turkey newsletter by email."
tr = "IOM Türkiye bültenini e-postayla almayı kabul ediyorum."
ar = "أوافق على تلقي نشرة المنظمة الدولية للهجرة في تركيا بالبريد الإلكتروني."

[signup]
per_client_per_hour = 100000000
"""
WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Cookie"] = "%(cookie)s"
local bodies = {}
for line in io.lines("%(bodies)s") do bodies[#bodies + 1] = line end
local threads = 0
setup = function(thread)
  thread:set("id", threads)
  threads = threads + 1
end
local next_body = 0
init = function(args)
  next_body = wrk.thread:get("id")  -- each thread its own addresses: 0, 2, 4 ... and 1, 3 ...
end
request = function()
  next_body = next_body + 2
  return wrk.format(nil, "/newsletter/subscribe", nil, bodies[(next_body %% #bodies) + 1])
end
"""


def project_in(folder: Path, tree: Path = ROOT) -> Path:
    """A copy of ``tree``'s project with a sign-up form."""
    project = folder / "project"
    project.mkdir(parents=True)
    text = (tree / "mailer.toml").read_text(encoding="utf-8").replace(
        "[list]\n", '[list]\nsubscribe_url = "https://turkiye.iom.int/newsletter/subscribe"\n', 1
    )
    (project / "mailer.toml").write_text(text + SETTINGS, encoding="utf-8")
    for name in ("templates", "issues"):
        shutil.copytree(tree / name, project / name)
    return project


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sign_ups(project: Path, folder: Path, seconds: int, connections: int,
             src: Path | None = None) -> dict:
    """wrk's figures for ``seconds`` of sign-ups, the sign-ups and emails found afterwards,
    and the server's CPU time while wrk ran; the server runs ``src``'s mailer when given."""
    port = free_port()
    env = {**os.environ, "MAILER_UNSUBSCRIBE_SECRET": SECRET}
    if src is not None:
        env["PYTHONPATH"] = str(src)
    server = subprocess.Popen(
        [sys.executable, "-c", "from mailer.cli import main; main()", "serve", "--port",
         str(port)], cwd=project, env=env, stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(port)
        page = requests.get(f"{base}/newsletter/subscribe?lang=en", timeout=10)
        fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', page.text))
        cookie = "; ".join(f"{k}={v}" for k, v in page.cookies.items())
        bodies = folder / "bodies.txt"
        common = "&".join(f"{k}={quote(v)}" for k, v in fields.items())
        bodies.write_text("".join(
            f"{common}&email=signup{n}%40example.org&name=&language=en&consent=yes&website=\n"
            for n in range(ADDRESSES)
        ), encoding="utf-8")
        script = folder / "signup.lua"
        script.write_text(WRK_SCRIPT % {"cookie": cookie, "bodies": bodies}, encoding="utf-8")
        cpu = cpu_seconds(server.pid)
        done = subprocess.run(
            ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "-s", str(script),
             base], check=True, capture_output=True, text=True,
        )
        cpu = cpu_seconds(server.pid) - cpu
        load = os.getloadavg()[0]
    finally:
        server.terminate()
        server.wait()
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", done.stdout).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout)
    latency = re.search(r"Latency\s+(\S+)", done.stdout).group(1)
    with SuppressionStore(project / ".mailer" / "suppressions.sqlite3") as store:
        recorded = store.query("SELECT count(*) FROM signups")[0][0]
    mails = sum(1 for _ in (project / "outbox").rglob("*.eml"))
    return {"rate": rate, "errors": int(errors.group(1)) if errors else 0, "latency": latency,
            "recorded": recorded, "mails": mails, "mail_rate": mails / seconds,
            "cpu_ms": cpu / max(mails, 1) * 1000, "load": load, "output": done.stdout}


def signup_row(signed: dict) -> str:
    """The sign-ups' figures, as a cell of the report."""
    return (f"{signed['rate']:,.0f}/s ({signed['mail_rate']:,.0f} emails/s written; mean "
            f"latency {signed['latency']}, {signed['errors']} non-2xx; {signed['recorded']:,} "
            f"recorded, {signed['mails']:,} emails; {signed['cpu_ms']:.2f} ms server CPU a "
            f"sign-up; load average {signed['load']:.1f})")


def add_signups(project: Path) -> None:
    """100,000 confirmed sign-ups: the first half also in the CSV (in Arabic), the rest new."""
    path = project / ".mailer" / "suppressions.sqlite3"
    with SuppressionStore(path):  # created and migrated
        pass
    now = time.time()
    rows = (
        (address, address, "", "ar" if n < SIGNUPS // 2 else "tr", json.dumps(["partners"]),
         "confirmed", "form", now, now, "I agree.", "sha256:0", None, None, None)
        for n in range(SIGNUPS)
        for address in [f"reader{n}@example.org" if n < SIGNUPS // 2
                        else f"new{n}@example.org"]
    )
    with sqlite3.connect(path) as db:
        db.executemany(
            "INSERT INTO signups (address, email, name, language, topics, status, source, "
            "signed_up_at, confirmed_at, wording, wording_version, wording_commit, signup_ip, "
            "confirm_ip) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows,
        )


def million(project: Path, count: int, *, signups: bool) -> dict:
    """The dry run's peak RSS and wall time, with or without the sign-ups in the store."""
    subscribers = project / "subscribers.csv"
    if not subscribers.exists():
        generate(subscribers, count)
    if signups:
        add_signups(project)
    env = {**os.environ, "MAILER_UNSUBSCRIBE_SECRET": SECRET}
    command = [sys.executable, "-c", "from mailer.cli import main; main()", "send", ISSUE,
               "--dry-run", "--subscribers", str(subscribers)]
    started = time.monotonic()
    result = run_child(command, env, project)
    result["seconds"] = time.monotonic() - started
    return result


def versus(args: argparse.Namespace, folder: Path) -> str:
    """The sign-ups of ``args.base`` and of this checkout in interleaved rounds: the report's
    table."""
    with base_checkout(args.base) as tree:
        sides = [(f"before ({commit_of(args.base)})", tree),
                 (f"now ({commit_of('HEAD')})", ROOT)]
        for _, side in sides:
            mailer_from(side / "src")
        runs: dict[str, list[dict]] = {label: [] for label, _ in sides}
        for round_ in range(args.rounds):
            for n, (label, side) in enumerate(sides if round_ % 2 == 0 else sides[::-1]):
                scratch = folder / f"round-{round_}-{n}"
                signed = sign_ups(project_in(scratch, side), scratch, args.seconds,
                                  args.connections, side / "src")
                runs[label].append(signed)
                print(f"round {round_ + 1} {label}: {signup_row(signed)}", flush=True)
    rows = "\n".join(
        f"| {label} | " + "; ".join(f"{run['rate']:,.0f}" for run in found) + " | "
        + "; ".join(f"{run['mail_rate']:,.0f}" for run in found) + " | "
        + "; ".join(f"{run['cpu_ms']:.2f}" for run in found) + " | "
        + "; ".join(f"{run['load']:.1f}" for run in found) + " |"
        for label, found in runs.items()
    )
    return ("| code | sign-ups/s (wrk), each round | emails written/s | server CPU ms a sign-up "
            "| load average |\n| --- | ---: | ---: | ---: | ---: |\n" + rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--count", type=int, default=1_000_000,
                        help="readers of the send's dry run; 0: sign-ups only")
    parser.add_argument("--base", help="also measure the sign-ups of this commit, interleaved")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (--base)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install wrk")
    with tempfile.TemporaryDirectory(prefix="bench-signup-") as scratch:
        folder = Path(scratch)
        if args.base:
            table = versus(args, folder)
        else:
            signed = sign_ups(project_in(folder / "serve"), folder, args.seconds,
                              args.connections)
            print(signed["output"], flush=True)
            table = ("| what | result | target |\n| --- | ---: | ---: |\n| sign-ups through "
                     "`mailer serve`, each a new address: recorded, and its confirmation email "
                     f"written to the outbox | {signup_row(signed)} | 500/s |")
        write_signups(args, table)
        if args.count:
            project = project_in(folder / "send")
            alone = million(project, args.count, signups=False)
            print(alone, flush=True)
            sent = million(project, args.count, signups=True)
            print(sent, flush=True)
            write_send(args, alone, sent)


def write_signups(args: argparse.Namespace, table: str) -> None:
    base = f" --base {args.base} --rounds {args.rounds}" if args.base else ""
    body = f"""
## Sign-ups (`bench/bench_signup.py`)

Machine: {machine()}. Measured {time.strftime('%Y-%m-%d')} with:

    .venv/bin/python bench/bench_signup.py --seconds {args.seconds} --connections \
{args.connections}{base} --count {args.count}

The real `mailer serve` (waitress) on loopback with the load from wrk (2 threads,
{args.connections} connections) on the same 2 cores, each request the form of a new address
with its cookie and CSRF field: each sign-up recorded in SQLite and its confirmation email
written to the outbox. The emails are counted in the outbox once the server has stopped; the
server's CPU time while wrk ran (user + system, all its threads) is divided by them. The load
average is the one-minute figure at the end of the run (other work on the machine included).

{table}
"""
    write_section("bench_signup", body)
    print(body)


def write_send(args: argparse.Namespace, alone: dict, sent: dict) -> None:
    body = f"""
## A send to a grown list (`bench/bench_signup.py`)

Machine: {machine()}. Measured {time.strftime('%Y-%m-%d')} with:

    .venv/bin/python bench/bench_signup.py --count {args.count}

A dry run of `mailer send` in a child process, where half the sign-ups are also in the CSV
(their language overrides the CSV's) and half are new.

| what | result | target |
| --- | ---: | ---: |
| `mailer send --dry-run`, {args.count:,} readers in the CSV alone | \
{alone['rss_mb']:,.0f} MB peak RSS, {alone['seconds']:,.0f} s | |
| `mailer send --dry-run`, {args.count:,} readers in the CSV and {SIGNUPS:,} confirmed \
sign-ups | {sent['rss_mb']:,.0f} MB peak RSS, {sent['seconds']:,.0f} s | 100 MB |

The send reads the sign-ups from SQLite in pages of 1,000; what it keeps is 13 bytes an
address with a choice of its own (to tell the CSV's from the others), beside the 13 bytes an
address of the CSV's duplicate check.
"""
    write_section("bench_signup_send", body)
    print(body)


if __name__ == "__main__":
    main()
