"""``mailgun://DOMAIN[?region=eu]``: Mailgun's messages API, key ``MAILGUN_API_KEY``.

Batch sending as Mailgun documents it: up to 1,000 ``to`` fields in one
``POST /v3/DOMAIN/messages`` with ``recipient-variables``, so that each recipient gets an
individual message; the subject, HTML and text are sent once, with merge fields as
``%recipient.<key>%``. Per-recipient headers (List-Unsubscribe, Message-Id) are ``h:`` fields
whose values are themselves recipient variables. Mailgun answers with one id for the whole
batch; it is every recipient's provider id.

When Mailgun answers unsubscribes (``[list] unsubscribe = "esp"``), the footer's link is
``%unsubscribe_url%``, which Mailgun replaces with each reader's link to unsubscribe from
everything the domain sends; with the domain's unsubscribe tracking on (Mailgun's control
panel, once), Mailgun adds its own List-Unsubscribe and List-Unsubscribe-Post headers and keeps
the unsubscribes in its suppression list. Open and click tracking stay off, but not tracking
as a whole (``o:tracking``), which would switch the unsubscribe handling off with it.

The key is checked before a send with ``GET /v3/domains/DOMAIN``, the domain's own record: a
domain sending key may only post messages, so it is refused there; an account API key is needed.

A refused request (400) carries one ``message``. Those about the sender, the domain or the
account (:data:`ACCOUNT_REFUSALS`) stop the send; the one about a recipient ("'to' parameter is
not a valid address") does not say which, so the batch is halved until it is alone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import requests

from mailer.delivery.message import OutgoingMessage, SharedContent
from mailer.delivery.transports.base import Dsn, RecipientResult
from mailer.delivery.transports.esp import (
    EspRequest,
    EspTransport,
    Rejection,
    display_address,
    html_key,
    list_headers,
    merge_variables,
    results_for,
    with_variables,
)

REGIONS = {"us": "https://api.mailgun.net", "eu": "https://api.eu.mailgun.net"}
# Tracking off whatever the domain's settings: Mailgun would rewrite the links (the
# unsubscribe link too) and add an open pixel.
TRACKING_OFF = (("o:tracking", "no"), ("o:tracking-clicks", "no"), ("o:tracking-opens", "no"))
UNSUBSCRIBE_LINK = "%unsubscribe_url%"  # Mailgun's variable: unsubscribe from the whole domain
# Mailgun's words when it refuses the sender, the sending domain or the account, whoever the
# recipients are: "'from' parameter is not a valid address", "Domain not found: ...",
# "Domain ... is not allowed to send: Free accounts are for test purposes only" or "Sandbox
# subdomains are for test purposes only. Please add your own domain ...".
ACCOUNT_REFUSALS = re.compile(
    r"'?from'? parameter|domain not found|not allowed to send|for test purposes only", re.I
)


def variable(key: str) -> str:
    return f"%recipient.{key}%"


def _per_recipient_headers(content: SharedContent) -> tuple[str, ...]:
    """The headers each recipient has its own value of: no List-Unsubscribe of ours when
    Mailgun answers unsubscribes (it adds its own)."""
    if content.unsubscribe == "esp":
        return ("Message-Id",)
    return ("List-Unsubscribe", "Message-Id")


class MailgunTransport(EspTransport):
    name = "Mailgun"
    max_batch = 500  # of the 1,000 the API takes: a worker holds its batch (~2 MB at 500)
    secret_variable = "MAILGUN_API_KEY"
    options: ClassVar[tuple[str, ...]] = ("endpoint", "region")

    def __init__(self, dsn: Dsn, base_dir: Path, secret: str | None = None) -> None:
        if not dsn.host or "/" in dsn.location.strip("/"):
            raise dsn.fail("name the sending domain, e.g. mailgun://mg.example.org")
        self.domain = dsn.host
        super().__init__(dsn, base_dir, secret)

    def endpoint_for(self, dsn: Dsn) -> str:
        region = dsn.options.get("region", "us").lower()
        if region not in REGIONS:
            raise dsn.fail(f"region={region} is not one of {', '.join(REGIONS)}")
        return REGIONS[region]

    @classmethod
    def unsubscribe_link(cls, dsn: Dsn) -> str:
        return UNSUBSCRIBE_LINK

    def build_request(self, content: SharedContent, messages: Sequence[OutgoingMessage]) -> (
        EspRequest
    ):
        text_variable = self.variable_writer(content, variable)
        html_variable = self.variable_writer(content, lambda key: variable(html_key(key)))
        esp = content.unsubscribe == "esp"
        fields = [
            ("from", display_address(content.sender_name, content.sender_address)),
            *(("to", display_address(m.personalisation.name, m.recipient)) for m in messages),
            ("subject", with_variables(content.subject, variable)),
            ("text", with_variables(content.text, text_variable)),
            ("html", with_variables(content.html, html_variable)),
            *((f"h:{name}", value) for name, value in list_headers(content).items()),
            *((f"h:{name}", variable(f"h:{name}")) for name in _per_recipient_headers(content)),
            ("recipient-variables", json.dumps(
                {m.recipient: self._variables(content, m) for m in messages},
                ensure_ascii=False, separators=(",", ":"),
            )),
            *(TRACKING_OFF[1:] if esp else TRACKING_OFF),
        ]
        if content.reply_to:
            fields.append(("h:Reply-To", content.reply_to))
        # Mailgun makes an inline file's name its Content-ID, which the HTML's cid: names.
        files = [
            ("inline", (image.content_id, data, image.mime_type))
            for image, data in self.inline_images(content)
        ] or None
        return EspRequest(
            f"/v3/{self.domain}/messages", data=fields, files=files, **self.credentials()
        )

    def credentials(self) -> dict[str, Any]:
        return {"auth": ("api", self.key)}

    @staticmethod
    def _variables(content: SharedContent, message: OutgoingMessage) -> dict[str, str]:
        p = message.personalisation
        variables = merge_variables(content, message)
        if p.list_unsubscribe:
            variables["h:List-Unsubscribe"] = p.list_unsubscribe
        variables["h:Message-Id"] = f"<{p.message_id}>"
        return variables

    def check_request(self) -> EspRequest:
        return EspRequest(f"/v3/domains/{self.domain}", auth=("api", self.key))

    def refusal_hint(self, status: int) -> str:
        if status == 404:
            return f"the domain {self.domain} is not in this Mailgun account (or region)"
        return (
            "check MAILGUN_API_KEY: an account API key, not a domain sending key, which "
            "cannot read its domain"
        )

    def classify_rejection(
        self, response: requests.Response, messages: Sequence[OutgoingMessage]
    ) -> Rejection:
        message = self.error_message(response)
        return Rejection(message, about_request=bool(ACCOUNT_REFUSALS.search(message)))

    def parse_results(
        self, messages: Sequence[OutgoingMessage], response: requests.Response
    ) -> list[RecipientResult]:
        try:
            body = response.json()
            batch_id, message = str(body["id"]), str(body["message"])
        except (ValueError, KeyError, TypeError):
            # Mailgun answers 200 "Mailgun Magnificent API" to a wrong URL: nothing was sent.
            return results_for(
                messages, "failed", f"Mailgun: unexpected answer from {response.url}: "
                f"{response.text.strip()[:200]!r} (is the endpoint right?)",
            )
        return results_for(messages, "queued", message, provider_id=batch_id)
