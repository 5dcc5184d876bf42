"""Who asked to be written to, and the proof of it: sign-ups, their consent records, and the
readers' own preferences. Three tables of the list's store (:mod:`mailer.audience.store`, the
same SQLite file and path setting, created by its schema version 3).

A sign-up is ``pending`` from the form's POST until its confirmation link is POSTed, then
``confirmed``: only confirmed ones are written to. Its row is the consent record: the address,
the name given, the edition language and topics chosen, the exact wording the form showed and
its version (``sha256:`` and 16 hex digits of the text; the project's git commit beside it
when there is one), where it came from (``form``, ``import``, ``csv``), when it was made and
confirmed, and the client's IP address only when ``[consent] record_ip`` says so. A new
sign-up of a pending address replaces its record (the last form is the one the link
confirms); one of a confirmed address changes nothing.

``preferences`` holds what a reader changed on the preference page (the language of their
edition, their topics), for any address the list writes to, signed up or in the subscribers
CSV: it overrides both for the next send. ``signup_mails`` holds when each confirmation email
went out, for the limit per address and day.

A suppressed address (bounced, complained, or suppressed by hand) and an erased one are never
recorded; an unsubscribed one may sign up again: its confirmation lifts the unsubscribe.
Topics are stored as a JSON list of topic names.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from mailer.audience.store import SuppressionStore
from mailer.audience.subscribers import AddressTable, address_key, lenient_address

Source = Literal["form", "import", "csv"]
DAY = 86400.0
KEEPS_OUT = ("bounced", "complained", "manual")  # suppressions a sign-up never lifts




def wording_version(wording: str) -> str:
    """The version of a consent wording: ``sha256:`` and the first 16 hex digits of its hash."""
    return "sha256:" + hashlib.sha256(wording.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class SignUp:
    """One sign-up and its consent record."""

    email: str
    name: str
    language: str
    topics: tuple[str, ...]
    status: str  # pending | confirmed
    source: str
    signed_up_at: float
    confirmed_at: float | None
    wording: str
    wording_version: str
    wording_commit: str | None
    signup_ip: str | None
    confirm_ip: str | None


@dataclass(frozen=True)
class Preferences:
    """What a reader changed on the preference page (None: not changed there)."""

    email: str
    language: str | None
    topics: tuple[str, ...] | None
    updated_at: float


@dataclass(frozen=True)
class Reader:
    """A confirmed sign-up as the next send sees it: its preferences over its sign-up."""

    email: str
    name: str
    language: str
    topics: tuple[str, ...]


@dataclass(frozen=True)
class Imported:
    """A reader whose consent another system recorded (a Mailchimp export, an old list): what
    it kept of their sign-up."""

    email: str
    language: str
    wording: str  # what the reader agreed to, as far as the source says
    name: str = ""
    topics: tuple[str, ...] = ()
    signed_up_at: float | None = None  # None: when it is imported
    confirmed_at: float | None = None  # None: as signed_up_at
    ip: str | None = None  # kept only when the caller records IPs ([consent] record_ip)


Outcome = Literal["email due", "recorded", "confirmed already", "refused"]
_SIGNUP = (
    "email, name, language, topics, status, source, signed_up_at, confirmed_at, wording, "
    "wording_version, wording_commit, signup_ip, confirm_ip"
)


_COLUMNS = tuple(column.strip() for column in _SIGNUP.split(","))


def _topics(text: str | None) -> tuple[str, ...] | None:
    return None if text is None else tuple(json.loads(text))


def _signup(row: Sequence) -> SignUp:
    values = list(row)
    values[3] = _topics(values[3]) or ()
    return SignUp(*values)


class Signups:
    """The sign-ups and preferences in one list's store (shares its connection and lock)."""

    def __init__(self, store: SuppressionStore) -> None:
        self.store = store

    # -- writing ----------------------------------------------------------------------------

    def record_pending(
        self, email: str, *, name: str, language: str, topics: Sequence[str], wording: str,
        commit: str | None, source: Source = "form", ip: str | None = None,
        emails_a_day: int = 0, now: float | None = None,
    ) -> Outcome:
        """Record a sign-up waiting for its confirmation, in one transaction.

        ``email due``: recorded, and a confirmation email may go now (fewer than
        ``emails_a_day`` went to the address in the last day; this one is counted);
        ``recorded``: recorded, without an email; ``confirmed already``: nothing changed;
        ``refused``: the address is suppressed (not merely unsubscribed) or erased, and nothing
        was recorded. ValueError if ``email`` is not an address."""
        address = _address(email)
        now = time.time() if now is None else now
        with self.store.transaction() as db:
            if self._kept_out(db, address):
                return "refused"
            status, sent, unsubscribed = db.execute(
                "SELECT (SELECT status FROM signups WHERE address = ?), "
                "(SELECT count(*) FROM signup_mails WHERE address = ? AND sent_at >= ?), "
                "EXISTS (SELECT 1 FROM suppressions WHERE address = ? AND reason = "
                "'unsubscribed')", (address, address, now - DAY, address),
            ).fetchone()
            if status == "confirmed" and not unsubscribed:  # one who left signs up anew
                return "confirmed already"
            db.execute(
                "INSERT OR REPLACE INTO signups (address, email, name, language, topics, "
                "status, source, signed_up_at, confirmed_at, wording, wording_version, "
                "wording_commit, signup_ip, confirm_ip) "
                "VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, NULL, ?, ?, ?, ?, NULL)",
                (address, email, name, language, json.dumps(list(topics)), source, now,
                 wording, wording_version(wording), commit, ip),
            )
            db.execute("DELETE FROM signup_mails WHERE sent_at < ?", (now - DAY,))
            if sent >= emails_a_day:
                return "recorded"
            db.execute("INSERT INTO signup_mails (address, sent_at) VALUES (?, ?)", (address, now))
        return "email due"

    def import_confirmed(
        self, records: Iterable[Imported], source: Source = "import", commit: str | None = None,
        now: float | None = None,
    ) -> tuple[int, int, int]:
        """Record ``records`` as confirmed sign-ups, in one transaction: (added, already
        confirmed, kept out). An address suppressed for any reason (an import never lifts an
        unsubscribe) or erased is kept out; a confirmed sign-up is left as it is; a pending
        one is replaced.
        ValueError (nothing recorded) if a record's address is not an address."""
        now = time.time() if now is None else now
        added = known = kept_out = 0
        with self.store.transaction() as db:
            for record in records:
                address = _address(record.email)
                if self._kept_out(db, address) or db.execute(
                    "SELECT 1 FROM suppressions WHERE address = ?", (address,)
                ).fetchone():
                    kept_out += 1
                    continue
                found = db.execute("SELECT status FROM signups WHERE address = ?",
                                   (address,)).fetchone()
                if found and found[0] == "confirmed":
                    known += 1
                    continue
                signed = record.signed_up_at if record.signed_up_at is not None else now
                confirmed = record.confirmed_at if record.confirmed_at is not None else signed
                db.execute(
                    "INSERT OR REPLACE INTO signups (address, email, name, language, topics, "
                    "status, source, signed_up_at, confirmed_at, wording, wording_version, "
                    "wording_commit, signup_ip, confirm_ip) "
                    "VALUES (?, ?, ?, ?, ?, 'confirmed', ?, ?, ?, ?, ?, ?, ?, NULL)",
                    (address, record.email, record.name, record.language,
                     json.dumps(list(record.topics)), source, signed, confirmed, record.wording,
                     wording_version(record.wording), commit, record.ip),
                )
                added += 1
        return added, known, kept_out

    def confirm(
        self, email: str, *, signed_up_at: int | None = None, ip: str | None = None,
        now: float | None = None,
    ) -> bool:
        """Confirm the pending sign-up of ``email``: True if there was one (made in the second
        ``signed_up_at``, when given: the one whose email the link came in, not a later sign-up
        of the address with another name or wording). Its confirmation lifts an unsubscribe
        (the reader asked again), never another suppression, and the choices of the sign-up
        replace those of an older preference page."""
        address = _address(email)
        now = time.time() if now is None else now
        with self.store.transaction() as db:
            if self._kept_out(db, address):
                return False
            changed = db.execute(
                "UPDATE signups SET status = 'confirmed', confirmed_at = ?, confirm_ip = ? "
                "WHERE address = ? AND status = 'pending' "
                "AND (? IS NULL OR CAST(signed_up_at AS INTEGER) = ?)",
                (now, ip, address, signed_up_at, signed_up_at),
            ).rowcount
            if changed:
                db.execute("DELETE FROM suppressions WHERE address = ? AND reason = "
                           "'unsubscribed'", (address,))
                db.execute("DELETE FROM preferences WHERE address = ?", (address,))
        return bool(changed)

    def set_preferences(
        self, email: str, *, language: str | None = None,
        topics: Sequence[str] | None = None, shown: str = "", now: float | None = None,
    ) -> None:
        """Record what the reader chose on the preference page (None: left as it was), and,
        as an event of the address kept until it is erased, the change with ``shown``: the
        words of the page they made it on."""
        address = _address(email)
        now = time.time() if now is None else now
        topic_text = None if topics is None else json.dumps(list(topics))
        chosen = json.dumps({"language": language, "topics": topics}, ensure_ascii=False)
        with self.store.transaction() as db:
            db.execute(
                "INSERT INTO events (key, address, kind, issue, detail, raw, received_at) "
                "VALUES (?, ?, 'preferences', NULL, ?, ?, ?)",
                (f"preferences:{address}:{now!r}", address, chosen, shown, now),
            )
            db.execute(
                "INSERT INTO preferences (address, email, language, topics, updated_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (address) DO UPDATE SET "
                "language = coalesce(excluded.language, language), "
                "topics = coalesce(excluded.topics, topics), updated_at = excluded.updated_at",
                (address, email, language, topic_text, now),
            )

    def _kept_out(self, db: sqlite3.Connection, address: str) -> bool:
        """Suppressed for a reason a sign-up cannot lift, or erased."""
        found = db.execute("SELECT reason FROM suppressions WHERE address = ?",
                           (address,)).fetchone()
        if found and found[0] in KEEPS_OUT:
            return True
        return self.store.erased(db, address)

    def merge(self, signups: Iterable[dict], preferences: Iterable[dict]) -> int:
        """Take in what :meth:`changed_since` gave on another store (``mailer suppressions
        pull`` from the server's): confirmed sign-ups, and preferences newer than this
        store's, in one transaction; a sign-up never over a suppression it cannot lift, and
        an unsubscribe lifted only by a later confirmation. How many rows changed; a record
        this version cannot read is left out."""
        changed = 0
        with self.store.transaction() as db:
            for row in signups:
                try:
                    values = [row[column] for column in _COLUMNS]
                    address = _address(str(row["email"]))
                    confirmed = float(row["confirmed_at"])
                except (KeyError, TypeError, ValueError):
                    continue
                if self._kept_out(db, address):
                    continue
                found = db.execute("SELECT confirmed_at FROM signups WHERE address = ? AND "
                                   "status = 'confirmed'", (address,)).fetchone()
                if found and found[0] >= confirmed:
                    continue
                db.execute("DELETE FROM suppressions WHERE address = ? AND reason = "
                           "'unsubscribed' AND last_seen < ?", (address, confirmed))
                db.execute(
                    f"INSERT OR REPLACE INTO signups (address, {', '.join(_COLUMNS)}) "
                    f"VALUES (?{', ?' * len(_COLUMNS)})",
                    (address, *values[:3], json.dumps(list(values[3])), *values[4:]),
                )
                changed += 1
            for row in preferences:
                try:
                    address = _address(str(row["email"]))
                    topics = row["topics"]
                    chosen = (address, row["email"], row["language"],
                              None if topics is None else json.dumps(list(topics)),
                              float(row["updated_at"]))
                except (KeyError, TypeError, ValueError):
                    continue
                changed += db.execute(
                    "INSERT INTO preferences (address, email, language, topics, updated_at) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (address) DO UPDATE SET "
                    "language = excluded.language, topics = excluded.topics, "
                    "updated_at = excluded.updated_at WHERE excluded.updated_at > updated_at",
                    chosen,
                ).rowcount
        return changed

    # -- reading ----------------------------------------------------------------------------

    def changed_since(self, since: float) -> tuple[list[dict], list[dict]]:
        """The confirmed sign-ups (consent records whole) confirmed at or after ``since``,
        and the preferences changed since, as JSON values for :meth:`merge`."""
        signups = [
            dict(zip(_COLUMNS, (*row[:3], list(_topics(row[3]) or ()), *row[4:]), strict=True))
            for row in self.store.query(
                f"SELECT {_SIGNUP} FROM signups WHERE status = 'confirmed' AND "
                "confirmed_at >= ?", (since,),
            )
        ]
        preferences = [
            {"email": email, "language": language, "topics": _topics(topics),
             "updated_at": updated}
            for email, language, topics, updated in self.store.query(
                "SELECT email, language, topics, updated_at FROM preferences "
                "WHERE updated_at >= ?", (since,),
            )
        ]
        return signups, preferences

    def get(self, email: str) -> SignUp | None:
        """The sign-up of ``email`` (pending or confirmed), if any."""
        address = lenient_address(email)
        if address is None:
            return None
        found = self.store.query(f"SELECT {_SIGNUP} FROM signups WHERE address = ?",
                                 (address.lower(),))
        return _signup(found[0]) if found else None

    def preferences(self, email: str) -> Preferences | None:
        address = lenient_address(email)
        if address is None:
            return None
        found = self.store.query(
            "SELECT email, language, topics, updated_at FROM preferences WHERE address = ?",
            (address.lower(),),
        )
        if not found:
            return None
        mail, language, topics, updated = found[0]
        return Preferences(mail, language, _topics(topics), updated)

    def emails_sent(self, email: str, now: float | None = None) -> int:
        """Confirmation emails sent to ``email`` within the last day."""
        now = time.time() if now is None else now
        return int(self.store.query(
            "SELECT count(*) FROM signup_mails WHERE address = ? AND sent_at >= ?",
            (_address(email), now - DAY),
        )[0][0])

    def signups(self, status: str | None = None) -> Iterator[SignUp]:
        """Every sign-up (or those of ``status``) in address order, read in pages: a list of
        any length costs one page of memory."""
        last = ""
        while True:
            page = self.store.query(
                f"SELECT address, {_SIGNUP} FROM signups WHERE address > ? "
                "AND (? IS NULL OR status = ?) ORDER BY address LIMIT 1000",
                (last, status, status),
            )
            if not page:
                return
            for row in page:
                yield _signup(row[1:])
            last = page[-1][0]

    def readers(self) -> Iterator[Reader]:
        """Every confirmed sign-up, with its preferences over its own choices, in pages."""
        last = ""
        while True:
            page = self.store.query(
                "SELECT s.address, s.email, s.name, coalesce(p.language, s.language), "
                "coalesce(p.topics, s.topics) FROM signups s LEFT JOIN preferences p "
                "ON p.address = s.address WHERE s.status = 'confirmed' AND s.address > ? "
                "ORDER BY s.address LIMIT 1000", (last,),
            )
            if not page:
                return
            for _, email, name, language, topics in page:
                yield Reader(email, name, language, _topics(topics) or ())
            last = page[-1][0]

    def choice(self, email: str) -> tuple[str | None, tuple[str, ...] | None]:
        """(language, topics) the reader chose, on the preference page or else in a
        confirmed sign-up; None for what they never chose."""
        found = self.store.query(
            "SELECT coalesce(p.language, s.language), coalesce(p.topics, s.topics) "
            "FROM (SELECT ? AS address) a LEFT JOIN preferences p ON p.address = a.address "
            "LEFT JOIN signups s ON s.address = a.address AND s.status = 'confirmed'",
            (email.lower(),),
        )
        language, topics = found[0]
        return language, _topics(topics)

    def overrides(self) -> AddressTable:
        """The keys of every address whose choices override the CSV's: confirmed sign-ups
        and preference pages (about 13 bytes each, read once)."""
        expected = self.store.query(
            "SELECT (SELECT count(*) FROM signups WHERE status = 'confirmed') "
            "+ (SELECT count(*) FROM preferences)"
        )[0][0]
        table = AddressTable(expected=expected, load=AddressTable.LOOKUP_LOAD)
        for source in ("signups WHERE status = 'confirmed' AND", "preferences WHERE"):
            last = ""
            while page := self.store.query(
                f"SELECT address FROM {source} address > ? ORDER BY address LIMIT 1000", (last,)
            ):
                for (address,) in page:
                    table.setdefault(address_key(address), 1)
                last = page[-1][0]
        return table

    def count(self, status: str | None = None) -> int:
        return int(self.store.query(
            "SELECT count(*) FROM signups WHERE ? IS NULL OR status = ?", (status, status)
        )[0][0])


def _address(email: str) -> str:
    """The store's key for ``email``; ValueError if it is not an address."""
    normal = lenient_address(email)
    if normal is None:
        raise ValueError(f"not a valid address {email!r}")
    return normal.lower()
