"""``postmark://[?stream=broadcast]``: Postmark's batch API, token ``POSTMARK_SERVER_TOKEN``.

``POST /email/batch`` takes up to 500 whole messages and 50 MB; Postmark has no per-recipient
variables for its plain API, so each message carries its own filled-in subject and bodies, and
a batch is cut into as many requests as the size limit needs. Newsletters belong in a broadcast
message stream (``broadcast`` unless ``?stream=`` names another). The answer holds one
``ErrorCode`` / ``MessageID`` per message, in order: partial failures are per recipient.

When Postmark answers unsubscribes (``[list] unsubscribe = "esp"``), the footer's link is
Postmark's placeholder ``{{{ pm:unsubscribe }}}``: a broadcast stream (whose unsubscribes
Postmark manages, its default) replaces it with each reader's link, adds its own
List-Unsubscribe and List-Unsubscribe-Post headers and keeps the unsubscribes in the stream's
suppressions; ours are not sent.

The token is checked before a send with ``GET /server``, the server the token belongs to.

Some of Postmark's codes are about the account or the sender, not the recipient
(:data:`ACCOUNT_CODES`, and 300 about the From or Reply-To address): whether they answer the
request or each message, they stop the send and fail nobody.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

import requests

from mailer.console import count
from mailer.delivery.message import OutgoingMessage, SharedContent
from mailer.delivery.transports.base import Dsn, RecipientResult, Status
from mailer.delivery.transports.esp import (
    AcceptedInPart,
    EspRequest,
    EspTransport,
    Rejection,
    base64_text,
    display_address,
    filled,
    list_headers,
    results_for,
)
from mailer.errors import TransportError, UnsupportedFeature

MAX_REQUEST_BYTES = 50_000_000
MAX_MESSAGE_BYTES = 10_000_000  # Postmark's limit for one message, attachments included
METADATA_VALUE_LIMIT = 80  # characters Postmark allows in one Metadata value
INACTIVE_RECIPIENT = 406  # hard-bounced or complained earlier: Postmark will not send to it
RATE_LIMITED = 429
INVALID_REQUEST = 300
# Postmark's API error codes about the account or the sender, whoever the recipient is: bad or
# missing token, sender signature not found or not confirmed, not allowed to send (out of
# credits), forbidden attachment type (every copy has the same), account pending approval
# (only its own domain may be sent to), account may not send.
ACCOUNT_CODES = frozenset({10, 400, 401, 405, 411, 412, 413})
# Code 300 about the sender rather than the recipient: "Invalid 'From' address: ...".
SENDER_FIELD = re.compile(r"(?:Invalid|Error parsing) '(?:From|Reply-To)'", re.I)
UNSUBSCRIBE_LINK = "{{{ pm:unsubscribe }}}"  # Postmark's placeholder for the reader's link


def refuses_sender(code: int, message: str) -> bool:
    """Whether Postmark's ``code`` and ``message`` refuse the account or the sender."""
    return code in ACCOUNT_CODES or (code == INVALID_REQUEST and bool(SENDER_FIELD.match(message)))


