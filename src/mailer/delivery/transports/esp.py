"""What the HTTP email services (SendGrid, Mailgun, Postmark) have in common.

:class:`EspTransport` owns the whole exchange: one ``requests`` session, timeouts, the API key
from the environment, turning HTTP statuses into results, ``Retry-After``. A provider module
fills in the hooks: :meth:`~EspTransport.build_request` (the documented payload for a batch),
:meth:`~EspTransport.parse_results` (one result per recipient from a 2xx answer),
:meth:`~EspTransport.classify_rejection` (what a refused request was about, read from the
provider's error body) and, if its error bodies differ from ``{"message": ...}``,
:meth:`~EspTransport.error_message`.

Statuses: 2xx goes to the provider's parser; 429 and 5xx defer the whole batch, honouring
``Retry-After`` (or ``X-RateLimit-Reset``); 401, 403 and 404 mean the key, the account or the
endpoint is wrong, so :class:`TransportError` stops the send. Any other 4xx (400, 413, 422)
refuses the whole request, and the provider's error body says why (:class:`Rejection`):

* the sender, the account or what every copy shares (a From address the provider does not
  know, an account not allowed to send): no reader is to blame, and TransportError stops the
  send with the provider's own words;
* named recipients (SendGrid's ``personalizations.3.to.0.email``): exactly those fail, and the
  rest of the batch is posted again at once;
* nothing useful: the batch is sent again in halves until the culprit is alone (at most
  :data:`MAX_SPLITS` times per ``send``), and only a single recipient's 4xx is ``failed``.

Before a send, :meth:`~EspTransport.verify` makes the provider's documented read-only call
(:meth:`~EspTransport.check_request`: Mailgun's domain, SendGrid's scopes, Postmark's server),
which answers 200 only to a key it accepts; nothing is sent or changed.

The API key never reaches a message or the ledger: it is checked when the transport is made
(no spaces, control or non-ASCII characters, which ``requests`` would quote in its error), an
``?endpoint=`` with a user or password in it is refused unread, and any text that could hold
the key is redacted.

Unsubscribes answered by the ESP (``[list] unsubscribe = "esp"``): each provider names, in
:meth:`EspTransport.unsubscribe_link`, the placeholder it replaces with each reader's own
unsubscribe link, and turns its own unsubscribe handling on; the footer's link token is written
as that placeholder in the shared HTML and text (:meth:`EspTransport.variable_writer`), and no
List-Unsubscribe or List-Unsubscribe-Post of ours is sent: the provider adds its own.

Personalised sending: the message builder leaves merge tokens (``MFQX<key>XQMF``) in the shared
subject, HTML and text. SendGrid and Mailgun receive those once per batch with each token
turned into the provider's variable syntax, plus each recipient's values. The HTML gets its
own variable per merge field holding the HTML-escaped value (``<key>_html``), exactly what
:meth:`FillIn.fill` would insert, so a name like ``Tom & Jerry`` reads the same in both parts.
"""

from __future__ import annotations

import base64
import time
from abc import abstractmethod
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime, quote
from pathlib import Path
from typing import Any, ClassVar

import requests
from markupsafe import escape

from mailer.compose.images import InlineImage
from mailer.compose.merge import UNSUBSCRIBE_KEY
from mailer.credentials import Needed, Redactor
from mailer.delivery.message import ONE_CLICK, FillIn, OutgoingMessage, SharedContent
from mailer.delivery.transports.base import Dsn, RecipientResult, Status, Transport
from mailer.errors import TransportError, Unreachable, UsageError

TIMEOUT = (10.0, 120.0)  # connect, read: a 1,000-recipient batch can take a while to accept
CONFIGURATION_STATUSES = (401, 403, 404)
# Halvings of a batch rejected for a reason its error body does not give: isolating one bad
# recipient among 1,000 takes about ten, so this finds a few; a request refused whatever it
# holds costs at most twice this many extra requests before the rest is deferred, not failed.
MAX_SPLITS = 32


