"""An issue made ready for delivery: rendered once, with the factory for each reader's copy.

``preview``, ``check`` and ``send`` all start here, so they see the very same newsletter.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailer.audience.unsubscribe import UnsubscribeLinks, unsubscribe_secret
from mailer.audience.verp import Verp
from mailer.compose.editions import Editions
from mailer.compose.images import EmbeddedImages, ImageLinker, PublishedImages
from mailer.compose.issue import LoadedIssue
from mailer.compose.render import RenderedIssue, render_issue
from mailer.delivery.dkim import DkimSigner, signing_names
from mailer.delivery.editions import EditionFactory
from mailer.delivery.message import Letterhead, MessageFactory
from mailer.errors import InputError, Location, UsageError
from mailer.fields import domain_of
from mailer.settings import Settings


@dataclass(frozen=True)
class Prepared:
    """An issue rendered for sending, with the factory that makes each subscriber's copy."""

    loaded: LoadedIssue
    rendered: RenderedIssue
    factory: MessageFactory


def signs_links(settings: Settings) -> bool:
    """Whether the messages carry links signed with the unsubscribe secret: the unsubscribe
    tokens (of the web link and of the mailto, which the preference page takes too) and VERP.
    An ESP answering unsubscribes needs none of ours, unless bounces come back to a VERP
    address or the list has a preference page."""
    return (settings.list.unsubscribe_mode != "esp" or bool(settings.bounces.address)
            or bool(settings.list.subscribe_url))


def prepare(loaded: LoadedIssue, *, real_send: bool) -> Prepared:
    """Render once for delivery. ``real_send`` demands the real unsubscribe secret."""
    settings = loaded.settings.settings
    linker: ImageLinker
    if settings.send.image_base_url:
        linker = PublishedImages(settings.send.image_base_url)
        images: tuple = ()
        rendered = render_issue(loaded, linker)
    else:
        embedded = EmbeddedImages(domain_of(loaded.sender.address))
        rendered = render_issue(loaded, embedded)
        images = embedded.images
    bounce_address = settings.bounces.address
    mode = settings.list.unsubscribe_mode
    signing = unsubscribe_secret(required=real_send and signs_links(settings))
    links = UnsubscribeLinks(
        signing,
        settings.list.id,
        settings.list.unsubscribe_url,
        settings.list.unsubscribe_mailto,
        issue=loaded.issue.id,
        language=loaded.issue.language,
        preferences_url=(
            f"{settings.list.subscribe_url}/preferences" if settings.list.subscribe_url else None
        ),
    )
    factory = MessageFactory(
        letterhead(loaded), rendered, images, links, signer=_dkim_signer(loaded),
        verp=Verp(signing, bounce_address) if bounce_address else None,
        esp_link=esp_unsubscribe_link(settings.send.transports[0]) if mode == "esp" else "",
    )
    return Prepared(loaded, rendered, factory)


@dataclass(frozen=True)
class PreparedEditions:
    """The chosen editions of an issue, each prepared, and the factory that routes readers."""

    editions: Editions
    each: tuple[Prepared, ...]  # in the order of editions.chosen: the default first
    factory: EditionFactory

    def sends_to(self, language: str) -> bool:
        """Whether a reader of ``language`` gets one of the chosen editions."""
        return self.factory.tag_for_language(language) in self.factory.tag_set


def prepare_editions(editions: Editions, *, real_send: bool) -> PreparedEditions:
    """:func:`prepare` each chosen edition (each rendered once)."""
    each = tuple(prepare(loaded, real_send=real_send) for loaded in editions.chosen)
    factory = EditionFactory(
        {p.loaded.issue.language: p.factory for p in each}, editions.default_tag, editions.route
    )
    return PreparedEditions(editions, each, factory)


def letterhead(loaded: LoadedIssue) -> Letterhead:
    """Sender and list of ``loaded``, with what the issue overrides."""
    settings = loaded.settings.settings
    return Letterhead(
        issue_id=loaded.issue.id,
        sender_name=loaded.sender.name,
        sender_address=loaded.sender.address,
        reply_to=loaded.sender.reply_to,
        list_name=settings.list.name or loaded.brand.organisation,
        list_id=settings.list.id,
        language=loaded.issue.language,
        unsubscribe=settings.list.unsubscribe_mode,
    )


def esp_unsubscribe_link(transport: str) -> str:
    """The placeholder the ESP of ``transport`` (a DSN; the settings made sure it names an
    ESP) fills with each reader's own unsubscribe link."""
    from mailer.delivery.transports import Dsn, transport_class
    from mailer.delivery.transports.esp import EspTransport

    dsn = Dsn.parse(transport)
    kind = transport_class(dsn.scheme)
    if not issubclass(kind, EspTransport):
        raise UsageError(f"transport {dsn} is not an ESP, which [list] unsubscribe = \"esp\" needs")
    return kind.unsubscribe_link(dsn)


def _dkim_signer(loaded: LoadedIssue) -> DkimSigner | None:
    send = loaded.settings.settings.send
    if not send.dkim_key_file:
        return None
    key_path = loaded.settings.resolve(send.dkim_key_file)
    try:
        key = key_path.read_bytes()
    except OSError as exc:
        raise InputError(
            Location(loaded.settings.path), f"cannot read DKIM key {key_path}: {exc.strerror}",
            "send.dkim_key_file",
        ) from None
    return DkimSigner(*signing_names(send, loaded.sender.address), key)
