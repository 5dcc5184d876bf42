"""Sign-ups recorded by many threads at once: through the app, as ``mailer serve``'s threads
take them (one connection to the store between them), and through connections of their own
(other processes): each one recorded, the limit per address kept, and an address erased
through one connection refused through the others."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

from test_signup import SECRET, outbox, sign_up, signup_project, store_of

from mailer.audience.signups import Signups
from mailer.audience.store import SuppressionStore
from mailer.settings import settings_for
from mailer.web.app import create_app

THREADS = 8
PER_THREAD = 20  # sign-ups from each client address: [signup] per_client_per_hour


def in_threads(path: Path, work: list[str]) -> Counter[str]:
    """``work`` (addresses) shared out among THREADS threads, each signing up its part
    through a store of its own; what the sign-ups came to."""
    outcomes: Counter[str] = Counter()
    counted = threading.Lock()
    start = threading.Barrier(THREADS)

    def thread(part: list[str]) -> None:
        with SuppressionStore(path) as store:
            signups = Signups(store)
            start.wait()
            for email in part:
                outcome = signups.record_pending(email, name="", language="en", topics=(),
                                                 wording="I agree.", commit=None,
                                                 emails_a_day=3)
                with counted:
                    outcomes[outcome] += 1

    threads = [threading.Thread(target=thread, args=(work[n::THREADS],))
               for n in range(THREADS)]
    for each in threads:
        each.start()
    for each in threads:
        each.join()
    return outcomes


def test_the_apps_threads_record_every_sign_up_and_write_every_email(tmp_path: Path) -> None:
    issue = signup_project(tmp_path / "news")
    root = issue.parents[1]
    app = create_app(settings_for(root, root / "mailer.toml"),
                     environ={"MAILER_UNSUBSCRIBE_SECRET": SECRET})
    statuses: list[int] = []
    start = threading.Barrier(THREADS)

    def thread(n: int) -> None:
        client = app.test_client()  # a browser of its own: its own form cookie
        start.wait()
        for k in range(PER_THREAD):
            statuses.append(sign_up(client, f"reader{n}-{k}@example.org", f"10.0.0.{n}"))

    threads = [threading.Thread(target=thread, args=(n,)) for n in range(THREADS)]
    for each in threads:
        each.start()
    for each in threads:
        each.join()
    assert statuses == [200] * THREADS * PER_THREAD
    with store_of(issue) as store:
        assert Signups(store).count("pending") == THREADS * PER_THREAD
    assert len(outbox(issue)) == THREADS * PER_THREAD


def test_threads_record_every_sign_up(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    addresses = [f"reader{n}@example.org" for n in range(400)]
    assert in_threads(path, addresses) == {"email due": 400}
    with SuppressionStore(path) as store:
        assert Signups(store).count("pending") == 400


def test_one_address_signed_up_by_every_thread_at_once_gets_three_emails(
    tmp_path: Path,
) -> None:
    outcomes = in_threads(tmp_path / "store.sqlite3", ["ayse@example.org"] * 30)
    assert outcomes == {"email due": 3, "recorded": 27}


def test_an_address_erased_through_another_connection_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    with SuppressionStore(path) as server, SuppressionStore(path) as command:
        signups = Signups(server)
        assert signups.record_pending("first@example.org", name="", language="en", topics=(),
                                      wording="I agree.", commit=None, emails_a_day=3) \
            == "email due"
        command.forget("ayse@example.org")  # `mailer subscribers forget`, another process
        assert signups.record_pending("ayse@example.org", name="", language="en", topics=(),
                                      wording="I agree.", commit=None, emails_a_day=3) \
            == "refused"
