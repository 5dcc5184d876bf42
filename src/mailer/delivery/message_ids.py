"""Message-IDs: the same for every copy of an issue sent to one reader, so a resent copy (after a
crash) is recognised as the same message by servers and mail clients; a new one for each test
copy. Kept apart from the message builder so that reading the ledger stays light."""

from __future__ import annotations

import hashlib
import re
import secrets


def message_id_for(issue_id: str, email: str, domain: str) -> str:
    """Deterministic per (issue, subscriber): a resent copy carries the same Message-ID."""
    digest = hashlib.sha256(f"{issue_id}\0{email.lower()}".encode()).hexdigest()[:24]
    return f"{issue_id}.{digest}@{domain}"


def message_id_for_test_copy(issue_id: str, domain: str) -> str:
    """A new Message-ID for each test copy.

    Never the real copy's: a mail client (Gmail) would drop one of the two as a duplicate,
    and the outbox would write the test copy over the delivered file.
    """
    return f"{issue_id}.test.{secrets.token_hex(8)}@{domain}"


# What the two functions above make, read back: the issue id (as issue.py allows it), then the
# 24 hex digits of a reader's copy, or "test." and the 16 of a test copy, then the domain.
OURS = re.compile(r"([a-z0-9][a-z0-9._-]{0,99})\.(?:[0-9a-f]{24}|test\.[0-9a-f]{16})@[^@<>\s]+")


def issue_of(message_id: str) -> str | None:
    """The issue of a Message-ID we made (with or without angle brackets); None for any other.

    The inverse of :func:`message_id_for`: a provider's feedback names the message it is about,
    and this tells which issue that message was.
    """
    match = OURS.fullmatch(message_id.strip().removeprefix("<").removesuffix(">"))
    return match.group(1) if match else None
