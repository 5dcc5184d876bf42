"""``send_at:`` in the past for an issue not yet sent: the send goes out at once when it runs.

Someone meant it for a time that is over (a slipped review, a copied issue); sending it now is
rarely what they meant, so the check says so before the send does. Only the default edition
is checked: ``send_at`` is the issue's, written in its file.
"""

from __future__ import annotations

import datetime

from mailer.checks.base import CheckOptions, Finding, finding_maker
from mailer.compose.issue import LoadedIssue
from mailer.compose.site import edition_of
from mailer.delivery.prepare import Prepared
from mailer.delivery.schedule import in_words, shown

CHECK = "schedule"
_finding = finding_maker(CHECK)


def check(loaded: LoadedIssue, prepared: Prepared, *, options: CheckOptions) -> list[Finding]:
    send_at = loaded.issue.send_at
    if send_at is None or edition_of(loaded) is not None:
        return []
    late = (datetime.datetime.now(datetime.UTC) - send_at).total_seconds()
    if late <= 0 or _was_sent(loaded):
        return []
    return [_finding(
        "warning",
        f"send_at {shown(send_at)} was {in_words(late)} ago, and the issue has not been sent: "
        "mailer send sends it at once",
        loaded.source.locate(("send_at",)),
        "set send_at to the time it should go out now, or remove it to send when you run "
        "mailer send",
    )]


def _was_sent(loaded: LoadedIssue) -> bool:
    """Whether the ledger has the issue reaching a reader (no ledger: never sent)."""
    path = loaded.settings.resolve(loaded.settings.settings.send.ledger)
    if not path.is_file():
        return False
    from mailer.delivery.ledger import Ledger  # only with a ledger: it brings filelock

    with Ledger(path, read_only=True) as ledger:
        return ledger.first_sent(loaded.issue.id) is not None
