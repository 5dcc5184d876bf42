"""What the ESPs' suppression lists have in common: every page read, each entry an event.

When the ESP answers unsubscribes (``[list] unsubscribe = "esp"``), readers unsubscribe on its
pages, and it keeps them, with its bounces and complaints, in its own suppression lists.
:func:`pull_esp` copies those lists into the project's store: ``mailer suppressions pull
--esp`` by hand, and ``mailer send`` before anything else, so that a reader who unsubscribed
there never gets the next issue from here (whatever the transport then).

One module per provider reads its lists as it documents them, the same contract for each, as
the webhooks have (:data:`READERS`): a :class:`SuppressionList` made from the provider's
transport (its endpoint, key and session: one place for both) yields every entry of every
page as a :class:`~mailer.audience.events.FeedbackEvent` of kind ``unsubscribed``, ``bounced``
or ``complained``, source ``esp:<provider>``, dated by the provider, with its own words as the
detail. Its id is the kind, the address and the provider's time: pulling again records nothing
twice, and a reader who unsubscribes again after being let back in is a new event. No issue is
named (the lists do not say which message it was); ``mailer status`` counts an entry for the
issue last sent to the address before it.

A page that cannot be had stops the pull, and so the send: the ESP out of reach or answering
429 or 5xx is :class:`~mailer.errors.Unreachable` (exit 3, try again), the key refused or a
domain or stream unknown is :class:`~mailer.errors.TransportError` (exit 2). Nothing is
recorded from a pull that did not read every page. Error texts name the path only, never a
query (Mailgun's page links carry an address) nor the key.
"""

from __future__ import annotations

import importlib
import json
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests

from mailer.audience.events import FeedbackEvent, Kind
from mailer.audience.store import Recorded, SuppressionStore
from mailer.delivery.transports import TransportFactory
from mailer.delivery.transports.esp import TIMEOUT, EspTransport, retry_after
from mailer.errors import TransportError, Unreachable, UsageError

# scheme -> "module:class" in this package, each imported only when used
READERS: dict[str, str] = {
    "mailgun": "mailgun_suppressions:MailgunSuppressions",
    "sendgrid": "sendgrid_suppressions:SendGridSuppressions",
    "postmark": "postmark_suppressions:PostmarkSuppressions",
}


class SuppressionList(ABC):
    """One provider's suppression lists, read through its transport."""

    provider: ClassVar[str]  # "mailgun": its events' source is "esp:mailgun"

    def __init__(self, transport: EspTransport) -> None:
        self.transport = transport
        self.pages = 0  # pages read so far

    @abstractmethod
    def events(self) -> Iterator[FeedbackEvent]:
        """Every entry of every page of every list, in the provider's order."""

    def handling_off(self) -> str | None:
        """Why the provider would not answer the readers' unsubscribes in what is sent now (a
        setting of the account that no request can turn on), or None."""
        return None

    # -- helpers for the provider modules ---------------------------------------------------

    def get(self, url: str, params: Mapping[str, str | int] | None = None) -> Any:
        """The JSON answer to ``GET url`` (relative to the endpoint unless absolute).

        A URL the provider gave (a next page) is followed only on the endpoint's own scheme
        and host: the key goes nowhere else.
        """
        t = self.transport
        if "://" not in url:
            url = t.endpoint + url
        elif _origin(url) != _origin(t.endpoint):
            raise TransportError(
                t.name, f"its next page is at another address than {t.endpoint}; not followed"
            )
        path = urlsplit(url).path
        try:
            response = t.session.get(url, params=params, timeout=TIMEOUT, **t.credentials())
        except (requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL):
            raise TransportError(
                t.name, f"the request cannot be sent: check {t.secret_variable} and the "
                f"endpoint {t.endpoint}",
            ) from None
        except requests.RequestException as exc:
            raise Unreachable(
                f"{t.name}: cannot read the suppression list at {path} ({type(exc).__name__}); "
                "nothing was sent: try again later"
            ) from None
        status = response.status_code
        words = t.redact(t.error_message(response))
        if status == 429 or status >= 500:
            wait = retry_after(response.headers)
            later = f" (it asks to wait {wait:.0f} s)" if wait else ""
            raise Unreachable(
                f"{t.name}: {path} answered HTTP {status}{later}: {words}; nothing was sent: "
                "try again later"
            )
        if not 200 <= status < 300:
            raise TransportError(t.name, f"{path}: {words}", status)
        try:
            body = response.json()
        except ValueError:
            raise TransportError(t.name, f"{path} did not answer JSON, as its API does") from None
        self.pages += 1
        return body

    def event(
        self, kind: Kind, address: Any, when: float | None, stamp: Any, detail: str,
        record: Any,
    ) -> FeedbackEvent:
        """The event of one entry: ``stamp`` is the provider's time as it wrote it (with the
        kind and the address, what makes the entry one event)."""
        if not isinstance(address, str) or not address.strip():
            raise TransportError(
                self.transport.name, f"an entry of its {kind} list has no address"
            )
        address = address.strip()
        return FeedbackEvent(
            kind=kind, address=address, source=f"esp:{self.provider}",
            event_id=f"{kind}:{address.lower()}:{stamp}", detail=detail, occurred_at=when,
            raw=json.dumps(record, ensure_ascii=False, separators=(",", ":")),
        )

    def malformed(self, path: str) -> TransportError:
        """The error for a page that is not what the provider documents."""
        return TransportError(self.transport.name, f"{path} did not answer as its API documents")


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def reader_class(scheme: str) -> type[SuppressionList]:
    """The suppression list of the ESP ``scheme`` names; UsageError for any other transport."""
    if scheme not in READERS:
        raise UsageError(
            f"{scheme}:// keeps no suppression list to pull: the ESP transports do "
            f"({', '.join(f'{s}://' for s in READERS)})"
        )
    module, name = READERS[scheme].split(":")
    return getattr(importlib.import_module(f"{__package__}.{module}"), name)


@dataclass(frozen=True)
class EspPull:
    """What :func:`pull_esp` read and recorded."""

    provider: str  # "Mailgun", as messages name it
    read: int  # entries on the provider's lists
    pages: int
    recorded: Recorded

    def counts(self) -> str:
        """``1,203 suppressions from Mailgun (5 pages): 12 new here``."""
        pages = f"{self.pages:,} page" + ("" if self.pages == 1 else "s")
        return (f"{self.read:,} suppressions from {self.provider} ({pages}): "
                f"{self.recorded.new:,} new here, {self.recorded.suppressed:,} newly suppressed")


def pull_esp(
    transport: TransportFactory, store: SuppressionStore, *, answering: bool = False
) -> EspPull:
    """Read every page of the ESP's suppression lists, then record them in ``store`` (each at
    the provider's time, each once). Unreachable or TransportError, recording nothing, when a
    page cannot be read; with ``answering`` (a send that leaves unsubscribes to the ESP),
    TransportError too when the ESP's own unsubscribe handling is off."""
    kind = reader_class(transport.dsn.scheme)
    opened = transport()
    if not isinstance(opened, EspTransport):  # the schemes of READERS make ESP transports
        raise UsageError(f"{transport} is not an ESP")
    try:
        reader = kind(opened)
        problem = reader.handling_off() if answering else None
        if problem is not None:
            raise TransportError(opened.name, problem)
        events = list(reader.events())
    finally:
        opened.close()
    recorded = store.record(events, at_their_time=True)
    return EspPull(opened.name, len(events), reader.pages, recorded)
