"""``ses://REGION[?configuration_set=NAME]``: Amazon SES's v2 API, each reader's own raw message.

Each message goes out as it was built (``SendEmail`` with ``Content.Raw``): mailer's MIME, its
DKIM signature, List-Unsubscribe and Message-ID untouched; SES adds its own DKIM signature and
envelope. One ``SendEmail`` call carries one message, to one ``Destination``, so every reader's
answer is their own. ``?configuration_set=`` names the configuration set whose event
destinations publish bounces and complaints (to the SNS topic ``mailer serve`` listens to).

Requests are signed with SigV4 (:mod:`~mailer.delivery.transports.sigv4`) and sent over a
``requests`` session, as the other HTTP services are, with the credentials AWS tools find: the
environment (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, and ``AWS_SESSION_TOKEN`` for
temporary ones), which comes first for them too, or, with ``?profile=NAME``, that profile as
botocore's resolver reads it (``~/.aws/credentials`` and ``~/.aws/config``: keys, an assumed
role, SSO, a credential process; refreshed when they expire). This is the one transport that
reads its credentials itself, so that every form AWS documents works; a send still names the
variables it needs before anything connects. No botocore client is made: a client costs a
worker about 3 MB, and a million readers need nothing of it but the signature.

Before a send :meth:`SesTransport.verify` asks for the account's send quota (``GetSendQuota``:
a refused key stops the send there) and, with ``?configuration_set=``, that the set exists; the
quota's ``MaxSendRate`` becomes the send's rate (:attr:`Transport.send_rate`).

Answers: throttling (``TooManyRequestsException``, ``Throttling``), 5xx and a lost connection
defer the message, as for the other ESPs; SES's refusals of the account or the sender (a
sandbox account sending to an unverified address, an unverified From identity, sending paused,
the account suspended, a configuration set that does not exist, a refused key) stop the send
with SES's own words and fail nobody; a daily quota used up stops it as unfinished. Any other
refusal (``BadRequestException``: an address SES cannot take) fails that reader alone.
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
from collections.abc import Callable, Generator, Sequence
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlencode, urlsplit
from xml.etree import ElementTree

import requests

from mailer.credentials import Needed, Redactor
from mailer.delivery.headers import envelope_address
from mailer.delivery.message import OutgoingMessage
from mailer.delivery.transports.base import Dsn, RecipientResult, Transport
from mailer.delivery.transports.sigv4 import Keys, encode_path, sign
from mailer.errors import DeliveryError, TransportError, Unreachable, UsageError

LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}")
TIMEOUT = (10.0, 60.0)  # connect, read
SERVICE = "ses"  # the name SES's requests are signed for (v1 and v2 alike)
SEND_PATH = "/v2/email/outbound-emails"
QUERY_VERSION = "2010-12-01"  # the v1 (query) API: GetSendQuota, DescribeConfigurationSet
KEY_ID = Needed("AWS_ACCESS_KEY_ID", "signing requests to Amazon SES")
# Error codes of SES (v2, and v1 for the quota) that mean "later": the rate or a server.
THROTTLED = frozenset({"TooManyRequestsException", "Throttling", "ThrottlingException"})
# Error codes about the account, the key or the sender, whoever the recipient is.
ACCOUNT_CODES = frozenset({
    "MessageRejected", "AccountSuspendedException", "SendingPausedException",
    "MailFromDomainNotVerifiedException", "NotFoundException", "AccessDeniedException",
    "UnrecognizedClientException", "InvalidClientTokenId", "SignatureDoesNotMatch",
    "InvalidSignatureException", "IncompleteSignature", "ExpiredToken", "ExpiredTokenException",
    "MissingAuthenticationToken", "ConfigurationSetDoesNotExist",
})
DAILY_QUOTA = "Daily message quota exceeded"
# A profile's credentials, found once a process by botocore's resolver (which refreshes them).
_PROFILES: dict[str, Callable[[], Keys]] = {}
_LOCK = threading.Lock()


class SesTransport(Transport):
    name = "Amazon SES"
    # One message claimed (and built: whole, images and all) per ledger round trip: each is a
    # SendEmail call of its own anyway, so a batch saves only a claim, and ten built messages
    # held by each of 8 workers were about 12 MB of a send's peak memory.
    max_batch = 1
    secret_variable: ClassVar[str] = "AWS_SECRET_ACCESS_KEY"
    options: ClassVar[tuple[str, ...]] = ("configuration_set", "profile", "endpoint")

    @classmethod
    def login(cls, dsn: Dsn) -> Needed | None:
        if dsn.options.get("profile"):
            return None  # the profile's files hold the keys
        return Needed(cls.secret_variable, "signing requests to Amazon SES")

    @classmethod
    def secrets(cls, dsn: Dsn) -> list[Needed]:
        found = super().secrets(dsn)
        return [KEY_ID, *found] if cls.login(dsn) is not None else found

    def __init__(self, dsn: Dsn, base_dir: Path, secret: str | None = None) -> None:
        self.region = dsn.host
        if not REGION.fullmatch(self.region) or dsn.path.strip("/") or dsn.user or dsn.port:
            raise dsn.fail("write the AWS region alone after ses://, such as ses://eu-central-1")
        self.configuration_set = dsn.options.get("configuration_set") or None
        endpoint = dsn.options.get("endpoint") or f"https://email.{self.region}.amazonaws.com"
        if "@" in endpoint:
            raise UsageError("transport ses://: ?endpoint= must not hold a user or password")
        if not endpoint.startswith(("https://", "http://")):
            raise dsn.fail(f"endpoint {endpoint!r} is not an http(s) URL")
        try:
            self.host = _host(endpoint)
        except ValueError:
            raise dsn.fail(f"endpoint {endpoint!r} has no host and port a URL can have") from None
        if endpoint.startswith("http://") and urlsplit(endpoint).hostname not in LOOPBACK:
            # The signed headers (a temporary key's session token) would travel in clear.
            raise dsn.fail(f"endpoint {endpoint!r}: plain http only to this machine; use https")
        self.endpoint = endpoint.rstrip("/")
        self._secret = secret
        self.redact = Redactor([secret])
        self._keys = _credentials(dsn.options.get("profile") or None, secret, self.redact)
        self._known: Keys | None = None  # the keys last signed with, redacted from answers
        self.session = _session(self.endpoint)

    # -- the exchange -----------------------------------------------------------------------

    def stream(self, messages: Sequence[OutgoingMessage]) -> Generator[list[RecipientResult]]:
        for message in messages:
            yield [self.scrub(self._send(message))]

    def _send(self, message: OutgoingMessage) -> RecipientResult:
        # The JSON written around the base64 text, rather than the text put in a dict for
        # json.dumps: one copy of a message less, a few hundred kB a worker.
        head: dict[str, Any] = {
            "Destination": {"ToAddresses": [envelope_address(message.recipient)]}
        }
        if self.configuration_set:
            head["ConfigurationSetName"] = self.configuration_set
        body = b"".join([
            json.dumps(head)[:-1].encode(), b', "Content": {"Raw": {"Data": "',
            base64.b64encode(message.data), b'"}}}',
        ])
        try:
            response = self._request("POST", SEND_PATH, body, "application/json")
        except requests.RequestException as exc:  # no connection, a timeout, a dropped answer
            return RecipientResult(
                message.recipient, message.message_id, "deferred",
                detail=f"{self.name}: {type(exc).__name__}: {exc}",
            )
        if response.status_code == 200:
            return RecipientResult(
                message.recipient, message.message_id, "queued",
                provider_id=str(_json(response).get("MessageId") or "") or None,
                detail="Amazon SES: accepted",
            )
        return self._refused(message, response)

    def _refused(self, message: OutgoingMessage, response: requests.Response) -> RecipientResult:
        """The result of an error answer, or TransportError / DeliveryError to stop the send."""
        code, words, status = _error(response)
        detail = self.redact(f"{self.name} HTTP {status} {code}: {words}")
        if DAILY_QUOTA.lower() in words.lower():
            raise DeliveryError(
                f"{self.redact(words)} ({self.name}): the account's sending quota for 24 hours "
                "is used up; run the same send again later, it continues where it stopped"
            )
        if code in THROTTLED or status == 429 or status >= 500:
            return RecipientResult(message.recipient, message.message_id, "deferred", detail=detail)
        if code in ACCOUNT_CODES or status in (401, 403):
            raise TransportError(self.name, self.redact(f"{code}: {words}"), status)
        return RecipientResult(message.recipient, message.message_id, "failed", detail=detail)

    def _request(
        self, method: str, path: str, body: bytes = b"", content_type: str | None = None
    ) -> requests.Response:
        """One signed request to SES (``path`` not yet URL-encoded); its answer, whatever
        the status. TransportError when the credentials cannot be had."""
        keys = self._keys()
        if keys != self._known:  # new (refreshed) keys: their secrets are redacted too
            self._known = keys
            self.redact = Redactor([self._secret, keys.access_key, keys.secret_key, keys.token])
        headers = sign(
            keys, self.region, SERVICE, method, self.host, path,
            {"Content-Type": content_type} if content_type else {}, body,
        )
        return self.session.request(  # never redirected: the signed headers stay with SES
            method, self.endpoint + encode_path(path), data=body or None, headers=headers,
            timeout=TIMEOUT, allow_redirects=False,
        )

    def _query(self, action: str, **parameters: str) -> ElementTree.Element:
        """A call of the v1 (query) API: its answer's XML. TransportError when SES refuses it,
        Unreachable when it cannot be asked now."""
        form = urlencode({"Action": action, "Version": QUERY_VERSION, **parameters})
        answer = self._checked(
            "POST", "/", form.encode(), "application/x-www-form-urlencoded; charset=utf-8"
        )
        try:
            found = _strip_namespaces(ElementTree.fromstring(answer.content))
        except ElementTree.ParseError:
            found = None
        if found is None or found.tag != f"{action}Response":  # a proxy's page, say
            raise TransportError(
                self.name, f"{action}: the answer from {self.host} is not SES's XML (is "
                "?endpoint= right?)",
            )
        return found

    def _checked(
        self, method: str, path: str, body: bytes = b"", content_type: str | None = None
    ) -> requests.Response:
        """A request that must succeed before a send: its 2xx answer; TransportError when
        SES refuses it, Unreachable when it cannot be asked now."""
        try:
            response = self._request(method, path, body, content_type)
        except requests.RequestException as exc:
            raise Unreachable(
                f"{self.name}: cannot reach SES in {self.region}: {type(exc).__name__}"
            ) from None
        if 200 <= response.status_code < 300:
            return response
        code, words, status = _error(response)
        if code in THROTTLED or status == 429 or status >= 500:
            raise Unreachable(f"{self.name}: {self.redact(words)}; try again later")
        raise TransportError(self.name, self.redact(f"{code}: {words}"), status)

    def verify(self) -> None:
        """``GetSendQuota`` (v1: the API every account has) for the key and the rate, then the
        configuration set (v2 ``GetConfigurationSet``); TransportError when SES refuses either,
        Unreachable when it cannot be asked now."""
        quota = self._query("GetSendQuota")
        if self.configuration_set:
            self._checked("GET", f"/v2/email/configuration-sets/{self.configuration_set}")
        try:
            rate = float(quota.findtext(".//MaxSendRate") or 0)
        except ValueError:
            rate = 0
        self.send_rate = rate if rate > 0 else None

    def feedback_topics(self) -> list[str]:
        """The SNS topics the configuration set publishes both bounces and complaints to, by
        an enabled event destination (``DescribeConfigurationSet``); [] without a set.
        TransportError or Unreachable as :meth:`verify`."""
        if not self.configuration_set:
            return []
        found = self._query(
            "DescribeConfigurationSet", ConfigurationSetName=self.configuration_set,
            **{"ConfigurationSetAttributeNames.member.1": "eventDestinations"},
        )
        topics = []
        for destination in found.iterfind(".//EventDestinations/member"):
            kinds = {
                (kind.text or "").strip().lower()
                for kind in destination.iterfind("MatchingEventTypes/member")
            }
            topic = (destination.findtext("SNSDestination/TopicARN") or "").strip()
            enabled = (destination.findtext("Enabled") or "").strip() == "true"
            if enabled and {"bounce", "complaint"} <= kinds and topic:
                topics.append(topic)
        return topics

    def close(self) -> None:
        self.session.close()


_NO_CREDENTIALS = (
    "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and "
    "AWS_SESSION_TOKEN for temporary ones), or name a profile with ?profile="
)


def _credentials(
    profile: str | None, secret: str | None, redact: Redactor
) -> Callable[[], Keys]:
    """What gives the keys to sign each request with: the environment's (``secret`` is
    ``AWS_SECRET_ACCESS_KEY``, which the factory read), or ``profile``'s, found by botocore's
    resolver. TransportError when there are none."""
    if profile is None:
        key_id = os.environ.get("AWS_ACCESS_KEY_ID", "")
        if not key_id or not secret:
            raise TransportError(SesTransport.name, _NO_CREDENTIALS)
        keys = Keys(key_id, secret, os.environ.get("AWS_SESSION_TOKEN") or None)
        return lambda: keys
    with _LOCK:
        found = _PROFILES.get(profile)
        if found is None:
            found = _PROFILES[profile] = _profile(profile, redact)
    return found


def _profile(profile: str, redact: Redactor) -> Callable[[], Keys]:
    """The keys of ``profile``, as botocore resolves (and refreshes) them."""
    import botocore.session
    from botocore.exceptions import BotoCoreError

    try:
        found = botocore.session.Session(profile=profile).get_credentials()
        if found is None or not found.get_frozen_credentials().access_key:
            raise TransportError(SesTransport.name, _NO_CREDENTIALS)
    except BotoCoreError as exc:  # a profile that does not exist, a broken config file
        raise TransportError(SesTransport.name, redact(str(exc))) from None

    def keys() -> Keys:
        try:
            frozen = found.get_frozen_credentials()
        except BotoCoreError as exc:  # a refresh that failed: nothing can be signed
            raise TransportError(SesTransport.name, redact(str(exc))) from None
        return Keys(frozen.access_key, frozen.secret_key, frozen.token)

    return keys


def _session(endpoint: str) -> requests.Session:
    """A ``requests`` session with the environment's settings for ``endpoint`` (its proxy, a
    CA bundle) read once. By default requests reads them at every request, scanning the whole
    environment twice: about 1 ms of CPU a SendEmail, a third of what the send spent on each.
    (Nor does a ``.netrc`` add a login of its own to a signed request.)"""
    session = requests.Session()
    session.proxies = requests.utils.get_environ_proxies(endpoint)
    session.verify = (
        os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    )
    session.trust_env = False
    return session


def _host(endpoint: str) -> str:
    """The Host header ``requests`` sends to ``endpoint`` (no port when it is the default);
    ValueError when it has no host or a port out of range."""
    parts = urlsplit(endpoint)
    default = {"https": 443, "http": 80}[parts.scheme]
    host = parts.hostname or ""
    if not host:
        raise ValueError(endpoint)
    if ":" in host:
        host = f"[{host}]"
    return host if parts.port in (None, default) else f"{host}:{parts.port}"


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _error(response: requests.Response) -> tuple[str, str, int]:
    """(code, message, HTTP status) of an error answer: the v2 API's JSON (its code in the
    ``x-amzn-ErrorType`` header or ``__type``) or the v1 API's XML (``Error/Code``)."""
    status = response.status_code
    code = response.headers.get("x-amzn-ErrorType", "").partition(":")[0]
    text = response.text.strip()
    words = ""
    if text.startswith("<"):
        try:
            tree = _strip_namespaces(ElementTree.fromstring(text))
        except ElementTree.ParseError:
            tree = None
        if tree is not None:
            code = code or (tree.findtext(".//Error/Code") or "").strip()
            words = (tree.findtext(".//Error/Message") or "").strip()
    else:
        body = _json(response)
        code = code or str(body.get("__type") or body.get("code") or "").rpartition("#")[2]
        words = str(body.get("message") or body.get("Message") or "")
    return code, words or " ".join(text.split())[:300] or str(response.reason), status


def _strip_namespaces(tree: ElementTree.Element) -> ElementTree.Element:
    """``tree`` with each tag's XML namespace taken off (SES's answers put theirs on every
    element), so that paths name elements as the API reference does."""
    element: ElementTree.Element
    for element in tree.iter():
        element.tag = element.tag.rpartition("}")[2]
    return tree
