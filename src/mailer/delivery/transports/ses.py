"""``ses://REGION[?configuration_set=NAME]``: Amazon SES's v2 API, each reader's own raw message.

Each message goes out as it was built (``SendEmail`` with ``Content.Raw``): mailer's MIME, its
DKIM signature, List-Unsubscribe and Message-ID untouched; SES adds its own DKIM signature and
envelope. One ``SendEmail`` call carries one message, to one ``Destination``, so every reader's
answer is their own. ``?configuration_set=`` names the configuration set whose event
destinations publish bounces and complaints (to the SNS topic ``mailer serve`` listens to).

Requests are signed by botocore (SigV4) with the credentials AWS tools find: the environment
(``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, and ``AWS_SESSION_TOKEN`` for temporary
ones) or, with ``?profile=NAME``, that profile of ``~/.aws/credentials`` and ``~/.aws/config``.
This is the one transport that reads them itself, through botocore's resolver, so that every
form AWS documents works; a send still names the variables it needs before anything connects.

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

import re
import threading
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from mailer.credentials import Needed, Redactor
from mailer.delivery.message import OutgoingMessage
from mailer.delivery.transports.base import Dsn, RecipientResult, Transport
from mailer.delivery.transports.smtp import envelope_address
from mailer.errors import DeliveryError, TransportError, Unreachable, UsageError

REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}")
TIMEOUTS = {"connect_timeout": 10, "read_timeout": 60}
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
# botocore's sessions load the service descriptions once; making clients from one is guarded.
_SESSIONS: dict[str | None, Any] = {}
_LOCK = threading.Lock()


class SesTransport(Transport):
    name = "Amazon SES"
    # Messages claimed (and built: whole, images and all) per ledger round trip, one SendEmail
    # call each: few, so that a worker holds little memory.
    max_batch = 10
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
        self.endpoint = dsn.options.get("endpoint") or None
        if self.endpoint is not None:
            if "@" in self.endpoint:
                raise UsageError("transport ses://: ?endpoint= must not hold a user or password")
            if not self.endpoint.startswith(("https://", "http://")):
                raise dsn.fail(f"endpoint {self.endpoint!r} is not an http(s) URL")
        self.redact = Redactor([secret])
        profile = dsn.options.get("profile") or None
        try:
            with _LOCK:
                session = _SESSIONS.get(profile)
                if session is None:
                    session = _SESSIONS[profile] = _session(profile)
                found = session.get_credentials()
                credentials = found.get_frozen_credentials() if found is not None else None
                if credentials is None or not credentials.access_key:
                    raise TransportError(self.name, _NO_CREDENTIALS)
                self.redact = Redactor([
                    secret, credentials.access_key, credentials.secret_key, credentials.token,
                ])
                self.client = self._client(session, "sesv2")
                self._session = session
        except BotoCoreError as exc:  # a profile that does not exist, a broken config file
            raise TransportError(self.name, self.redact(str(exc))) from None

    def _client(self, session: Any, service: str) -> Any:
        config = Config(
            retries={"total_max_attempts": 1, "mode": "standard"},  # deferrals are ours
            max_pool_connections=1, user_agent_extra="mailer", **TIMEOUTS,
        )
        return session.create_client(
            service, region_name=self.region, endpoint_url=self.endpoint, config=config
        )

    def stream(self, messages: Sequence[OutgoingMessage]) -> Generator[list[RecipientResult]]:
        for message in messages:
            yield [self.scrub(self._send(message))]

    def _send(self, message: OutgoingMessage) -> RecipientResult:
        request: dict[str, Any] = {
            "Destination": {"ToAddresses": [envelope_address(message.recipient)]},
            "Content": {"Raw": {"Data": message.data}},
        }
        if self.configuration_set:
            request["ConfigurationSetName"] = self.configuration_set
        try:
            answer = self.client.send_email(**request)
        except ClientError as exc:
            return self._refused(message, exc)
        except BotoCoreError as exc:  # no connection, a timeout, a dropped answer
            return RecipientResult(
                message.recipient, message.message_id, "deferred",
                detail=f"{self.name}: {type(exc).__name__}: {exc}",
            )
        return RecipientResult(
            message.recipient, message.message_id, "queued",
            provider_id=str(answer.get("MessageId") or "") or None, detail="Amazon SES: accepted",
        )

    def _refused(self, message: OutgoingMessage, exc: Exception) -> RecipientResult:
        """The result of an error answer, or TransportError / DeliveryError to stop the send."""
        code, words, status = _error(exc)
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

    def verify(self) -> None:
        """``GetSendQuota`` (v1: the API every account has) for the key and the rate, then the
        configuration set; TransportError when SES refuses either, Unreachable when it cannot
        be asked now."""
        try:
            with _LOCK:
                quota_client = self._client(self._session, "ses")
            quota = quota_client.get_send_quota()
            if self.configuration_set:
                self.client.get_configuration_set(ConfigurationSetName=self.configuration_set)
        except ClientError as exc:
            code, words, status = _error(exc)
            if code in THROTTLED or status == 429 or status >= 500:
                raise Unreachable(f"{self.name}: {self.redact(words)}; try again later") from None
            raise TransportError(self.name, self.redact(f"{code}: {words}"), status) from None
        except BotoCoreError as exc:
            raise Unreachable(
                f"{self.name}: cannot reach SES in {self.region}: {type(exc).__name__}"
            ) from None
        rate = float(quota.get("MaxSendRate") or 0)
        self.send_rate = rate if rate > 0 else None

    def feedback_topics(self) -> list[str]:
        """The SNS topics the configuration set publishes both bounces and complaints to, by
        an enabled event destination (``DescribeConfigurationSet``); [] without a set.
        TransportError or Unreachable as :meth:`verify`."""
        if not self.configuration_set:
            return []
        try:
            with _LOCK:
                client = self._client(self._session, "ses")
            found = client.describe_configuration_set(
                ConfigurationSetName=self.configuration_set,
                ConfigurationSetAttributeNames=["eventDestinations"],
            )
        except ClientError as exc:
            code, words, status = _error(exc)
            raise TransportError(self.name, self.redact(f"{code}: {words}"), status) from None
        except BotoCoreError as exc:
            raise Unreachable(
                f"{self.name}: cannot reach SES in {self.region}: {type(exc).__name__}"
            ) from None
        topics = []
        for destination in found.get("EventDestinations") or []:
            kinds = {str(kind).lower() for kind in destination.get("MatchingEventTypes") or []}
            topic = (destination.get("SNSDestination") or {}).get("TopicARN")
            if destination.get("Enabled") and {"bounce", "complaint"} <= kinds and topic:
                topics.append(str(topic))
        return topics

    def close(self) -> None:
        self.client.close()


_NO_CREDENTIALS = (
    "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and "
    "AWS_SESSION_TOKEN for temporary ones), or name a profile with ?profile="
)


def _session(profile: str | None) -> Any:
    return botocore.session.Session(profile=profile)


def _error(exc: Exception) -> tuple[str, str, int]:
    """(code, message, HTTP status) of a botocore ClientError."""
    response: dict[str, Any] = getattr(exc, "response", {}) or {}
    error = response.get("Error") or {}
    status = int((response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0)
    return str(error.get("Code") or ""), str(error.get("Message") or exc), status