@dataclass
class EspRequest:
    """One HTTP request to the provider, relative to its base URL: a POST that sends, or the
    GET of :meth:`EspTransport.check_request`."""

    path: str
    json: Any = None
    data: list[tuple[str, str]] | None = None
    files: list[tuple[str, tuple[str, bytes, str]]] | None = None
    headers: dict[str, str] = field(default_factory=dict, repr=False)  # may hold the key
    auth: tuple[str, str] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Rejection:
    """What a provider's error body says a refused request (a 4xx other than 401, 403, 404, 429)
    was about: the answer of :meth:`EspTransport.classify_rejection`.

    ``about_request``: the sender, the account or something every copy shares; the send stops.
    ``culprits``: the recipients it names, by position in the request, each with the provider's
    words about it; they fail and the others are posted again. Neither: it does not say.
    """

    message: str  # the provider's own words
    about_request: bool = False
    culprits: Mapping[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Rejected:
    """A request refused for its recipients, or for a reason not given, as the ledger reads it."""

    detail: str  # "<provider> HTTP <status>: <its words>"
    culprits: dict[int, str]  # position in the request -> the detail for that recipient


class AcceptedInPart(TransportError):
    """The provider took some messages of a request but refused others for a reason that stops
    the send (Postmark answers per message): ``results`` for the whole request, those refused
    ``deferred``, are recorded before the send stops."""

    def __init__(self, provider: str, message: str, results: list[RecipientResult]) -> None:
        super().__init__(provider, message)
        self.results = results


class EspTransport(Transport):
    """An HTTP email API; subclasses name the provider and fill in the hooks."""

    needs_mime = False
    default_endpoint: str
    secret_variable: ClassVar[str]
    options: ClassVar[tuple[str, ...]] = ("endpoint",)

    @classmethod
    def login(cls, dsn: Dsn) -> Needed:
        return Needed(cls.secret_variable, f"sending through {cls.name}")

    def __init__(self, dsn: Dsn, base_dir: Path, secret: str | None = None) -> None:
        endpoint = dsn.options.get("endpoint") or self.endpoint_for(dsn)
        if "@" in endpoint:
            # A user and password in the URL: most likely the key, which the query string has
            # decoded (a "+" read as a space) past any redaction. Never echoed, never used.
            raise UsageError(
                f"transport {dsn.scheme}://: ?endpoint= must not hold a user name or password "
                f"(an @ in it); the key comes from {self.secret_variable} only"
            )
        if not endpoint.startswith(("https://", "http://")):
            raise dsn.fail(f"endpoint {endpoint!r} is not an http(s) URL")
        self.endpoint = endpoint.rstrip("/")
        self.key = (secret or "").strip()
        self.redact = Redactor([self.key, secret])
        if not self.key or not all("!" <= c <= "~" for c in self.key):
            # Never the value: it is a secret, and possibly pasted with something else.
            raise TransportError(
                self.name, f"{self.secret_variable} holds a space, a control character or a "
                "non-ASCII character; set it to the API key alone",
            )
        self.session = requests.Session()
        self._images: dict[str, bytes] = {}
        self.esp_link = self.unsubscribe_link(dsn)

    def endpoint_for(self, dsn: Dsn) -> str:
        """The base URL when the DSN names none (Mailgun's depends on the region)."""
        return self.default_endpoint

    @abstractmethod
    def credentials(self) -> dict[str, Any]:
        """How a request to the provider shows the key: ``headers`` and ``auth`` as
        ``requests`` takes them (for the sending requests and the suppression lists' alike)."""

    @classmethod
    @abstractmethod
    def unsubscribe_link(cls, dsn: Dsn) -> str:
        """The placeholder the provider replaces with each reader's own unsubscribe link, as
        it documents it, when it answers unsubscribes: in an ``href`` and in the text."""

    def variable_writer(
        self, content: SharedContent, variable: Callable[[str], str]
    ) -> Callable[[str], str]:
        """``variable`` for the merge tokens, but the unsubscribe link's written out as
        :attr:`esp_link` when the provider answers unsubscribes: the provider fills it in, so
        it must stand in the shared text as it is, never as a reader's (escaped) value."""
        if content.unsubscribe != "esp":
            return variable
        link = self.esp_link
        return lambda key: link if key == UNSUBSCRIBE_KEY else variable(key)

    # -- hooks ------------------------------------------------------------------------------

    @abstractmethod
    def build_request(self, content: SharedContent, messages: Sequence[OutgoingMessage]) -> (
        EspRequest
    ):
        """The documented request that sends ``messages`` (which share ``content``)."""

    @abstractmethod
    def check_request(self) -> EspRequest:
        """The provider's documented read-only call that needs an accepted key (a GET)."""

    def check_answer(self, response: requests.Response) -> None:
        """TransportError when the 200 answer of :meth:`check_request` says the key cannot
        send after all (SendGrid's scopes); by default a 200 is enough."""

    @abstractmethod
    def parse_results(
        self, messages: Sequence[OutgoingMessage], response: requests.Response
    ) -> list[RecipientResult]:
        """One result per message from a successful (2xx) response."""

    def error_message(self, response: requests.Response) -> str:
        """The provider's own words from an error response."""
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and body.get("message"):
            return str(body["message"])
        return " ".join(response.text.split())[:300] or str(response.reason)

    def classify_rejection(
        self, response: requests.Response, messages: Sequence[OutgoingMessage]
    ) -> Rejection:
        """What the refusal of ``messages`` (a 400, 413, 422 ...) was about, from the provider's
        error body; by default the body is taken to say nothing about it."""
        return Rejection(self.error_message(response))

    def split(self, messages: Sequence[OutgoingMessage]) -> Iterator[Sequence[OutgoingMessage]]:
        """The requests one batch takes; one unless a provider limits the payload size."""
        yield messages

    # -- the exchange -----------------------------------------------------------------------

    def stream(self, messages: Sequence[OutgoingMessage]) -> Generator[list[RecipientResult]]:
        """One request after another (a batch may take several), each request's results
        yielded before the next request is posted, all in the order of ``messages``."""
        content = messages[0].content
        if any(message.content is not content for message in messages):
            raise ValueError("one batch must hold messages of the same issue")
        # A part is a list of positions in ``messages``. The stack's parts never overlap and
        # rise from top to bottom, so whatever is answered comes before anything still pending.
        pending: list[list[int]] = []
        start = 0
        for request in self.split(messages):
            pending.insert(0, list(range(start, start + len(request))))
            start += len(request)
        held: dict[int, RecipientResult] = {}  # named culprits, failed before their turn came
        splits = MAX_SPLITS
        while pending:
            part = pending.pop()
            batch = [messages[n] for n in part]
            try:
                outcome = self._post(content, batch)
            except AcceptedInPart as stop:
                yield self._in_order(zip(part, stop.results, strict=True), held, pending)
                raise
            if not isinstance(outcome, Rejected):
                answered = list(zip(part, outcome, strict=True))
            elif outcome.culprits:  # those it names fail; the others are posted again at once
                for k, detail in outcome.culprits.items():
                    held[part[k]] = RecipientResult(
                        batch[k].recipient, batch[k].message_id, "failed", detail=detail
                    )
                rest = [n for k, n in enumerate(part) if k not in outcome.culprits]
                if rest:
                    pending.append(rest)
                answered = []
            elif len(part) == 1:
                failed = results_for(batch, "failed", outcome.detail)
                answered = list(zip(part, failed, strict=True))
            elif splits:
                splits -= 1
                half = len(part) // 2
                pending += [part[half:], part[:half]]
                continue
            else:
                deferred = results_for(
                    batch, "deferred", f"{outcome.detail} (for a batch of {len(part)}; "
                    "to be tried again in other batches)",
                )
                answered = list(zip(part, deferred, strict=True))
            results = self._in_order(answered, held, pending)
            if results:
                yield results

    def _in_order(
        self, answered: Iterable[tuple[int, RecipientResult]], held: dict[int, RecipientResult],
        pending: list[list[int]],
    ) -> list[RecipientResult]:
        """A request's results, with the held failures that come before anything still
        pending, in the order of the batch (which the caller pairs them with)."""
        ready = dict(answered)
        for position in [n for n in held if not pending or n < pending[-1][0]]:
            ready[position] = held.pop(position)
        return [self.scrub(ready[position]) for position in sorted(ready)]

    def _post(
        self, content: SharedContent, messages: Sequence[OutgoingMessage]
    ) -> list[RecipientResult] | Rejected:
        """Post one request: its results, or what its rejection says of its recipients.

        TransportError when the provider refuses the key, the account or the sender.
        """
        request = self.build_request(content, messages)
        try:
            response = self.session.post(
                self.endpoint + request.path, json=request.json, data=request.data,
                files=request.files, headers=request.headers, auth=request.auth, timeout=TIMEOUT,
            )
        except (requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL):
            raise self._unsendable() from None
        except requests.RequestException as exc:
            return results_for(messages, "deferred", f"{self.name}: {type(exc).__name__}: {exc}")
        status = response.status_code
        if 200 <= status < 300:
            return self.parse_results(messages, response)
        if status in CONFIGURATION_STATUSES:
            raise TransportError(self.name, self.redact(self.error_message(response)), status)
        prefix = f"{self.name} HTTP {status}: "
        if status == 429 or status >= 500:
            return results_for(
                messages, "deferred", prefix + self.error_message(response),
                retry_after=retry_after(response.headers),
            )
        rejection = self.classify_rejection(response, messages)
        if rejection.about_request:
            raise TransportError(self.name, self.redact(rejection.message), status)
        return Rejected(
            prefix + rejection.message,
            {
                k: prefix + words for k, words in rejection.culprits.items()
                if 0 <= k < len(messages)
            },
        )

    def verify(self) -> None:
        """The read-only call of :meth:`check_request`: TransportError when the provider
        refuses the key, the account or the domain (4xx), Unreachable when it cannot be asked
        now (no connection, 429, 5xx)."""
        request = self.check_request()
        try:
            response = self.session.get(
                self.endpoint + request.path, headers=request.headers, auth=request.auth,
                timeout=TIMEOUT,
            )
        except (requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL):
            raise self._unsendable() from None
        except requests.RequestException as exc:
            raise Unreachable(
                f"{self.name}: cannot reach {self.endpoint}: {type(exc).__name__}"
            ) from None
        status = response.status_code
        if 200 <= status < 300:
            self.check_answer(response)
            return
        words = self.redact(self.error_message(response))
        if status == 429 or status >= 500:
            raise Unreachable(f"{self.name} HTTP {status}: {words}; try again later")
        raise TransportError(
            self.name, f"GET {request.path} was refused: {words} ({self.refusal_hint(status)})",
            status,
        )

    def refusal_hint(self, status: int) -> str:
        """What to do when the provider refuses the read-only call with ``status``."""
        return f"check {self.secret_variable}: it must be the key of the account that sends"

    def _unsendable(self) -> TransportError:
        """A request that cannot be made: the key or the endpoint holds what a header or URL
        cannot (the library's error would quote them, so it is never passed on)."""
        return TransportError(
            self.name, f"the request cannot be sent: check {self.secret_variable} and the "
            f"endpoint {self.endpoint}",
        )

    def close(self) -> None:
        self.session.close()

    # -- helpers for the provider modules -----------------------------------------------------

    def inline_images(self, content: SharedContent) -> list[tuple[InlineImage, bytes]]:
        """Each inline image with its bytes, read once per transport."""
        images = []
        for image in content.images:
            data = self._images.get(image.content_id)
            if data is None:
                data = self._images[image.content_id] = image.path.read_bytes()
            images.append((image, data))
        return images


def list_headers(content: SharedContent) -> dict[str, str]:
    """The headers every copy of an issue shares: List-Id, and RFC 8058 one-click unsubscribe
    when the copies carry our https link (not for a mailto alone, nor when the ESP adds its own).

    The values are what the message's own header lines hold, in ASCII (a list name such as
    "Bülten" in RFC 2047 encoded words): the APIs pass custom headers on as they get them.
    The per-recipient ones (List-Unsubscribe, Message-ID: ASCII by construction) are each
    provider's to place.
    """
    headers = {"List-Id": content.list_id_header}
    if content.one_click:
        headers["List-Unsubscribe-Post"] = ONE_CLICK
    return headers


def results_for(
    messages: Sequence[OutgoingMessage], status: Status, detail: str, *,
    provider_id: str | None = None, retry_after: float | None = None,
) -> list[RecipientResult]:
    """The same outcome for every message of a request."""
    return [
        RecipientResult(
            m.recipient, m.message_id, status, provider_id=provider_id, detail=detail,
            retry_after=retry_after, shared=True,
        )
        for m in messages
    ]


def retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from ``Retry-After`` (seconds or HTTP date) or ``X-RateLimit-Reset``."""
    now = time.time() if now is None else now
    value = headers.get("Retry-After")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                return max(0.0, parsedate_to_datetime(value).timestamp() - now)
            except (TypeError, ValueError):
                return None
    reset = headers.get("X-RateLimit-Reset")
    if reset:
        try:
            seconds = float(reset)
        except ValueError:
            return None
        return max(0.0, seconds - now) if seconds > 1e9 else seconds  # epoch or delta
    return None


def display_address(name: str, email: str) -> str:
    """``Name <email>`` for a JSON or form API, which encodes non-ASCII names itself."""
    if not name:
        return email
    if any(c in name for c in '",;:<>@()[]\\.'):
        name = f'"{quote(name)}"'
    return f"{name} <{email}>"


def with_variables(fill: FillIn, variable: Callable[[str], str]) -> str:
    """``fill``'s text with each merge token written as ``variable(key)``."""
    parts = list(fill.parts)
    for index in range(1, len(parts), 2):
        parts[index] = variable(parts[index])
    return "".join(parts)


def html_key(key: str) -> str:
    """The variable holding the HTML-escaped value of merge field ``key``."""
    return f"{key}_html"


def merge_variables(content: SharedContent, message: OutgoingMessage) -> dict[str, str]:
    """Each merge field's raw value, and its HTML-escaped twin for the HTML part."""
    values = message.personalisation.values
    skip = {UNSUBSCRIBE_KEY} if content.unsubscribe == "esp" else set()  # the ESP's, written out
    variables = {key: values[key] for key in {*content.subject.keys, *content.text.keys} - skip}
    for key in set(content.html.keys) - skip:
        variables[html_key(key)] = str(escape(values[key]))
    return variables


def filled(
    content: SharedContent, message: OutgoingMessage, esp_link: str = ""
) -> tuple[str, str, str]:
    """(subject, HTML, text) of one message, for APIs that take each message whole; with
    ``esp_link`` as the unsubscribe link when the provider answers unsubscribes."""
    values = message.personalisation.values
    if content.unsubscribe == "esp":
        values = {**values, UNSUBSCRIBE_KEY: esp_link}
    return content.subject.fill(values), content.html.fill(values), content.text.fill(values)


def base64_text(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
