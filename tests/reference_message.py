"""The readable reference: one subscriber's message built with the standard library's email package.

:class:`mailer.delivery.message.MessageFactory` writes message bytes by hand for speed;
``tests/test_message.py`` proves its output parses to the same headers and parts as this
builder's, and ``bench/bench_messages.py`` measures it against this one. This is the naive way
to send: nothing is rendered again, but every subscriber gets a complete ``EmailMessage``
(``headerregistry.Address`` for names and addresses, ``set_content`` / ``add_alternative`` /
``add_related`` for parts) serialised with ``policy.SMTP``.

Not for sending: besides being slow, ``policy.SMTP`` folds a List-Unsubscribe longer than a line
(any real one) into RFC 2047 encoded words, which mail clients do not decode in that header.
"""

from __future__ import annotations

from email import policy
from email.headerregistry import Address
from email.message import EmailMessage

from mailer.delivery.message import ONE_CLICK, Personalisation, SharedContent


class ReferenceBuilder:
    """Builds each subscriber's message as a fresh ``EmailMessage`` (images are read once)."""

    def __init__(self, content: SharedContent) -> None:
        self.content = content
        self._images = [(image, image.path.read_bytes()) for image in content.images]

    def to_bytes(self, p: Personalisation, subject_prefix: str = "") -> bytes:
        content = self.content
        message = EmailMessage(policy=policy.SMTP)
        message["From"] = Address(content.sender_name, addr_spec=content.sender_address)
        message["To"] = Address(p.name, addr_spec=p.email)
        message["Subject"] = subject_prefix + content.subject.fill(p.values)
        message["Date"] = content.date
        message["Message-ID"] = f"<{p.message_id}>"
        if content.reply_to:
            message["Reply-To"] = content.reply_to
        message["List-Id"] = content.list_id
        message["List-Unsubscribe"] = p.list_unsubscribe
        message["List-Unsubscribe-Post"] = ONE_CLICK
        message["MIME-Version"] = "1.0"

        # multipart/alternative (text first, then HTML), inside multipart/related with images.
        body = EmailMessage(policy=policy.SMTP) if self._images else message
        body.set_content(
            content.text.fill(p.values), subtype="plain", charset="utf-8", cte="quoted-printable"
        )
        body.add_alternative(
            content.html.fill(p.values), subtype="html", charset="utf-8", cte="quoted-printable"
        )
        if self._images:
            message.make_related()
            message.set_param("type", "multipart/alternative")
            message.attach(body)
            for image, data in self._images:
                maintype, subtype = image.mime_type.split("/")
                message.add_related(
                    data, maintype, subtype, disposition="inline", filename=image.filename,
                    cid=f"<{image.content_id}>",
                )
        # Only now: make_related() would move a Content-* header into the first part.
        message["Content-Language"] = content.language
        return message.as_bytes()
