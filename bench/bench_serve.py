"""``mailer serve`` under load: one-click unsubscribes a second, and a SendGrid batch.

Run from the repository root::

    .venv/bin/python bench/bench_serve.py [--seconds 10] [--connections 8]

It starts the real command (waitress) in a child process on loopback, in a copy of the
project, and drives it with wrk (Debian's package ``wrk``; a small C load generator, so that
the client does not eat the 2 cores it shares with the server): RFC 8058 one-click POSTs, each
to a different reader's signed link, so every request is a new row in the suppression store.
Then it times the whole HTTP request of a signed 1,000-event SendGrid batch, verified and
recorded in one transaction. Targets (issue #10): at least 500 one-click unsubscribes a second
on 2 cores; a 1,000-event batch under 200 ms.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from benchlib import ROOT, machine, write_section
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sinks import free_port, wait_for

from mailer.audience.unsubscribe import UnsubscribeLinks

SECRET = "benchmark-only-unsubscribe-secret-0123456789"
LIST_ID = "newsletter.turkiye.iom.int"
TOKENS = 200_000  # distinct readers wrk can unsubscribe, more than a run can reach
BATCHES = 20  # SendGrid batches timed

WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = "List-Unsubscribe=One-Click"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
local paths = {}
for line in io.lines("%(paths)s") do paths[#paths + 1] = line end
local next_path = 0
request = function()
  next_path = next_path + 1
  return wrk.format(nil, paths[(next_path %% #paths) + 1])
end
"""


def start_server(project: Path, port: int, public_key: str) -> subprocess.Popen:
    env = {**os.environ, "MAILER_UNSUBSCRIBE_SECRET": SECRET,
           "SENDGRID_WEBHOOK_PUBLIC_KEY": public_key}
    process = subprocess.Popen(
        [sys.executable, "-c", "from mailer.cli import main; main()", "serve", "--port",
         str(port)], cwd=project, env=env, stdout=subprocess.DEVNULL,
    )
    wait_for(port)
    return process


def one_click(base: str, folder: Path, seconds: int, connections: int) -> dict:
    links = UnsubscribeLinks(SECRET, LIST_ID, "/newsletter/unsubscribe?token={token}", None)
    paths = folder / "paths.txt"
    paths.write_text(
        "\n".join(links.targets(f"reader{n}@example.org")[0] for n in range(TOKENS)) + "\n",
        encoding="utf-8",
    )
    script = folder / "one-click.lua"
    script.write_text(WRK_SCRIPT % {"paths": paths}, encoding="utf-8")
    done = subprocess.run(
        ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "-s", str(script), base],
        check=True, capture_output=True, text=True,
    )
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", done.stdout).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout)
    latency = re.search(r"Latency\s+(\S+)", done.stdout).group(1)
    return {"rate": rate, "errors": int(errors.group(1)) if errors else 0, "latency": latency,
            "output": done.stdout}


def sendgrid_batches(base: str, key: ec.EllipticCurvePrivateKey) -> list[float]:
    """Seconds for each whole request: a signed batch of 1,000 events (all suppressing)."""
    seconds = []
    with requests.Session() as session:
        for batch in range(BATCHES):
            events = [
                {"email": f"batch{batch}-{n}@example.org", "timestamp": int(time.time()),
                 "event": "bounce" if n % 2 else "spamreport", "type": "bounce",
                 "reason": "550 5.1.1 The email account that you tried to reach does not exist",
                 "status": "5.1.1", "sg_event_id": f"ev-{batch}-{n}",
                 "sg_message_id": f"sg-{batch}-{n}.filter0001p1las1-1234-5D2E-1.0"}
                for n in range(1000)
            ]
            body = json.dumps(events).encode()
            stamp = str(int(time.time()))
            signature = key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
            headers = {
                "Content-Type": "application/json",
                "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
                "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
            }
            started = time.perf_counter()
            answer = session.post(f"{base}/webhooks/sendgrid", data=body, headers=headers,
                                  timeout=30)
            seconds.append(time.perf_counter() - started)
            if answer.status_code != 200 or answer.json()["recorded"] != 1000:
                raise RuntimeError(f"the batch was not recorded: {answer.status_code} "
                                   f"{answer.text[:200]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed: apt-get install wrk")
    key = ec.generate_private_key(ec.SECP256R1())
    public = base64.b64encode(key.public_key().public_bytes(
        Encoding.DER, PublicFormat.SubjectPublicKeyInfo)).decode()
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as scratch:
        folder = Path(scratch)
        project = folder / "project"
        project.mkdir()
        shutil.copy(ROOT / "mailer.toml", project / "mailer.toml")
        shutil.copytree(ROOT / "templates", project / "templates")
        port = free_port()
        server = start_server(project, port, public)
        base = f"http://127.0.0.1:{port}"
        try:
            clicks = one_click(base, folder, args.seconds, args.connections)
            batches = sendgrid_batches(base, key)
        finally:
            server.terminate()
            server.wait()
    print(clicks["output"])
    median = statistics.median(batches)
    clicks_row = (
        f"{clicks['rate']:,.0f}/s (mean latency {clicks['latency']}, "
        f"{clicks['errors']} non-2xx)"
    )
    batch_row = f"median {median * 1000:.0f} ms, slowest {max(batches) * 1000:.0f} ms of {BATCHES}"
    body = f"""
## `mailer serve` under load (`bench/bench_serve.py`)

Machine: {machine()}. Measured {time.strftime('%Y-%m-%d')} with:

    .venv/bin/python bench/bench_serve.py --seconds {args.seconds} --connections {args.connections}

The real `mailer serve` (waitress, 8 threads) on loopback, in a copy of the project; the
load from wrk (2 threads, {args.connections} connections) on the same 2 cores.

| what | result | target |
| --- | ---: | ---: |
| RFC 8058 one-click unsubscribes, a new reader each, recorded first | {clicks_row} | 500/s |
| a signed SendGrid batch of 1,000 events, the whole HTTP request | {batch_row} | 200 ms |
"""
    write_section("bench_serve", body)
    print(body)


if __name__ == "__main__":
    main()
