"""From an issue file to everything the commands need: settings, model, render, messages.

``preview``, ``check`` and ``send`` all start here, so they see the very same newsletter.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mailer.audience.unsubscribe import UnsubscribeLinks, unsubscribe_secret
from mailer.compose.images import EmbeddedImages, ImageLinker, PublishedImages
from mailer.compose.issue import LoadedIssue, load_issue
from mailer.compose.render import RenderedIssue, render_issue
from mailer.delivery.message import DkimSigner, MessageFactory
from mailer.errors import InputError, Location
from mailer.settings import LoadedSettings, find_settings, load_settings


def settings_for(issue_path: Path, explicit: Path | None = None) -> LoadedSettings:
    """``explicit`` if given, else the nearest ``mailer.toml`` above the issue file."""
    path = explicit or find_settings(issue_path)
    if path is None:
        raise InputError(
            Location(issue_path), "no mailer.toml found in this folder or any folder above it"
        )
    return load_settings(path)


def load(issue_path: Path, settings_path: Path | None = None) -> LoadedIssue:
    return load_issue(issue_path, settings_for(issue_path, settings_path))


@dataclass(frozen=True)
class Prepared:
    """An issue rendered for sending, with the factory that makes each subscriber's copy."""

    loaded: LoadedIssue
    rendered: RenderedIssue
    factory: MessageFactory


def prepare(loaded: LoadedIssue, *, real_send: bool) -> Prepared:
    """Render once for delivery. ``real_send`` demands the real unsubscribe secret."""
    settings = loaded.settings.settings
    linker: ImageLinker
    if settings.send.image_base_url:
        linker = PublishedImages(settings.send.image_base_url)
        images: tuple = ()
        rendered = render_issue(loaded, linker)
    else:
        embedded = EmbeddedImages(loaded.sender.address.rsplit("@", 1)[1])
        rendered = render_issue(loaded, embedded)
        images = embedded.images
    links = UnsubscribeLinks(
        unsubscribe_secret(required=real_send),
        settings.list.id,
        settings.list.unsubscribe_url,
        settings.list.unsubscribe_mailto,
    )
    factory = MessageFactory(loaded, rendered, images, links, signer=_dkim_signer(loaded))
    return Prepared(loaded, rendered, factory)


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
    domain = send.dkim_domain or loaded.sender.address.rsplit("@", 1)[1]
    return DkimSigner(send.dkim_selector or "mailer", domain, key)