class PostmarkTransport(EspTransport):
    name = "Postmark"
    max_batch = 500
    default_endpoint = "https://api.postmarkapp.com"
    secret_variable = "POSTMARK_SERVER_TOKEN"
    options: ClassVar[tuple[str, ...]] = ("endpoint", "stream")

    def __init__(self, dsn: Dsn, base_dir: Path, secret: str | None = None) -> None:
        self.message_stream = dsn.options.get("stream") or "broadcast"
        super().__init__(dsn, base_dir, secret)
        self._attachments: list[dict[str, str]] | None = None

    @classmethod
    def unsubscribe_link(cls, dsn: Dsn) -> str:
        return UNSUBSCRIBE_LINK

    def split(self, messages: Sequence[OutgoingMessage]) -> Iterator[Sequence[OutgoingMessage]]:
        """Requests of at most 500 messages and 50 MB, measured as sent: JSON with every
        non-ASCII character escaped (``\\u0627``, six bytes for what UTF-8 writes in two)."""
        content = messages[0].content
        attachments = self._attachments_field(content)
        # What the attachments add to each message's JSON, `, "Attachments": [...]`, is as long
        # as {"Attachments": [...]}: serialised once, not once per message.
        shared = len(json.dumps(attachments)) if attachments else 0
        part: list[OutgoingMessage] = []
        size = 0  # of the request: "[" and "]", and ", " between messages
        for message in messages:
            length = len(json.dumps(self._message(content, message))) + shared
            if length > MAX_MESSAGE_BYTES:
                raise UnsupportedFeature(
                    f"Postmark takes messages of up to {MAX_MESSAGE_BYTES // 1_000_000} MB; this "
                    f"issue makes {length / 1_000_000:.1f} MB ones (publish the images with "
                    "[send] image_base_url instead of embedding them)"
                )
            if part and (size + length + 2 > MAX_REQUEST_BYTES or len(part) == self.max_batch):
                yield part
                part, size = [], 0
            part.append(message)
            size += length + 2
        yield part

    def _attachments_field(self, content: SharedContent) -> dict[str, list[dict[str, str]]]:
        """``{"Attachments": [...]}`` for the inline images (made once), or ``{}``."""
        if self._attachments is None:
            # Named by the file (photo.png), not the Content-ID: Postmark checks the name's
            # extension against its allowed file types, and "photo.a1b2c3@iom.int" has none.
            self._attachments = [
                {"Name": image.filename, "Content": base64_text(data),
                 "ContentType": image.mime_type, "ContentID": f"cid:{image.content_id}"}
                for image, data in self.inline_images(content)
            ]
        return {"Attachments": self._attachments} if self._attachments else {}

    def build_request(self, content: SharedContent, messages: Sequence[OutgoingMessage]) -> (
        EspRequest
    ):
        attachments = self._attachments_field(content)
        return EspRequest(
            "/email/batch", json=[self._message(content, m) | attachments for m in messages],
            **self.credentials(),
        )

    def credentials(self) -> dict[str, Any]:
        return {"headers": {"X-Postmark-Server-Token": self.key, "Accept": "application/json"}}

    def check_request(self) -> EspRequest:
        return EspRequest("/server", **self.credentials())

    def _message(self, content: SharedContent, message: OutgoingMessage) -> dict:
        """``message`` as Postmark's JSON takes it, without the attachments."""
        p = message.personalisation
        subject, html, text = filled(content, message, self.esp_link)
        headers = [{"Name": "List-Unsubscribe", "Value": p.list_unsubscribe}] if (
            p.list_unsubscribe) else []
        body = {
            "From": display_address(content.sender_name, content.sender_address),
            "To": display_address(p.name, p.email),
            "Subject": subject,
            "HtmlBody": html,
            "TextBody": text,
            "MessageStream": self.message_stream,
            # Whatever the server's defaults: no open pixel, no rewritten links.
            "TrackOpens": False,
            "TrackLinks": "None",
            "Headers": [
                *headers,
                *({"Name": name, "Value": value} for name, value in list_headers(content).items()),
                {"Name": "Message-ID", "Value": f"<{p.message_id}>"},
            ],
        }
        if content.reply_to:
            body["ReplyTo"] = content.reply_to
        if len(p.message_id) <= METADATA_VALUE_LIMIT:
            # Postmark's webhooks echo Metadata, not headers: it ties a bounce to its issue.
            body["Metadata"] = {"mailer_message_id": p.message_id}
        return body

    def parse_results(
        self, messages: Sequence[OutgoingMessage], response: requests.Response
    ) -> list[RecipientResult]:
        try:
            answers = response.json()
            if not isinstance(answers, list) or len(answers) != len(messages):
                raise ValueError
        except ValueError:
            return results_for(
                messages, "deferred",
                f"Postmark: answer does not list the {count(len(messages), 'message')} sent",
            )
        results = []
        refusal = None  # Postmark's words when it refused the account or the sender
        for message, answer in zip(messages, answers, strict=True):
            # Postmark leaves ErrorCode out of some successes ("Message accepted, but delivery
            # may be delayed."): a MessageID without an error code is an accepted message.
            code = int(answer.get("ErrorCode", 0 if answer.get("MessageID") else -1))
            words = str(answer.get("Message", ""))
            status: Status = "failed"
            bounce = code == INACTIVE_RECIPIENT
            if code == 0:
                status = "queued"
            elif code == RATE_LIMITED:
                status = "deferred"
            elif refuses_sender(code, words):
                refusal = refusal or words
                status = "deferred"  # not this reader's fault: sent once the account is fixed
            results.append(RecipientResult(
                message.recipient, message.message_id, status,
                provider_id=answer.get("MessageID") or None, detail=f"Postmark {code}: {words}",
                bounce=bounce,
            ))
        if refusal is None:
            return results
        if any(result.delivered for result in results):
            raise AcceptedInPart(self.name, self.redact(refusal), results)
        raise TransportError(self.name, self.redact(refusal))

    def classify_rejection(
        self, response: requests.Response, messages: Sequence[OutgoingMessage]
    ) -> Rejection:
        body = _error_body(response)
        if body is not None and refuses_sender(*body):
            return Rejection(body[1], about_request=True)
        return super().classify_rejection(response, messages)

    def error_message(self, response: requests.Response) -> str:
        """Postmark's errors: ``{"ErrorCode": 300, "Message": "..."}``."""
        body = _error_body(response)
        if body is None:
            return super().error_message(response)
        code, message = body
        return f"{message} (ErrorCode {code})"


def _error_body(response: requests.Response) -> tuple[int, str] | None:
    """(ErrorCode, Message) of a Postmark error response, None if it is not one."""
    try:
        body = response.json()
        return int(body["ErrorCode"]), str(body["Message"])
    except (ValueError, KeyError, TypeError):
        return None
