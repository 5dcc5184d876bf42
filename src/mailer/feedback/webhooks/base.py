"""The contract every provider's webhook follows: verify the request, then read its events.

A provider posts what became of the messages we sent. The web app hands
:meth:`WebhookProvider.handle` the request's headers and raw body, and gets back the events to
record (:class:`Parsed`), or :class:`Unverified` carrying the HTTP status to answer. As in
django-anymail's webhooks:

- a request that is refused (``Unverified``: not from the provider, too old, too big,
  unreadable) is answered with its 4xx status and nothing else happens;
- any other exception is a fault on our side: answer 5xx, and the provider sends it again.

Nothing is read from a body before it is verified, and no event is ever accepted unverified:
a provider is only made with its secrets (:func:`mailer.feedback.webhooks.webhook_provider`).
A verified body that is not what the provider documents is refused like an unverified one
(400): what it says cannot be trusted to mean what it seems.
"""

from __future__ import annotations

import hmac
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from mailer.audience.events import FeedbackEvent, Kind
from mailer.delivery.message_ids import issue_of

# Far more than any provider posts at once (SendGrid's 1,000 events are about 0.5 MB); the web
# app should refuse a longer Content-Length before reading the body.
MAX_BODY_BYTES = 5 * 1024 * 1024
# How far a signed timestamp may be from our clock, either way: a captured request cannot be
# replayed later than this, and a token seen within it is refused by the caller (replay_key).
MAX_AGE_SECONDS = 5 * 60
TIMESTAMP = re.compile(r"[0-9]{1,12}")  # epoch seconds, as both Mailgun and SendGrid sign them


class Unverified(Exception):
    """The request is refused: answer ``status`` with ``headers``, and record nothing.

    401 no or wrong credentials, 403 a wrong signature or a stale timestamp, 400 a body that
    cannot be read, 413 a body over :data:`MAX_BODY_BYTES`. Not a ``MailerError``: it answers
    one HTTP request and never ends a command. ``reason`` names no secret.
    """

    def __init__(self, status: int, reason: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{status}: {reason}")
        self.status = status
        self.reason = reason
        self.headers = dict(headers or {})


@dataclass(frozen=True)
class Parsed:
    """What a verified request says.

    ``ignored`` counts the events that suppress nobody and are no soft bounce (deliveries,
    opens, clicks...). ``replay_key``, when the provider gives one, must be accepted once only:
    the caller remembers it for :data:`MAX_AGE_SECONDS` and refuses a request that repeats it.
    """

    events: list[FeedbackEvent]
    ignored: int = 0
    replay_key: str | None = None


class WebhookProvider(ABC):
    """One provider's webhook: its secrets are given to the constructor, never read here."""

    name: ClassVar[str]  # "mailgun": its events' source is "webhook:mailgun"
    title: ClassVar[str]  # "Mailgun", in messages
    # The constructor's parameters, each with the environment variable the factory reads it from.
    settings: ClassVar[Mapping[str, str]]

    def handle(self, headers: Mapping[str, str], body: bytes, now: float) -> Parsed:
        """Verify the request, then read it: the one call the web app makes.

        ``headers`` as received (names in any case), ``body`` the raw bytes, ``now`` the epoch
        seconds to judge timestamps by. Unverified if the request is refused.
        """
        self.verify(headers, body, now)
        return self.parse(body)

    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        """Unverified unless the provider sent this very body, lately."""
        if len(body) > MAX_BODY_BYTES:
            raise Unverified(413, f"{self.title}: the body is over {MAX_BODY_BYTES:,} bytes")
        self.authenticate(headers, body, now)

    @abstractmethod
    def authenticate(self, headers: Mapping[str, str], body: bytes, now: float) -> None:
        """The provider's own check (signature, timestamp, credentials): Unverified if it fails."""

    def parse(self, body: bytes) -> Parsed:
        """The events of a verified ``body``; Unverified (400) if it cannot be read."""
        document = decode_json(body, self.title)
        events: list[FeedbackEvent] = []
        ignored = 0
        for record in self.records(document):
            if not isinstance(record, dict):
                raise Unverified(400, f"{self.title}: an event is not a JSON object")
            event = self.event(record)
            if event is None:
                ignored += 1
            else:
                events.append(event)
        return Parsed(events, ignored, self.replay_key(document))

    @abstractmethod
    def records(self, document: Any) -> Sequence[Any]:
        """The events in the decoded body, each as received; Unverified (400) if it holds none."""

    @abstractmethod
    def event(self, record: dict[str, Any]) -> FeedbackEvent | None:
        """``record`` as a FeedbackEvent, or None when it suppresses nobody and is no soft
        bounce."""

    def replay_key(self, document: Any) -> str | None:
        """What makes this request unique, for providers whose signature does not cover the
        body (see :class:`Parsed`)."""
        return None

    def feedback(
        self, kind: Kind, record: dict[str, Any], *, address: Any, event_id: Any,
        detail: str = "", message_id: Any = None, occurred_at: Any = None,
    ) -> FeedbackEvent:
        """The FeedbackEvent of ``record``. Unverified (400) without an address or an event id:
        an event nobody can act on, or that cannot be told from its repetitions, is not taken.
        ``message_id`` is kept only when it is one of ours, and then names the issue."""
        address, event_id = text(address), text(event_id)
        if not address or not event_id:
            missing = "address" if not address else "event id"
            raise Unverified(400, f"{self.title}: a {kind} event without its {missing}")
        ours = text(message_id).removeprefix("<").removesuffix(">")
        issue = issue_of(ours) if ours else None
        return FeedbackEvent(
            kind=kind, address=address, source=f"webhook:{self.name}", event_id=event_id,
            detail=detail, issue_id=issue, message_id=ours if issue else None,
            occurred_at=epoch(occurred_at),
            raw=json.dumps(record, ensure_ascii=False, separators=(",", ":")),
        )


def decode_json(body: bytes, title: str) -> Any:
    """``body`` as JSON; Unverified (400) if it is not."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        raise Unverified(400, f"{title}: the body is not JSON ({error})") from None


def header(headers: Mapping[str, str], name: str) -> str | None:
    """The header ``name`` (any case: a plain dict works as well as the web framework's)."""
    value = headers.get(name)
    if value is None:
        wanted = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == wanted), None)
    return value


def same(given: str, expected: str) -> bool:
    """Whether two secrets are equal, in a time that does not tell how much of them is."""
    # surrogatepass: a JSON body can hold a lone surrogate, and the environment escaped bytes.
    return hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


def check_timestamp(value: str, now: float, title: str) -> None:
    """Unverified (403) unless ``value`` (epoch seconds, signed with the request) is within
    :data:`MAX_AGE_SECONDS` of ``now``."""
    if not TIMESTAMP.fullmatch(value) or abs(now - int(value)) > MAX_AGE_SECONDS:
        raise Unverified(
            403, f"{title}: the signed timestamp {value[:20]!r} is more than "
            f"{MAX_AGE_SECONDS // 60} minutes from now (a replay, or a wrong clock here)"
        )


def text(value: Any) -> str:
    """A JSON value as text: "" for null or a missing one."""
    return "" if value is None else str(value).strip()


def json_object(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else {} (a field that is missing, null or a list)."""
    return value if isinstance(value, dict) else {}


def epoch(value: Any) -> float | None:
    """When an event happened, as epoch seconds: from a number or an ISO 8601 text."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return datetime.fromisoformat(str(value)).timestamp()
    except ValueError:
        return None

