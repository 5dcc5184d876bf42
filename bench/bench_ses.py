"""``mailer send`` through ``ses://`` to a local SES: peak memory and messages a second.

Run from the repository root::

    .venv/bin/python bench/bench_ses.py [--count 1000000] [--concurrency 8]

The local SES is tests/local_ses.py: moto's server app (moto's server mode), in its own process
(served by waitress), behind the thin layer the tests use. The sending identity is verified
through moto's API and the account's quota (``GetSendQuota``, which the layer answers with a
MaxSendRate of 100,000 a second, so that the rate measured is mailer's own) is read as in a
real send. Each ``SendEmail`` (SigV4-signed, one raw message a reader) is read as SES's v2 API
takes it (the JSON parsed, a recipient and raw content required) and answered as SES answers
it, with a MessageId, by the layer without moto keeping the message: a million raw messages
would fill moto's memory, not mailer's. The send runs in a child process: peak RSS from
``os.wait4``; the local SES's CPU from /proc. Target (issue #23): under 100 MB for a million
readers.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from bench_million import ISSUE, SECRET, generate
from benchlib import ROOT, copy_project, machine, write_section
from sinks import free_port, run_child

REGION = "eu-central-1"
KEY_ID, SECRET_KEY = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "local_ses.py"), str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == b"ready"
        requests.post(f"{url}/_rules", json={"keep": False, "rate": 100_000}, timeout=10)
        import botocore.session

        botocore.session.Session().create_client(
            "sesv2", region_name=REGION, endpoint_url=url, aws_access_key_id=KEY_ID,
            aws_secret_access_key=SECRET_KEY,
        ).create_email_identity(EmailIdentity="iom.int")
        with tempfile.TemporaryDirectory(prefix="bench-ses-") as folder:
            project = copy_project(Path(folder))
            subscribers = project / "subscribers.csv"
            generate(subscribers, args.count)
            env = {**os.environ, "MAILER_UNSUBSCRIBE_SECRET": SECRET,
                   "AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                   "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
            command = [
                sys.executable, "-c", "from mailer.cli import main; main()", "send", ISSUE,
                "--yes", "--transport", f"ses://{REGION}?endpoint={url}",
                "--subscribers", str(subscribers), "--ledger", "ses.sqlite3",
                "--concurrency", str(args.concurrency),
            ]
            result = run_child(command, env, project)
        calls = requests.get(f"{url}/_sent", timeout=30).json()["calls"]
        server_cpu = cpu_seconds(server.pid)
    finally:
        server.kill()
        server.wait()
    print(result["out"][-400:], flush=True)
    rate = args.count / result["wall"]
    sending = float(re.findall(r"Done: sent [\d,]+ now \(([\d,.]+)/s\)", result["out"])[-1]
                    .replace(",", ""))
    row = (f"| {args.count:,} | {calls:,} | {result['rss_mb']:,.0f} MB | "
           f"{result['wall']:,.0f} s | {rate:,.0f} | {sending:,.0f} | "
           f"{result['cpu'] / args.count * 1000:,.2f} ms | {server_cpu / calls * 1000:,.2f} ms |")
    print(row, flush=True)
    write_section("bench_ses", f"""## Amazon SES (`bench/bench_ses.py`)

Machine: {machine()}. Measured {time.strftime('%Y-%m-%d')} with:

    .venv/bin/python bench/bench_ses.py --count {args.count} --concurrency {args.concurrency}

`mailer send {ISSUE} --transport ses://{REGION}?endpoint=...` for {args.count:,} generated
subscribers, in a child process, against the tests' local SES (moto's server app behind a thin
layer, served by waitress in its own process, answering each `SendEmail` without keeping the
message). *Wall* and the first rate include start-up, rendering and filling the ledger; *send
rate* is the command's own figure for the sending phase. CPU a message is the sending
process's (user + system, start-up included), CPU a call the local SES's.

| readers | SendEmail calls | peak RSS | wall | messages a second | send rate | CPU a message \
| CPU a call (local SES) |
|---:|---:|---:|---:|---:|---:|---:|---:|
{row}

Each reader is one signed HTTPS request to SES (its v2 API takes one raw message a call). The
transport signs it with SigV4 itself (a few lines of `hmac`, checked against AWS's published
test suite) and posts it over a `requests` session, as the other ESP transports do: no botocore
client (about 3 MB a worker, and 7.5 MB of imports for botocore's session), and one message
claimed, built and held by a worker at a time rather than ten. Target (issue #23): under
100 MB for a million readers. In production the rate is the account's own maximum send rate,
which the send keeps to.
""")


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds of a running process so far (Linux's /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    main()
