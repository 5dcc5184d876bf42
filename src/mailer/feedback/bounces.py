"""``mailer bounces``: read the bounce mailbox, and suppress whom it says to.

Each new message of the mailbox (a Maildir, or an IMAP folder) is judged
(:mod:`mailer.feedback.mailbox`): a permanent bounce, a soft one, a complaint, an unsubscribe
by mail, an auto-reply, or something not understood. What it says is recorded in the
suppression store first (each event once, by its message's id), and only then is the message
moved to the ``processed`` folder: a crash half-way loses and doubles nothing, and a rerun is
idempotent. A message not understood is left where it is, unread, for a person.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from itertools import islice
from pathlib import Path

from mailer.audience.project_store import store_for
from mailer.audience.unsubscribe import SECRET_VARIABLE, UnsubscribeLinks
from mailer.audience.verp import Verp, VerpTokens
from mailer.console import Console
from mailer.credentials import secret
from mailer.delivery.ledger import Ledger
from mailer.errors import UsageError
from mailer.feedback.mailbox.base import Mailbox
from mailer.feedback.mailbox.classify import classify, parse
from mailer.feedback.mailbox.verdict import Verdict
from mailer.feedback.suppressions import project
from mailer.settings import LoadedSettings, load_settings

IMAP_PASSWORD = "MAILER_IMAP_PASSWORD"
BATCH = 400  # messages judged, then recorded in one transaction, then moved
PARALLEL_FROM = 500  # messages from which each core judges its share
KINDS = {  # verdict kind -> how the summary names it
    "bounce": "bounces", "soft_bounce": "soft bounces", "complaint": "complaints",
    "unsubscribe": "unsubscribes", "auto_reply": "auto-replies", "unknown": "left unread",
}


def read_bounces(
    console: Console, *, settings: Path | None = None, maildir: Path | None = None,
    imap: str | None = None,
) -> None:
    """Judge every waiting message of the mailbox, record, and move what was handled.

    MailboxError (exit 2) when the mailbox cannot be read; messages are never deleted.
    """
    if (maildir is None) == (imap is None):
        raise UsageError("name one bounce mailbox: --maildir PATH or --imap imaps://USER@HOST/BOX")
    loaded = project(settings)
    signing = secret(SECRET_VARIABLE, "reading the bounce mailbox (it checks unsubscribe tokens)")
    tally: Counter[str] = Counter()
    suppressed: set[str] = set()  # addresses: one reader's bounce read twice counts once
    with store_for(loaded) as store, _mailbox(maildir, imap) as box:
        waiting = box.waiting()
        with _judges(loaded, signing, len(waiting)) as judge:
            # The next batch is being judged while this one is recorded and moved.
            batches = (_fetched(box, waiting[n:n + BATCH]) for n in range(0, len(waiting), BATCH))
            pending = [(keys, judge(datas)) for keys, datas in islice(batches, 1)]
            while pending:
                keys, judged = pending.pop()
                pending += [(keys, judge(datas)) for keys, datas in islice(batches, 1)]
                verdicts = judged.result()
                # Recorded before any of them moves: a crash between the two only means they
                # are judged again, and their events (by message id) are recorded once.
                events = [event for verdict in verdicts for event in verdict.events]
                suppressed |= store.record(events).newly_suppressed
                for key, verdict in zip(keys, verdicts, strict=True):
                    if verdict.handled:
                        box.move_to_processed(key)
                    tally[verdict.kind] += 1
    read = sum(tally.values())
    console.say(
        f"Read {read:,} messages: "
        + ", ".join(f"{tally[kind]:,} {name}" for kind, name in KINDS.items() if tally[kind])
        + f"; {_addresses(len(suppressed))} newly suppressed." if read else "No new messages."
    )
    if tally["unknown"]:
        console.say(f"{tally['unknown']:,} messages were not understood and were left where "
                    "they are, unread, for a person to look at.")


def _addresses(count: int) -> str:
    return f"{count:,} address" if count == 1 else f"{count:,} addresses"


class Judge:
    """Judges messages against what was sent: the VERP tokens and feedback in the store, the
    unsubscribe tokens, the send ledger. Made once per process (it opens both files)."""

    def __init__(self, loaded: LoadedSettings, signing: str) -> None:
        listed = loaded.settings.list
        self._links = UnsubscribeLinks(signing, listed.id, listed.unsubscribe_url,
                                       listed.unsubscribe_mailto)
        self._mailto = listed.unsubscribe_mailto
        address = loaded.settings.bounces.address
        self._verp = Verp(signing, address) if address else None
        self._store = store_for(loaded)
        self._tokens = VerpTokens(self._store)
        ledger = loaded.resolve(loaded.settings.send.ledger)
        self._ledger = Ledger(ledger, read_only=True) if ledger.exists() else None

    def __call__(self, datas: Sequence[bytes]) -> list[Verdict]:
        return [
            classify(parse(data), verp=self._by_verp, unsubscribe=self._links.read,
                     unsubscribe_mailto=self._mailto, sent_to=self._sent_to)
            for data in datas
        ]

    def _by_verp(self, address: str) -> tuple[str, str] | None:
        token = self._verp.token_of(address) if self._verp is not None else None
        return self._tokens.lookup(token) if token else None

    def _sent_to(self, issue_id: str | None, address: str) -> bool:
        return self._ledger is not None and self._ledger.was_sent(issue_id, address)

    def close(self) -> None:
        self._store.close()
        if self._ledger is not None:
            self._ledger.close()


def _fetched(box: Mailbox, keys: Sequence[str]) -> tuple[list[str], list[bytes]]:
    """The keys and bytes of the messages still there (another client may have moved one)."""
    found: list[tuple[str, bytes]] = []
    for key in keys:
        data = box.fetch(key)
        if data is not None:
            found.append((key, data))
    return [key for key, _ in found], [data for _, data in found]


class _Judged:
    """Verdicts of one batch, to be collected: the parts workers judge, or ones already made."""

    def __init__(self, parts: Sequence[Future[list[Verdict]]] = (),
                 verdicts: list[Verdict] | None = None) -> None:
        self._parts = parts
        self._verdicts = verdicts

    def result(self) -> list[Verdict]:
        if self._verdicts is None:
            self._verdicts = [verdict for part in self._parts for verdict in part.result()]
        return self._verdicts


@contextmanager
def _judges(
    loaded: LoadedSettings, signing: str, count: int
) -> Iterator[Callable[[Sequence[bytes]], _Judged]]:
    """Judges messages in batches: in this process for a few messages; for many, a process
    per core, as parsing a delivery report is pure Python and most of the time a mailbox
    takes. Each batch's verdicts are collected when needed, so the next batch can be judged
    while this one is recorded."""
    workers = min(os.cpu_count() or 1, count // PARALLEL_FROM)
    if workers < 2:
        judge = Judge(loaded, signing)
        try:
            yield lambda datas: _Judged(verdicts=judge(datas))
        finally:
            judge.close()
        return
    context = multiprocessing.get_context("spawn")  # the same on Windows; no copied sqlite
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                             initargs=(loaded.path, signing)) as pool:
        def judge_in_parallel(datas: Sequence[bytes]) -> _Judged:
            chunk = max(1, -(-len(datas) // workers))
            return _Judged([pool.submit(_judge_in_worker, datas[n:n + chunk])
                            for n in range(0, len(datas), chunk)])

        yield judge_in_parallel


_worker_judge: Judge | None = None


def _start_worker(settings: Path, signing: str) -> None:
    global _worker_judge
    _worker_judge = Judge(load_settings(settings), signing)


def _judge_in_worker(datas: Sequence[bytes]) -> list[Verdict]:
    assert _worker_judge is not None
    return _worker_judge(datas)


def _mailbox(maildir: Path | None, imap: str | None) -> Mailbox:
    if maildir is not None:
        from mailer.feedback.mailbox.maildir import open_maildir

        return open_maildir(maildir)
    from mailer.feedback.mailbox.imap import open_imap

    return open_imap(str(imap), secret(IMAP_PASSWORD, f"reading the mailbox {imap}"))
