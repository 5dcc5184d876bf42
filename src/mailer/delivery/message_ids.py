"""Message-IDs: the same for every copy of an issue sent to one reader, so a resent copy (after a
crash) is recognised as the same message by servers and mail clients; a new one for each test
copy. Kept apart from the message builder so that reading the ledger stays light."""

from __future__ import annotations

import hashlib
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
