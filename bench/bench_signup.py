"""Sign-ups through ``mailer serve``, and a send to a million readers beside 100,000 sign-ups.

Run from the repository root::

    .venv/bin/python bench/bench_signup.py [--seconds 10] [--connections 8] [--count 1000000]

First the real ``mailer serve`` (waitress) in a child process on loopback, in a copy of the
project with a sign-up form, driven by wrk (Debian's ``wrk``): each request is the form
POSTed for a new address, with the form's cookie and CSRF field as a browser sends them, so
each one records a pending sign-up and writes its confirmation email to the outbox. The
limit per client is raised for the run (every request comes from one address).

Then ``mailer send --dry-run`` in a child process for ``--count`` readers in the CSV, alone
and with 100,000 confirmed sign-ups in the store (half of them also in the CSV, in another
language; half new): peak RSS from ``os.wait4``. Targets (issue #20): 500 sign-ups a second
on 2 cores; under 100 MB for a million readers with 100,000 sign-ups.
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
from benchlib import ROOT, machine, write_section
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


def project_in(folder: Path) -> Path:
    project = folder / "project"
    project.mkdir(parents=True)
    text = (ROOT / "mailer.toml").read_text(encoding="utf-8").replace(
        "[list]\n", '[list]\nsubscribe_url = "https://turkiye.iom.int/newsletter/subscribe"\n', 1
    )
    (project / "mailer.toml").write_text(text + SETTINGS, encoding="utf-8")
    for name in ("templates", "issues"):
        shutil.copytree(ROOT / name, project / name)
    return project


def sign_ups(project: Path, folder: Path, seconds: int, connections: int) -> dict:
    port = free_port()
    env = {**os.environ, "MAILER_UNSUBSCRIBE_SECRET": SECRET}
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
        done = subprocess.run(
            ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "-s", str(script),
             base], check=True, capture_output=True, text=True,
        )
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
            "recorded": recorded, "mails": mails, "output": done.stdout}


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
    cwd = os.getcwd()
    os.chdir(project)
    started = time.monotonic()
    try:
        result = run_child(command, env)
    finally:
        os.chdir(cwd)
    result["seconds"] = time.monotonic() - started
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--count", type=int, default=1_000_000)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install wrk")
    with tempfile.TemporaryDirectory(prefix="bench-signup-") as scratch:
        folder = Path(scratch)
        signed = sign_ups(project_in(folder / "serve"), folder, args.seconds, args.connections)
        print(signed["output"], signed["recorded"], signed["mails"], flush=True)
        project = project_in(folder / "send")
        alone = million(project, args.count, signups=False)
        print(alone, flush=True)
        sent = million(project, args.count, signups=True)
        print(sent, flush=True)
    rows = (
        f"| sign-ups through `mailer serve`, each a new address: recorded, and its "
        f"confirmation email written to the outbox | {signed['rate']:,.0f}/s (mean latency "
        f"{signed['latency']}, {signed['errors']} non-2xx; {signed['recorded']:,} recorded, "
        f"{signed['mails']:,} emails) | 500/s |\n"
        f"| `mailer send --dry-run`, {args.count:,} readers in the CSV alone | "
        f"{alone['rss_mb']:,.0f} MB peak RSS, {alone['seconds']:,.0f} s | |\n"
        f"| `mailer send --dry-run`, {args.count:,} readers in the CSV and {SIGNUPS:,} "
        f"confirmed sign-ups | {sent['rss_mb']:,.0f} MB peak RSS, {sent['seconds']:,.0f} s "
        f"| 100 MB |"
    )
    body = f"""
## Sign-ups (`bench/bench_signup.py`)

Machine: {machine()}. Measured {time.strftime('%Y-%m-%d')} with:

    .venv/bin/python bench/bench_signup.py --seconds {args.seconds} --connections \
{args.connections} --count {args.count}

The real `mailer serve` (waitress, 8 threads) on loopback with the load from wrk (2 threads,
{args.connections} connections) on the same 2 cores, each request the form of a new address
with its cookie and CSRF field; then a dry run of `mailer send` in a child process, where half
the sign-ups are also in the CSV (their language overrides the CSV's) and half are new.

| what | result | target |
| --- | ---: | ---: |
{rows}

The send reads the sign-ups from SQLite in pages of 1,000; what it keeps is 13 bytes an
address with a choice of its own (to tell the CSV's from the others), beside the 13 bytes an
address of the CSV's duplicate check.
"""
    write_section("bench_signup", body)
    print(body)


if __name__ == "__main__":
    main()
