"""Webhooks: verifying and reading a signed SendGrid batch of 1,000 events, in process.

Run from the repository root:  .venv/bin/python bench/bench_webhooks.py [--runs 50]
Target: verify + parse of a 1,000-event batch well under 200 ms, the budget of the whole HTTP
request that will carry it (the web app adds its own work around this call).

The batches are built from SendGrid's documented example events (tests/fixtures/webhooks),
each with its own address and event id and our ``mailer_message_id`` custom argument, and are
signed with a P-256 key made here, as SendGrid signs them. Timed: ``SendGridWebhook.handle``
(ECDSA verification of timestamp + body, JSON decoding, one FeedbackEvent per event that
matters), the median of ``--runs``. For comparison, one Mailgun and one Postmark event.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import sys
import time
from collections.abc import Callable
from itertools import cycle, islice

from benchlib import ROOT, machine, median, write_section
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

sys.path.insert(0, str(ROOT / "src"))

from mailer.delivery.message_ids import message_id_for
from mailer.feedback.webhooks.mailgun import MailgunWebhook
from mailer.feedback.webhooks.postmark import PostmarkWebhook
from mailer.feedback.webhooks.sendgrid import SIGNATURE, TIMESTAMP, SendGridWebhook

FIXTURES = ROOT / "tests" / "fixtures" / "webhooks"
BATCH = 1000  # SendGrid's largest
# A realistic batch: half what matters (bounces, drops, deferrals, complaints, unsubscribes),
# half what is ignored (deliveries, opens, clicks). And the worst case: every event matters.
MIXED = ("bounce", "delivered", "dropped", "open", "deferred", "processed", "spamreport",
         "click", "unsubscribe", "delivered")
EVERY_ONE_MATTERS = ("bounce", "blocked", "dropped", "deferred", "spamreport", "unsubscribe",
                     "group_unsubscribe")


def documented(provider: str, name: str) -> bytes:
    return (FIXTURES / provider / f"{name}.json").read_bytes()


def sendgrid_batch(names: tuple[str, ...]) -> bytes:
    """1,000 documented events, each for its own reader and with our Message-ID."""
    events = []
    for n, name in enumerate(islice(cycle(names), BATCH)):
        [event] = json.loads(documented("sendgrid", name))
        address = f"reader{n}@example.org"
        events.append(event | {
            "email": address, "sg_event_id": base64.b64encode(n.to_bytes(16, "big")).decode(),
            "mailer_message_id": message_id_for("2018-03-iom-turkey", address, "iom.int"),
        })
    return json.dumps(events).encode()


def time_call(call: Callable[[], object], runs: int) -> tuple[float, float, float]:
    """Median, fastest and slowest seconds of ``runs`` calls (after one warm-up call)."""
    call()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return median(times), min(times), max(times)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds >= 0.001 else f"{seconds * 1e6:.0f} µs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=50, help="timed calls per row")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})  # one core

    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    sendgrid = SendGridWebhook(base64.b64encode(public).decode())
    now = time.time()
    stamp = str(int(now))

    rows = []
    for label, names in (("half of them suppress or soft-bounce", MIXED),
                         ("every one suppresses or soft-bounces", EVERY_ONE_MATTERS)):
        body = sendgrid_batch(names)
        signature = base64.b64encode(key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256())))
        headers = {SIGNATURE: signature.decode(), TIMESTAMP: stamp}
        parsed = sendgrid.handle(headers, body, now)
        assert len(parsed.events) + parsed.ignored == BATCH
        verify = time_call(lambda: sendgrid.verify(headers, body, now), args.runs)  # noqa: B023
        handle = time_call(lambda: sendgrid.handle(headers, body, now), args.runs)  # noqa: B023
        rows.append((f"SendGrid, {BATCH:,} events ({len(body) / 1024:.0f} KiB), {label}: "
                     f"{len(parsed.events):,} FeedbackEvents", verify, handle))

    mailgun = MailgunWebhook("bench-signing-key")
    token = "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0"
    mac = hmac.new(b"bench-signing-key", (stamp + token).encode(), hashlib.sha256).hexdigest()
    mailgun_body = (b'{"signature": ' + json.dumps(
        {"timestamp": stamp, "token": token, "signature": mac}).encode()
        + b', "event-data": ' + documented("mailgun", "failed-permanent") + b"}")
    rows.append(("Mailgun, one failed (permanent) event",
                 time_call(lambda: mailgun.verify({}, mailgun_body, now), args.runs),
                 time_call(lambda: mailgun.handle({}, mailgun_body, now), args.runs)))

    postmark = PostmarkWebhook("postmark", "bench-password")
    auth = {"Authorization": "Basic " + base64.b64encode(b"postmark:bench-password").decode()}
    postmark_body = documented("postmark", "bounce")
    rows.append(("Postmark, one bounce",
                 time_call(lambda: postmark.verify(auth, postmark_body, now), args.runs),
                 time_call(lambda: postmark.handle(auth, postmark_body, now), args.runs)))

    command = "python bench/bench_webhooks.py" + (
        f" --runs {args.runs}" if args.runs != 50 else "")
    lines = [
        "## Webhooks: verify and parse (`bench/bench_webhooks.py`)",
        "",
        f"Machine: {machine()}; pinned to one core (`sched_setaffinity`)",
        f"Command: `.venv/bin/{command}`",
        "",
        "| request | verify | verify + parse (`handle`) | target |",
        "| --- | ---: | ---: | --- |",
    ]
    for n, (label, verify, handle) in enumerate(rows):
        target = "well under 200 ms" if n < 2 else ""
        lines.append(f"| {label} | {ms(verify[0])} | {ms(handle[0])} "
                     f"(range {ms(handle[1])}–{ms(handle[2])}) | {target} |")
    lines += [
        "",
        f"Median of {args.runs} calls in process, after one warm-up. SendGrid's batches are its",
        "documented example events, each with its own address, event id and our",
        "`mailer_message_id`, signed with a P-256 key as SendGrid signs them; verify is the",
        "ECDSA check of timestamp + body, parse decodes the JSON and makes one FeedbackEvent",
        "(with its raw JSON) per event that matters. 200 ms is the budget of the whole HTTP",
        "request; the web app's own work comes on top.",
    ]
    write_section("bench_webhooks", "\n".join(lines))


if __name__ == "__main__":
    main()
