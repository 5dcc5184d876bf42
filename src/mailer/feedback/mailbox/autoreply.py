"""Auto-replies: vacation and out-of-office messages, which are never bounces.

They come back to the return path because RFC 3834 tells responders to answer it, so a reader
on holiday looks, to a careless reader of the bounce mailbox, like an address that bounced.
Recognised by RFC 3834 ``Auto-Submitted: auto-replied``, the older ``X-Autoreply``,
``X-Autorespond`` and ``Precedence: auto_reply``, Exchange's ``X-MS-Exchange-Inbox-Rules-Loop``
(Exchange marks its out-of-office replies ``auto-generated``, not ``auto-replied``), and the
subjects responders give them ("Automatic reply: ...").

Mail systems mark their failure notices ``auto-replied`` too: a message with those signs that
comes from a mailer daemon, or is titled like a failure notice, is a bounce in a form not
understood, and is left for a person rather than filed away as a holiday greeting.
"""

from __future__ import annotations

import re
from email.message import Message
from email.utils import getaddresses

from mailer.feedback.mailbox.fields import first, subject
from mailer.feedback.mailbox.verdict import Incoming, Verdict

# The responders' subject prefixes (Exchange/Outlook and Gmail in the languages of the lists
# this tool serves first, and the generic ones), compared case-insensitively.
SUBJECT_PREFIXES = (
    "automatic reply:", "auto reply:", "auto-reply:", "autoreply:", "auto response:",
    "out of office:", "out of office reply:", "out of the office:",
    "otomatik yanıt:", "otomatik cevap:", "réponse automatique :", "réponse automatique:",
    "automatische antwort:", "abwesenheitsnotiz:", "respuesta automática:",
    "risposta automatica:", "رد تلقائي:",
)
_DAEMONS = frozenset({"mailer-daemon", "postmaster", "mail-daemon", "mailer_daemon"})
_FAILURE_SUBJECT = re.compile(
    r"undeliver|delivery (status notification|failure|has failed|failed)|returned mail|"
    r"failure notice|mail delivery failed|non-?delivery|delivery problem|error sending",
    re.IGNORECASE,
)


def judge(incoming: Incoming) -> Verdict | None:
    """``auto_reply`` for a responder's message; None when it shows no sign of one."""
    message = incoming.message
    signs = auto_reply_signs(message)
    if not signs:
        return None
    if _from_a_mail_system(message):
        return incoming.verdict(
            "unknown", "an automatic message from a mail system: maybe a bounce in a form not "
            "understood", signs,
        )
    return incoming.verdict("auto_reply", "an automatic reply (vacation, out of office)", signs)


def auto_reply_signs(message: Message) -> list[str]:
    """The lines of ``message`` that mark it as an automatic reply."""
    signs = []
    submitted = first(message, "Auto-Submitted")
    if submitted and submitted.value.split(";")[0].strip().lower() == "auto-replied":
        signs.append(submitted.line)
    for name in ("X-Autoreply", "X-Autorespond", "X-MS-Exchange-Inbox-Rules-Loop"):
        if (field := first(message, name)) is not None:
            signs.append(field.line)
    precedence = first(message, "Precedence")
    if precedence and precedence.value.lower() == "auto_reply":
        signs.append(precedence.line)
    title = subject(message)
    if title and " ".join(title.value.split()).lower().startswith(SUBJECT_PREFIXES):
        signs.append(title.line)
    return signs


def _from_a_mail_system(message: Message) -> bool:
    sender = first(message, "From")
    local_parts = [  # "MAILER-DAEMON@host", or only "mailer-daemon"
        address.partition("@")[0].lower()
        for _, address in getaddresses([sender.value if sender else ""])
    ]
    title = subject(message)
    return any(local in _DAEMONS for local in local_parts) or bool(
        title and _FAILURE_SUBJECT.search(title.value)
    )
