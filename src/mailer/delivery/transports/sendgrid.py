"""``sendgrid://[?asm_group=ID]``: SendGrid's v3 Mail Send API (``POST /v3/mail/send``), key
``SENDGRID_API_KEY``.

One request carries up to 1,000 personalizations (SendGrid's documented limit), one per
recipient, with the subject, HTML and text sent once: merge fields become substitution tags
``-mf<key>-``, filled per personalization from its ``substitutions``. List-Unsubscribe and
Message-ID go in each personalization's ``headers``; List-Id and List-Unsubscribe-Post, the same
for everyone, in the message's ``headers``. SendGrid answers 202 with one ``X-Message-Id`` for
the whole request, which becomes every recipient's provider id.

The key is checked before a send with ``GET /v3/scopes``, which any key may call: it lists
what the key may do, and without ``mail.send`` it cannot send.

A refused request (400) lists its errors with the ``field`` each is about: a field under
``personalizations.<n>`` names the request's n-th recipient, and any other field (``from.email``,
``reply_to``, ``subject``, ``content.0.value`` ...) what every copy shares.

When SendGrid answers unsubscribes (``[list] unsubscribe = "esp"``), it does so with an
unsubscribe group when the DSN names one (``?asm_group=123``: the request's ``asm.group_id``,
the footer's link ``<%asm_group_unsubscribe_raw_url%>``), or else with subscription tracking
(``tracking_settings.subscription_tracking`` on, its ``substitution_tag`` where the footer's
link goes). Either way SendGrid adds its own List-Unsubscribe and List-Unsubscribe-Post
headers and keeps the unsubscribes in its suppression lists; ours are not sent.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from email.utils import quote
from pathlib import Path
from typing import Any

import requests

from mailer.delivery.message import OutgoingMessage, SharedContent
from mailer.delivery.transports.base import Dsn, RecipientResult
from mailer.delivery.transports.esp import (
    EspRequest,
    EspTransport,
    Rejection,
    base64_text,
    html_key,
    list_headers,
    merge_variables,
    results_for,
    with_variables,
)
from mailer.errors import TransportError

# Every tracking setting off, whatever the account's defaults: SendGrid would otherwise rewrite
# the links (the unsubscribe link too), add an open pixel or its own unsubscribe footer.
TRACKING_OFF = {
    "click_tracking": {"enable": False, "enable_text": False},
    "open_tracking": {"enable": False},
    "subscription_tracking": {"enable": False},
    "ganalytics": {"enable": False},
}
PERSONALIZATION = re.compile(r"personalizations\.(\d+)(?:\.|$)")
# Where SendGrid puts the raw unsubscribe URL of the group named in ``asm``, and of subscription
# tracking (a tag of our choosing, given as its substitution_tag).
GROUP_LINK = "<%asm_group_unsubscribe_raw_url%>"
TRACKING_LINK = "[unsubscribe_url]"


def tag(key: str) -> str:
    """SendGrid substitution tag for a variable (delimited, so ``-mf1-`` never hits ``-mf10-``)."""
    return f"-mf{key}-"


class SendGridTransport(EspTransport):
    name = "SendGrid"
    max_batch = 1000
    default_endpoint = "https://api.sendgrid.com"
    secret_variable = "SENDGRID_API_KEY"
    options = ("endpoint", "asm_group")

    def __init__(self, dsn: Dsn, base_dir: Path, secret: str | None = None) -> None:
        self.asm_group = asm_group(dsn)
        super().__init__(dsn, base_dir, secret)

    @classmethod
    def unsubscribe_link(cls, dsn: Dsn) -> str:
        return GROUP_LINK if asm_group(dsn) is not None else TRACKING_LINK

    def build_request(self, content: SharedContent, messages: Sequence[OutgoingMessage]) -> (
        EspRequest
    ):
        payload: dict = {
            "from": {"email": content.sender_address, "name": content.sender_name},
            "subject": with_variables(content.subject, tag),
            "content": [
                {"type": "text/plain",
                 "value": with_variables(content.text, self.variable_writer(content, tag))},
                {"type": "text/html", "value": with_variables(content.html, self.variable_writer(
                    content, lambda key: tag(html_key(key))))},
            ],
            "headers": list_headers(content),
            "personalizations": [self._personalization(content, m) for m in messages],
            "tracking_settings": TRACKING_OFF,
        }
        if content.unsubscribe == "esp":
            self._answer_unsubscribes(payload)
        if content.reply_to:
            payload["reply_to"] = {"email": content.reply_to}
        if content.images:
            payload["attachments"] = [
                {"content": base64_text(data), "type": image.mime_type,
                 "filename": image.filename, "disposition": "inline",
                 "content_id": image.content_id}
                for image, data in self.inline_images(content)
            ]
        return EspRequest("/v3/mail/send", json=payload, **self.credentials())

    def credentials(self) -> dict[str, Any]:
        return {"headers": {"Authorization": f"Bearer {self.key}", "Accept": "application/json"}}

    def check_request(self) -> EspRequest:
        return EspRequest("/v3/scopes", **self.credentials())

    def check_answer(self, response: requests.Response) -> None:
        try:
            scopes = response.json()["scopes"]
        except (ValueError, KeyError, TypeError):
            return  # an answer of another shape: the 200 says the key was accepted
        if isinstance(scopes, list) and "mail.send" not in scopes:
            raise TransportError(
                self.name, "this API key may not send mail (it lacks the mail.send scope): "
                "give it Mail Send access in SendGrid's API Keys settings",
            )

    def _answer_unsubscribes(self, payload: dict) -> None:
        """Turn SendGrid's own unsubscribe handling on in ``payload``: the group's, or
        subscription tracking with its link where the footer's goes."""
        if self.asm_group is not None:
            payload["asm"] = {"group_id": self.asm_group}
            return
        payload["tracking_settings"] = {
            **TRACKING_OFF,
            "subscription_tracking": {"enable": True, "substitution_tag": TRACKING_LINK},
        }

    @staticmethod
    def _personalization(content: SharedContent, message: OutgoingMessage) -> dict:
        p = message.personalisation
        to = {"email": p.email}
        if p.name:
            # SendGrid does not quote display names with , or ; in personalizations itself.
            to["name"] = f'"{quote(p.name)}"' if any(c in p.name for c in ",;") else p.name
        headers = {"Message-ID": f"<{p.message_id}>"}
        if p.list_unsubscribe:
            headers = {"List-Unsubscribe": p.list_unsubscribe, **headers}
        personalization = {
            "to": [to],
            "headers": headers,
            "custom_args": {"mailer_message_id": p.message_id},
        }
        variables = merge_variables(content, message)
        if variables:
            personalization["substitutions"] = {tag(k): v for k, v in variables.items()}
        return personalization

    def parse_results(
        self, messages: Sequence[OutgoingMessage], response: requests.Response
    ) -> list[RecipientResult]:
        return results_for(
            messages, "queued", f"{response.status_code} {response.reason}",
            provider_id=response.headers.get("X-Message-Id"),
        )

    def error_message(self, response: requests.Response) -> str:
        """SendGrid's errors: ``{"errors": [{"message": ..., "field": ...}]}``."""
        errors = self._errors(response)
        if errors is None:
            return super().error_message(response)
        return "; ".join(shown for _, shown in errors)

    def classify_rejection(
        self, response: requests.Response, messages: Sequence[OutgoingMessage]
    ) -> Rejection:
        errors = self._errors(response)
        if errors is None:
            return super().classify_rejection(response, messages)
        message = "; ".join(shown for _, shown in errors)
        culprits: dict[int, list[str]] = {}
        for field, shown in errors:
            named = PERSONALIZATION.match(field)
            if named:
                culprits.setdefault(int(named.group(1)), []).append(shown)
            elif field and not field.startswith("personalizations"):
                return Rejection(message, about_request=True)
        return Rejection(message, culprits={n: "; ".join(w) for n, w in culprits.items()})

    @staticmethod
    def _errors(response: requests.Response) -> list[tuple[str, str]] | None:
        """Each error's field (``""`` when it names none) and ``field: message`` as shown."""
        try:
            errors = []
            for error in response.json()["errors"]:
                field, words = str(error.get("field") or ""), str(error["message"])
                errors.append((field, f"{field}: {words}" if field else words))
        except (ValueError, KeyError, TypeError, AttributeError):
            return None
        return errors


def asm_group(dsn: Dsn) -> int | None:
    """The unsubscribe group ``?asm_group=`` names (SendGrid's number for it), or None."""
    value = dsn.options.get("asm_group")
    if value is None:
        return None
    if not value.isdigit() or int(value) == 0:
        raise dsn.fail(f"asm_group={value} is not the number of a SendGrid unsubscribe group")
    return int(value)
