"""Personalised messages per second for the example issue: the fast path against the naive way.

Run from the repository root:  .venv/bin/python bench/bench_messages.py [--count 20000]
Targets (issue #3): at least 5,000 complete personalised messages a second on one core (under
200 µs each), and at least 20 times the naive way (a full ``EmailMessage`` per subscriber).

The issue is rendered once, as ``mailer send`` does; only building each subscriber's message is
timed, from the subscriber to the finished bytes (``MessageFactory.build``, or ``personalise``
plus ``ReferenceBuilder.to_bytes`` for the naive way). Every message is complete: headers, both
parts with the subscriber's own values and unsubscribe link, and the embedded images.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterator
from email import message_from_bytes, policy
from itertools import cycle, islice
from pathlib import Path

from benchlib import (
    ROOT,
    issue_copy,
    machine,
    median,
    project_scratch,
    three_editions,
    write_section,
)
from dkim import dknewkey
from reference_message import ReferenceBuilder

from mailer.audience.subscribers import Subscriber
from mailer.compose.editions import load_editions
from mailer.compose.issue import load
from mailer.delivery.message import MessageFactory
from mailer.delivery.prepare import prepare, prepare_editions

ISSUE = "issues/2018-03-iom-turkey.yaml"
RUNS = 5  # the fast path is timed this many times; the median is reported

NAMES = [  # (name, first name, last name, language): Turkish, Arabic and English readers
    ("Ayşe Yılmaz", "Ayşe", "Yılmaz", "tr"),
    ("Çağrı Öztürk", "Çağrı", "Öztürk", "tr"),
    ("ليلى حداد", "ليلى", "حداد", "ar"),
    ("Mehmet Demir", "Mehmet", "Demir", "tr"),
    ("Sarah O'Connor", "Sarah", "O'Connor", "en"),
    ("", "", "", ""),
]


def subscribers(count: int) -> Iterator[Subscriber]:
    """``count`` different subscribers (each address is new, so each message differs)."""
    for number, (name, first, last, language) in enumerate(islice(cycle(NAMES), count)):
        yield Subscriber(f"reader{number}@example.org", name, first, last, language)


def time_per_message(build: Callable[[Subscriber], bytes], count: int) -> tuple[float, int]:
    """Seconds per message building ``count`` messages, and their total size in bytes."""
    readers = list(subscribers(count))
    total = 0
    start = time.perf_counter()
    for reader in readers:
        total += len(build(reader))
    return (time.perf_counter() - start) / count, total


def personalised_copy(folder: Path) -> Path:
    """The example issue with merge fields in the subject, preheader and lead (3 fields)."""

    def add_fields(data: dict) -> None:
        data["subject"] += ", {{ subscriber.first_name | default('dear reader') }}"
        data["preheader"] = "Hello {{ subscriber.first_name | default('reader') }}, " + (
            data["preheader"]
        )
        data["lead"]["body"] = "{{ subscriber.name | title }}: " + data["lead"]["body"]

    return issue_copy(folder, ISSUE, "personalised.yaml", add_fields)


def dkim_factory(folder: Path) -> MessageFactory | None:
    """The example issue signed with a fresh RSA-2048 key, as settings name it; None without
    openssl (dkimpy's key helper needs it)."""
    if not Path(dknewkey.OPENSSL_BINARY).exists():
        return None
    key = folder / "dkim.key"
    dknewkey.GenRSAKeys(str(key), verbose=False)
    os.environ["MAILER_DKIM_KEY_FILE"] = str(key)  # overrides send.dkim_key_file
    try:
        return prepare(load(ROOT / ISSUE), real_send=False).factory
    finally:
        del os.environ["MAILER_DKIM_KEY_FILE"]


def check_equal(factory: MessageFactory, reference: ReferenceBuilder) -> None:
    """A sample of fast messages parses to the same parts as the reference's (tests do more)."""
    for reader in subscribers(len(NAMES)):
        p = factory.personalise(reader)
        fast = message_from_bytes(factory.to_bytes(p), policy=policy.default)
        slow = message_from_bytes(reference.to_bytes(p), policy=policy.default)
        for ours, theirs in zip(fast.walk(), slow.walk(), strict=True):
            if not ours.is_multipart():
                assert ours.get_content() == theirs.get_content()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=20_000, help="fast-path messages per run")
    parser.add_argument("--naive-count", type=int, default=1_000, help="naive-way messages")
    parser.add_argument("--dkim-count", type=int, default=200, help="DKIM-signed messages")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})  # one core

    loaded = load(ROOT / ISSUE)
    factory = prepare(loaded, real_send=False).factory
    reference = ReferenceBuilder(factory.content)
    check_equal(factory, reference)

    def fast(reader: Subscriber) -> bytes:
        return factory.build(reader).data

    def naive(reader: Subscriber) -> bytes:
        return reference.to_bytes(factory.personalise(reader))

    time_per_message(fast, 1_000)  # warm up
    fast_runs = [time_per_message(fast, args.count) for _ in range(RUNS)]
    fast_s = median([seconds for seconds, _ in fast_runs])
    size = fast_runs[0][1] / args.count
    naive_s, _ = time_per_message(naive, args.naive_count)

    rows = [
        ("fast path: `MessageFactory.build`", args.count, fast_s),
        ("naive: `EmailMessage` per subscriber (`ReferenceBuilder`)", args.naive_count, naive_s),
    ]
    with project_scratch() as tmp:
        folder = Path(tmp)
        merged = prepare(load(personalised_copy(folder), ROOT / "mailer.toml"), real_send=False)

        def with_fields(reader: Subscriber) -> bytes:
            return merged.factory.build(reader).data

        time_per_message(with_fields, 1_000)
        merged_s = median([time_per_message(with_fields, args.count)[0] for _ in range(RUNS)])
        rows.append(("fast path, 3 merge fields added (subject, preheader, lead)", args.count,
                     merged_s))
        signed = dkim_factory(folder)
        if signed is not None:

            def with_dkim(reader: Subscriber) -> bytes:
                return signed.build(reader).data

            dkim_s, _ = time_per_message(with_dkim, args.dkim_count)
            rows.append(("fast path + DKIM signature (RSA-2048, dkimpy)", args.dkim_count, dkim_s))
        editions = prepare_editions(load_editions(three_editions(folder, ISSUE)), real_send=False)

        def routed(reader: Subscriber) -> bytes:
            return editions.factory.build(reader).data

        # Side by side, run for run: this machine's speed drifts more than the difference.
        time_per_message(routed, 1_000)
        pairs = [
            (time_per_message(fast, args.count)[0], time_per_message(routed, args.count)[0])
            for _ in range(RUNS)
        ]
        single_s, editions_s = (median([pair[n] for pair in pairs]) for n in (0, 1))
        rows.append(("fast path, 3 editions (en, tr, ar), each reader routed by language",
                     args.count, editions_s))

    command = " ".join([".venv/bin/python bench/bench_messages.py", *sys.argv[1:]])
    lines = [
        "## Personalised messages (`bench/bench_messages.py`)",
        "",
        f"Machine: {machine()}; pinned to one core (`sched_setaffinity`)",
        f"Command: `{command}`",
        f"Issue: `{ISSUE}`, {len(factory.content.images)} images embedded, "
        f"{size / 1024:.0f} KiB a message",
        "",
        "| way | messages | µs / message | messages / s | × naive |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for label, count, seconds in rows:
        lines.append(
            f"| {label} | {count:,} | {seconds * 1e6:,.1f} | {1 / seconds:,.0f} "
            f"| {naive_s / seconds:,.1f} |"
        )
    lines += [
        "",
        "Timed per message: subscriber in, finished bytes out (merge values, signed unsubscribe",
        "link, Message-ID, headers, both quoted-printable parts, the images). The render itself",
        f"(once per issue) is not timed; see `bench_render`. Fast path: median of {RUNS} runs.",
        "Subscribers cycle through Turkish, Arabic, English and empty names, each with its own",
        "address. Targets (issue #3): under 200 µs a message (5,000 a second) on one core, and",
        "at least 20 × the naive way. DKIM signing is optional; dkimpy signs with Python's own",
        "big integers (no OpenSSL), milliseconds a message: a signed send needs more processes.",
        "Editions (issue #13): the example issue with a Turkish and an Arabic edition (which",
        "inherit the images and URLs); the readers' languages route them to all three. Target:",
        f"within 10 % of the single-edition rate, timed in alternating runs: {single_s * 1e6:.1f}",
        f"µs alone, {editions_s * 1e6:.1f} µs routed ({editions_s / single_s - 1:+.1%}).",
    ]
    body = "\n".join(lines)
    print(body)
    write_section("bench_messages", body)


if __name__ == "__main__":
    main()
