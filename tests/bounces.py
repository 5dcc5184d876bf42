"""What the bounce mailbox tests share: the fixtures' world (who was sent what, their VERP and
unsubscribe tokens) and a judge that consults it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mailer.audience.events import FeedbackEvent
from mailer.audience.unsubscribe import Claims, UnsubscribeLinks
from mailer.feedback.mailbox.base import Mailbox
from mailer.feedback.mailbox.classify import classify, parse
from mailer.feedback.mailbox.verdict import Verdict

FIXTURES = Path(__file__).parent / "fixtures" / "mailbox"
ISSUE = "2018-03-iom-turkey"
OUR_ID = "2018-03-iom-turkey.0123456789abcdef01234567@iom.int"
MAILTO = "unsubscribe@example.org"
LINKS = UnsubscribeLinks(  # as the issue was sent (the fixtures' tokens are of the old format)
    "fixture-secret-for-the-bounce-mailbox-tests", "newsletter.example.org",
    "https://example.org/newsletter/unsubscribe?token={token}", MAILTO, issue=ISSUE,
)
VERP_TOKENS = {  # the return path of each reader's copy in the fixtures: bounces+TOKEN@
    "nobody-here@example.net": "goik6llguu6hnmid",
    "full-mailbox@example.net": "o3shkgwqqefnqnz4",
    "gone@example.com": "ygvs4vmmkv2gzvzz",
    "old-reader@example.net": "pmjpyo6mwcfbeato",
    "left-the-org@example.com": "7vwpffwnjc6vbdxc",
    "no-such-user@example.com": "amywtmgfxy5auyxc",
    "reader@example.com": "2eele6kdj7q5kswa",
    "yahoo-reader@example.net": "6cllqwfk4c25w2jr",
    "traveller@example.com": "i4oqmhtjkcp4s4nq",
    "on-leave@example.com": "l5gubenhqfqpzmvc",
    "happy.reader@example.net": "3karnupx2zmq64l4",
    "quitter@example.net": "6mzwvprjlto624ze",
    "mac.reader@example.net": "inyygl3dqzohwtg3",
}
SENT = {(ISSUE, address) for address in VERP_TOKENS}
BY_TOKEN = {token: (ISSUE, address) for address, token in VERP_TOKENS.items()}


def judge(
    data: bytes | str,
    *,
    verp: Callable[[str], tuple[str, str] | None] = BY_TOKEN.get,
    unsubscribe: Callable[[str], Claims | None] = LINKS.read,
    mailto: str | None = MAILTO,
    sent: set[tuple[str, str]] | None = None,
    asked: list[tuple[str | None, str]] | None = None,
) -> Verdict:
    """``data`` (a fixture's name, or a message's bytes) judged against what was sent."""
    sent = SENT if sent is None else sent

    def sent_to(issue_id: str | None, address: str) -> bool:
        if asked is not None:
            asked.append((issue_id, address))
        return any(address == a and issue_id in (None, i) for i, a in sent)

    def by_return_path(address: str) -> tuple[str, str] | None:
        local = address.rpartition("@")[0].lower()
        return verp(local.removeprefix("bounces+")) if local.startswith("bounces+") else None

    raw = (FIXTURES / data).read_bytes() if isinstance(data, str) else data
    return classify(parse(raw), verp=by_return_path, unsubscribe=unsubscribe,
                    unsubscribe_mailto=mailto, sent_to=sent_to)


def nobody(_: str) -> None:
    return None


def run_once(box: Mailbox, store: dict[str, FeedbackEvent]) -> dict[str, str]:
    """What ``mailer bounces`` does with a mailbox: judge each waiting message, record its
    events (de-duplicated by event id, as the store does), and only then move it if handled.
    Returns each message's key -> verdict kind."""
    kinds = {}
    for key in box.waiting():
        data = box.fetch(key)
        if data is None:
            continue
        verdict = judge(data)
        for event in verdict.events:
            store.setdefault(event.event_id, event)
        if verdict.handled:
            box.move_to_processed(key)
        kinds[key] = verdict.kind
    return kinds
