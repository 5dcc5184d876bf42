"""``mailer bounces`` over a Maildir of 10,000 delivery status notifications.

Run from the repository root::

    .venv/bin/python bench/bench_bounces.py [--count 10000]

It copies the project into a temporary folder with ``[bounces] address`` set, gives the
suppression store a VERP token for each of ``--count`` readers (as a send does), writes one
Postfix DSN (the test fixture ``postfix-5.1.1-user-unknown.eml``) per reader into a Maildir,
returned to that reader's VERP address, and times the real command in a child process: each
message is read, judged, recorded in the store, and moved to ``.processed``. Target (issue
#11): at least 1,000 messages a second.
"""

from __future__ import annotations

import argparse
import mailbox
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from benchlib import ROOT, machine, write_section
from sinks import run_child

from mailer.audience.store import SuppressionStore
from mailer.audience.verp import Verp, VerpTokens

SECRET = "benchmark-only-unsubscribe-secret-0123456789"
FIXTURE = ROOT / "tests" / "fixtures" / "mailbox" / "postfix-5.1.1-user-unknown.eml"
ISSUE = "2018-03-iom-turkey"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--count", type=int, default=10_000)
    args = parser.parse_args()
    verp = Verp(SECRET, "bounces@example.org")
    template = FIXTURE.read_bytes()
    with tempfile.TemporaryDirectory(prefix="bench-bounces-") as scratch:
        project = Path(scratch)
        settings = (ROOT / "mailer.toml").read_text(encoding="utf-8")
        (project / "mailer.toml").write_text(
            settings + '\n[bounces]\naddress = "bounces@example.org"\n', encoding="utf-8"
        )
        shutil.copytree(ROOT / "templates", project / "templates")
        readers = [f"reader{n}@example.net" for n in range(args.count)]
        with SuppressionStore(project / ".mailer" / "suppressions.sqlite3") as store:
            VerpTokens(store).register(ISSUE, ((verp.token(ISSUE, r), r) for r in readers))
        box = mailbox.Maildir(project / "bounces", create=True)
        for n, reader in enumerate(readers):
            box.add(
                template.replace(b"bounces+goik6llguu6hnmid@example.org",
                                 verp.envelope(ISSUE, reader).encode())
                .replace(b"nobody-here@example.net", reader.encode())
                .replace(b"20180313072158.4B7F71C0A3B", f"20180313072158.{n:011X}".encode())
            )
        env = {**os.environ, "MAILER_UNSUBSCRIBE_SECRET": SECRET}
        started = time.monotonic()
        result = run_child([sys.executable, "-c", "from mailer.cli import main; main()",
                            "bounces", "--maildir", "bounces"], env, project)
        seconds = time.monotonic() - started
        with SuppressionStore(project / ".mailer" / "suppressions.sqlite3") as store:
            suppressed = len(store)
        left = len(mailbox.Maildir(project / "bounces", create=False))
    print(result["out"])
    if suppressed != args.count or left:
        raise SystemExit(f"expected {args.count} suppressed and none left, got {suppressed} "
                         f"and {left}")
    body = f"""
## `mailer bounces` (`bench/bench_bounces.py`)

Machine: {machine()}. Measured {time.strftime('%Y-%m-%d')} with:

    .venv/bin/python bench/bench_bounces.py --count {args.count}

The real command over a Maildir of {args.count:,} Postfix DSNs (5.1.1 user unknown), each
returned to its reader's VERP address: read, judged, recorded in the suppression store, moved
to `.processed`; start-up included.

| messages | wall | rate | CPU s | peak RSS | target |
| ---: | ---: | ---: | ---: | ---: | ---: |
| {args.count:,} | {seconds:.1f} s | {args.count / seconds:,.0f}/s | {result['cpu']:.1f} \
| {result['rss_mb']:.0f} MB | 1,000/s |
"""
    write_section("bench_bounces", body)
    print(body)


if __name__ == "__main__":
    main()
