"""Settings that stay the same from issue to issue, read from ``mailer.toml``.

Branding, sender, footer, list identity and delivery defaults live here once; an issue may
override branding, sender, footer and social links. Secrets never live here: they are read from
the environment by the code that needs them (see :func:`secret`).
"""

from __future__ import annotations

import builtins
import os
import re
import tomllib
from collections.abc import Mapping
from ipaddress import ip_network
from pathlib import Path
from string import Formatter
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, ValidationError, model_validator

from mailer.errors import ConfigError, Location
from mailer.field_errors import describe_errors
from mailer.fields import (
    Colour,
    Duration,
    EmailAddress,
    Language,
    Line,
    Strict,
    Text,
    TopicName,
    WebUrl,
    is_remote,
    language_keys,
    topic_key,
)
from mailer.textfiles import first_line_not_utf8

SETTINGS_FILE = "mailer.toml"

# A social network's name, as the theme names its icon (icons/NAME.png) and lists it in
# social.toml; which networks there are is the theme's business, checked when an issue loads.
def _network(value: str) -> str:
    name = value.strip().lower()
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,39}", name):
        raise ValueError(
            f"not a network name: {value!r} (lower-case letters, digits and -, such as 'facebook')"
        )
    return name


SocialNetwork = Annotated[str, AfterValidator(_network)]


class Sender(Strict):
    """Who the newsletter comes from: the From header."""

    name: Line
    """The name readers see in their inbox, such as "IOM Turkey"."""
    address: EmailAddress
    """The From address, at a domain of your own that publishes SPF, DKIM and DMARC."""
    reply_to: EmailAddress | None = None
    """Where readers' replies go (Reply-To); unset: to the From address."""


class SocialLink(Strict):
    network: SocialNetwork
    """The network, as the theme's social.toml names it and its icon: facebook, linkedin,
    x, instagram, youtube, website ... in the default theme."""
    url: WebUrl
    """The organisation's page on that network."""
    label: Line | None = None
    """The words shown next to the icon; unset: the network's name."""


class Brand(Strict):
    """How the newsletter looks: every field is a variable of the templates (``brand.*``).

    The masthead is a band in ``primary_color`` carrying the logo, the title, the period and
    the social icons in ``masthead_text_color``: the logo should be white or light on a
    transparent background (a PNG), so that it shows on the band in light and in dark mode.
    ``dark_*`` colours are what readers whose mail app is in dark mode see (Apple Mail,
    Outlook.com, ...); the ones left unset are mixed from the others.
    """

    organisation: Line
    """The organisation's name: the masthead's title (unless the issue has a title), the
    footer, and the alt text of the logo."""
    logo: str | None = None
    """The logo on the masthead band: a file (relative to mailer.toml) or an https URL; white
    or light on a transparent PNG."""
    logo_alt: str | None = None
    """The logo's alt text, for readers who do not see images; unset: the organisation."""
    logo_dark: str | None = None
    """A logo shown instead in dark mode, when the light one does not suit it."""
    logo_width_px: int = Field(default=150, ge=40, le=552)
    """The logo's width in the email, in pixels."""
    website: WebUrl | None = None
    """The organisation's website: the logo links to it."""
    primary_color: Colour = "#0033A0"
    """The masthead band, headlines, links and buttons."""
    masthead_text_color: Colour = "#FFFFFF"
    """The title, period and icons on the band, and the buttons' text."""
    text_color: Colour = "#222222"
    """Body text."""
    muted_color: Colour = "#555555"
    """Captions, credits and the footer."""
    background_color: Colour = "#F2F4F7"
    """Around the email, and behind the footer."""
    content_background: Colour = "#FFFFFF"
    """Behind the stories."""
    accent_background: Colour | None = None
    """The section title bands; unset: a tint of primary_color."""
    dark_primary_color: Colour = "#9DBBFF"
    """primary_color in dark mode: headlines, links and buttons."""
    dark_masthead_color: Colour | None = None
    """The masthead band in dark mode; unset: a deeper primary_color."""
    dark_text_color: Colour = "#E6E9EF"
    """Body text in dark mode."""
    dark_muted_color: Colour = "#B4BCC8"
    """Captions, credits and the footer in dark mode."""
    dark_background_color: Colour = "#0E121A"
    """Around the email in dark mode."""
    dark_content_background: Colour = "#171C26"
    """Behind the stories in dark mode."""
    dark_accent_background: Colour | None = None
    """The section title bands in dark mode; unset: mixed from the dark colours."""
    font_family: Line = "Arial, Helvetica, sans-serif"
    """The fonts, as a CSS font-family list (fonts readers' devices have)."""
    font_size_px: int = Field(default=16, ge=10, le=24)
    """The body text's size, in pixels."""


class BrandOverride(Strict):
    """The brand fields an issue may change; everything left out comes from the settings."""

    organisation: Line | None = None
    logo: str | None = None
    logo_alt: str | None = None
    logo_dark: str | None = None
    logo_width_px: int | None = Field(default=None, ge=40, le=552)
    website: WebUrl | None = None
    primary_color: Colour | None = None
    masthead_text_color: Colour | None = None
    text_color: Colour | None = None
    muted_color: Colour | None = None
    background_color: Colour | None = None
    content_background: Colour | None = None
    accent_background: Colour | None = None
    dark_primary_color: Colour | None = None
    dark_masthead_color: Colour | None = None
    dark_text_color: Colour | None = None
    dark_muted_color: Colour | None = None
    dark_background_color: Colour | None = None
    dark_content_background: Colour | None = None
    dark_accent_background: Colour | None = None
    font_family: Line | None = None
    font_size_px: int | None = Field(default=None, ge=10, le=24)


class FooterOverride(Strict):
    """Footer sentences said otherwise: an issue's ``footer:``, or a ``[footer.<tag>]`` table."""

    postal_address: Text | None = None
    """The postal address in this language; unset: [footer]'s."""
    reason: Text | None = None
    """Why the reader gets the newsletter, in this language; unset: [footer]'s."""


class Footer(Strict):
    """Why the reader gets the newsletter, and the postal address, in the list's language
    (``[list] language``), and in other languages as ``[footer.<tag>]`` tables such as
    ``[footer.tr]``: an issue in Turkish shows what ``[footer.tr]`` says, and ``[footer]``'s
    words for what that table leaves out (see :meth:`for_language`)."""

    postal_address: Text
    """The organisation's postal address, which the law of many countries requires in every
    newsletter."""
    reason: Text
    """Why the reader gets this newsletter, such as "You subscribed on our website"."""
    languages: dict[Language, FooterOverride] = {}
    """The [footer.<tag>] tables (such as [footer.tr]), by their language tag."""

    @model_validator(mode="before")
    @classmethod
    def _gather_language_tables(cls, data: object) -> object:
        """``[footer.tr]`` reaches the model as a key ``tr`` holding a table: gather such tables
        under ``languages``. Any other unknown key stays where it is, an unknown field."""
        if not isinstance(data, dict):
            return data
        tables = {
            key: value for key, value in data.items()
            if key not in cls.model_fields and isinstance(value, dict)
        }
        if not tables:
            return data
        rest = {key: value for key, value in data.items() if key not in tables}
        return {**rest, "languages": tables}

    def table_for(self, language: str, field: str) -> str | None:
        """The tag of the ``[footer.<tag>]`` table that says ``field`` to readers of
        ``language``: the table of the exact tag, else of its primary language; None when
        ``[footer]`` says it."""
        tables = {language_keys(tag)[0]: tag for tag in self.languages}
        for key in language_keys(language):
            tag = tables.get(key)
            if tag is not None and getattr(self.languages[tag], field) is not None:
                return tag
        return None

    def for_language(self, language: str) -> Footer:
        """The footer in ``language``: each sentence from its :meth:`table_for`, else from
        ``[footer]``; the result has no language tables of its own."""
        said = {}
        for field in FooterOverride.model_fields:
            tag = self.table_for(language, field)
            if tag is not None:
                said[field] = getattr(self.languages[tag], field)
        return self.model_copy(update={**said, "languages": {}})


def _unsubscribe_template(template: str) -> str:
    """Refuse, before anything is sent, a URL template that cannot make a working link, or
    that would put the reader's address in it.

    (That it should be https is for ``mailer check`` to say, as a finding.)
    """
    if "{token}" not in template:
        raise ValueError("must contain {token}, which identifies the reader")
    unusable = ValueError(f"only {{token}}, {{issue}} and {{lang}} may appear in braces: "
                          f"{template}")
    try:
        names = {name for _, name, _, _ in Formatter().parse(template) if name is not None}
    except ValueError:
        raise unusable from None
    if "email" in names:
        raise ValueError(
            "must not contain {email}: it would put each reader's address in every link and "
            "header, for proxy logs, link scanners and forwarded copies to read; {token} "
            "already tells the unsubscribe page who the reader is, so remove {email}"
        )
    try:
        example = template.format(token="t", issue="i", lang="en")
    except (KeyError, IndexError, AttributeError, ValueError):
        raise unusable from None
    if not example.isascii() or any(c.isspace() for c in example):
        raise ValueError("must be ASCII without spaces (percent-encode the rest)")
    return template


def _subscribe_url(value: str) -> str:
    """The sign-up form's address: http(s), no query or fragment (…/confirm and
    …/preferences are joined onto it), without a trailing ``/``."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or parts.query or parts.fragment or "{" in value:
        raise ValueError(
            f"not the address of a page: {value!r} (such as "
            "https://news.example.org/newsletter/subscribe)"
        )
    return value.rstrip("/") if parts.path.strip("/") else value


UnsubscribeMode = Literal["web", "esp", "mailto"]
# The transports whose provider can answer unsubscribes itself ([list] unsubscribe = "esp").
ESP_SCHEMES = ("mailgun", "sendgrid", "postmark")


class ListIdentity(Strict):
    """The mailing list as mail clients see it (List-Id, List-Unsubscribe)."""

    id: Line
    """The list's id (List-Id, RFC 2919): a name under your own domain, such as
    "newsletter.turkiye.iom.int"."""
    name: Line | None = None
    """The list's name, in List-Id and on the unsubscribe page; unset: the organisation."""
    unsubscribe: UnsubscribeMode | None = None
    """How readers unsubscribe: "web" (`mailer serve` answers unsubscribe_url), "esp" (the
    sending service's own link and suppression list, which `mailer send` pulls first) or
    "mailto" (mail to unsubscribe_mailto, for small lists); unset: "web" with
    unsubscribe_url, else "mailto"."""
    unsubscribe_url: Annotated[Line, AfterValidator(_unsubscribe_template)] | None = None
    """Each reader's unsubscribe link: a URL with {token} (the reader and the issue, which only
    MAILER_UNSUBSCRIBE_SECRET can read) and optionally {issue} and {lang} (the language of
    the reader's edition, which `mailer serve` answers in). Never the address: {email} is
    refused."""
    unsubscribe_mailto: EmailAddress | None = None
    """An address readers can unsubscribe by mail to (List-Unsubscribe), read by
    `mailer bounces`."""
    serve_url: WebUrl | None = None
    """Where `mailer serve` answers, when it runs on a server: `mailer suppressions pull` reads
    from it, and `mailer send` warns when the last pull is older than a day."""
    language: Language = "en"
    """The list's language: of the [footer] sentences and of the pages `mailer serve` shows
    (the unsubscribe page)."""
    topics: dict[TopicName, dict[Language, Line]] = {}
    """The topics readers may follow, and an issue may be sent to (its `audience:`), each a
    table of its label in each language: `[list.topics.partners]` with `en = "Partner news"`
    and `tr = "Ortak haberleri"`. A reader follows the topics their subscribers CSV row
    tags (its `tags` column); names and tags compare case aside, and a name cannot hold `|`
    or `,`, which separate tags."""

    @model_validator(mode="after")
    def _distinct_topics(self) -> ListIdentity:
        seen: dict[str, str] = {}
        for name in self.topics:
            first = seen.setdefault(topic_key(name), name)
            if first != name:
                raise ValueError(
                    f"topics {first!r} and {name!r} are one topic (names compare case aside); "
                    "keep one"
                )
        return self

    def topic_label(self, name: str, language: str) -> str:
        """The label of the topic ``name`` for readers of ``language``: its label in that
        language (or its primary language), else in the list's language, else the name."""
        wanted = topic_key(name)
        labels = next(
            (labels for known, labels in self.topics.items() if topic_key(known) == wanted), {}
        )
        by_key = {language_keys(tag)[0]: label for tag, label in labels.items()}
        for wanted in (language, self.language):
            for key in language_keys(wanted):
                if key in by_key:
                    return by_key[key]
        return name

    subscribe_url: Annotated[WebUrl, AfterValidator(_subscribe_url)] | None = None
    """The sign-up form `mailer serve` answers, such as
    "https://news.example.org/newsletter/subscribe"; …/confirm (the link of the confirmation
    email) and …/preferences (the link in every email's footer) are beside it. Needs
    [consent] wording in the list's language; unset: no sign-up form."""

    @property
    def unsubscribe_mode(self) -> UnsubscribeMode:
        """:attr:`unsubscribe` as set, or as the addresses given imply."""
        if self.unsubscribe is not None:
            return self.unsubscribe
        return "web" if self.unsubscribe_url or not self.unsubscribe_mailto else "mailto"


def unsubscribe_problem(settings: Settings) -> tuple[str, str] | None:
    """What makes the list's way of answering unsubscribes unusable: (the ``[list]`` key to
    blame, why), or None. ``esp`` needs one of :data:`ESP_SCHEMES` as the transport."""
    listed = settings.list
    mode = listed.unsubscribe_mode
    key = "unsubscribe" if listed.unsubscribe is not None else "unsubscribe_url"
    if mode == "web" and not listed.unsubscribe_url:
        return key, (
            "readers need a way to unsubscribe: set unsubscribe_url (answered by mailer serve), "
            'or unsubscribe = "esp" to let the ESP answer, or unsubscribe = "mailto" with '
            "unsubscribe_mailto for a small list"
        )
    if mode == "mailto" and not listed.unsubscribe_mailto:
        return key, 'unsubscribe = "mailto" needs unsubscribe_mailto, the address readers write to'
    schemes = [dsn.partition("://")[0].lower() for dsn in settings.send.transports]
    for scheme in schemes:
        if mode == "esp" and scheme not in ESP_SCHEMES:
            return key, (
                f'unsubscribe = "esp" needs an ESP as [send] transport '
                f"({', '.join(ESP_SCHEMES)}), whose own unsubscribe link readers use; the "
                f"transport is {scheme}://"
            )
    if mode == "esp" and len(set(schemes)) > 1:
        return key, (
            'unsubscribe = "esp" fails over only between accounts of one ESP: each writes its '
            f"own unsubscribe link into the messages, and [send] transport lists {schemes}"
        )
    return None


class SendSettings(Strict):
    """How `mailer send` delivers; each key may be overridden by the environment variable
    MAILER_<KEY> (MAILER_TRANSPORT, ...), and that by the command's option."""

    transport: Line | Annotated[builtins.list[Line], Field(min_length=1)] = "outbox://outbox"
    """Where messages go, as a DSN: outbox://PATH (a folder to look at), smtp://USER@HOST:587,
    smtps://, sendgrid://, mailgun://DOMAIN, postmark://, ses://REGION. A list of DSNs fails
    over: when one refuses the account, or stays unreachable for failover_after, the readers
    left go through the next."""
    failover_after: Duration = 120.0
    """How long a transport of a list may stay unreachable before the send moves on to the
    next one: seconds, or "2m"."""
    subscribers: Line = "subscribers.example.csv"
    """The subscribers' CSV file, relative to mailer.toml."""
    suppression: Line | None = None
    """The suppression store; unset: .mailer/suppressions.sqlite3 beside mailer.toml."""
    ledger: Line = ".mailer/ledger.sqlite3"
    """The send ledger, which makes every send exactly once and resumable."""
    image_base_url: WebUrl | None = None
    """Where the images are published; unset: they travel inside each message."""
    concurrency: int = Field(default=4, ge=1, le=64)
    """Connections (or requests) in parallel."""
    rate: float | None = Field(default=None, gt=0)
    """At most this many messages a second; unset: as fast as the server takes them."""
    max_errors_in_a_row: int = Field(default=50, ge=1)
    """Errors in a row that pause the send, to be resumed by running it again."""
    retry_for: Duration = 900.0
    """How long a send keeps trying a deferred message: seconds, or "15m", "1h"."""
    dkim_selector: Line | None = None
    """The DKIM selector of the key mailer signs with; unset: "mailer"."""
    dkim_domain: Line | None = None
    """The domain the DKIM key is published for; unset: the From address's domain."""
    dkim_key_file: Line | None = None
    """The DKIM private key (PEM) mailer signs each message with; unset: mailer does not sign
    (the server or provider does). Keep it out of git."""
    require: Literal["committed"] | None = None
    """"committed": send only what git's last commit (HEAD) holds: the issue, its editions,
    the images they use, the theme's files and mailer.toml, none changed or untracked; each
    ledger row records the commit it was sent from. Unset: files are sent as they are."""

    @property
    def transports(self) -> builtins.list[str]:
        """The transport's DSNs, in the order they are tried: one unless it fails over."""
        return [self.transport] if isinstance(self.transport, str) else self.transport


class BounceSettings(Strict):
    """The bounce mailbox: VERP at send time, and how ``mailer bounces`` judges soft bounces."""

    address: EmailAddress | None = None
    """The bounce mailbox, such as "bounces@example.org": each message's envelope sender is
    then bounces+TOKEN@example.org (VERP); unset: bounces go to the From address."""
    soft_limit: int = Field(default=3, ge=1)
    """Soft bounces that suppress an address ..."""
    soft_days: int = Field(default=30, ge=1)
    """... within this many days."""


def _site_url(value: str) -> str:
    """The address the archive is published at, ending in ``/`` so that pages join onto it."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or parts.query or parts.fragment or "{" in value:
        raise ValueError(
            f"not the address of a site: {value!r} (for example https://news.example.org/)"
        )
    return value if value.endswith("/") else value + "/"


class ArchiveSettings(Strict):
    """The newsletter's site, built by ``mailer archive``: every issue's page, the indexes,
    the feeds and the sitemap."""

    base_url: Annotated[WebUrl, AfterValidator(_site_url)] | None = None
    """Where the site is published, such as "https://news.example.org/" or
    "https://www.example.org/newsletter/"; with it every email links to its page."""
    out: Line = "site"
    """The folder the site is built in, relative to mailer.toml."""


def _proxy(value: str) -> str:
    """An address or a network, as ``[serve] trusted_proxies`` lists a reverse proxy."""
    try:
        ip_network(value.strip())
    except ValueError:
        raise ValueError(
            f"not an IP address or network: {value!r} (such as \"127.0.0.1\" when the proxy "
            "runs on this host, or \"172.30.119.0/24\"; host names are not looked up)"
        ) from None
    return value.strip()


class ServeSettings(Strict):
    """How ``mailer serve`` runs on a server."""

    # Set ["127.0.0.1"] when the proxy (Caddy) runs on the same host; from any other peer
    # those headers are ignored, and the client is the connection's peer.
    trusted_proxies: list[Annotated[str, AfterValidator(_proxy)]] = []
    """Reverse proxies (IPs, networks) whose X-Forwarded-For/-Proto are believed; default none."""


# An SNS topic's ARN, as the SNS console shows it (arn:aws:sns:REGION:ACCOUNT:NAME).
_TOPIC_ARN = re.compile(
    r"arn:aws(?:-[a-z]+)*:sns:[a-z]{2}(?:-[a-z]+)+-\d{1,2}:\d{12}:[A-Za-z0-9_-]{1,256}"
)


def _topic(value: str) -> str:
    if not _TOPIC_ARN.fullmatch(value.strip()):
        raise ValueError(
            f"not an SNS topic ARN: {value!r} (such as "
            '"arn:aws:sns:eu-central-1:123456789012:newsletter-feedback")'
        )
    return value.strip()


class WebhookSettings(Strict):
    """What ``mailer serve``'s webhooks accept beyond what their secrets say."""

    ses_topics: list[Annotated[str, AfterValidator(_topic)]] = []
    """The SNS topics (ARNs) whose Amazon SES notifications /webhooks/ses accepts, and whose
    subscription it confirms; default none (the webhook is off)."""


class ConsentSettings(Strict):
    """What a reader agrees to when they sign up, as the sign-up form shows it and the consent
    record keeps it (the exact text, its hash, and the project's commit)."""

    wording: dict[Language, Text] = {}
    """The consent sentence beside the form's checkbox, one [consent.wording] key per
    language (en = "...", tr = "..."); the form offers exactly these languages, the list's
    language first. Changing a text makes a new version: records keep the one they agreed to."""
    record_ip: bool = False
    """Keep the client's IP address in the consent record (sign-up and confirmation); off by
    default: it is personal data, needed only if your auditors ask for it."""


class SignupSettings(Strict):
    """Limits on the sign-up form of `mailer serve`, against a form used to flood inboxes."""

    emails_per_address: int = Field(default=3, ge=1, le=20)
    """Confirmation emails to one address within a day, however often it is signed up."""
    per_client_per_hour: int = Field(default=20, ge=1)
    """Sign-ups from one client IP address within an hour (kept in memory, never stored);
    more get "try again later"."""


class Settings(Strict):
    """Everything in ``mailer.toml``: one table per field."""

    brand: Brand
    """How the newsletter looks; an issue may override any key under brand:."""
    sender: Sender
    """Who it comes from; an issue may override it under sender:."""
    footer: Footer
    """What the footer says, in the list's language; an issue may override it under footer:."""
    list: ListIdentity
    """The mailing list as mail clients see it, and how readers leave it."""
    social: builtins.list[SocialLink] = []  # the field above hides the type
    """The social links, one [[social]] table each, shown as icons on the masthead band."""
    send: SendSettings = SendSettings()
    """How `mailer send` delivers. The environment variable MAILER_<KEY> overrides a key
    (MAILER_TRANSPORT, MAILER_SUBSCRIBERS ...), and the command's option overrides both."""
    bounces: BounceSettings = BounceSettings()
    """The bounce mailbox that `mailer bounces` reads."""
    archive: ArchiveSettings = ArchiveSettings()
    """The newsletter's site that `mailer archive` builds."""
    serve: ServeSettings = ServeSettings()
    """How `mailer serve` runs on a server (the reverse proxies it believes)."""
    webhooks: WebhookSettings = WebhookSettings()
    """The webhooks of `mailer serve`: the SNS topics of Amazon SES's notifications."""
    consent: ConsentSettings = ConsentSettings()
    """The consent wording of the sign-up form, per language, and what its record keeps."""
    signup: SignupSettings = SignupSettings()
    """The sign-up form's limits on confirmation emails and clients."""


class LoadedSettings:
    """Settings plus the folder that relative paths in them are relative to.

    That folder, the folder of ``mailer.toml``, is the project folder: the files an issue or
    the settings name for the email (images, the logo) must be inside it.
    """

    def __init__(self, settings: Settings, path: Path) -> None:
        self.settings = settings
        self.path = path
        self.base_dir = path.parent

    def resolve(self, relative: str) -> Path:
        return (self.base_dir / relative).resolve()

    def project_file(self, name: str, relative_to: Path) -> Path:
        """The file ``name`` names, relative to the folder ``relative_to``, symlinks followed.

        ValueError, saying why, unless it is inside the project folder: issue files are
        written by several people and reviewed as text, and what they name is copied into the
        preview and into every message sent. So an absolute path, a ``..`` that leaves the
        folder and a symbolic link that points out of it are refused, whatever the file is.
        """
        if Path(name).is_absolute():
            raise ValueError(
                f"{name!r} is an absolute path; name a file inside the project folder "
                f"{self.base_dir}, relative to the file that names it"
            )
        folder = relative_to.resolve()
        path = (folder / name).resolve()
        if not path.is_relative_to(self.base_dir):
            by_name = Path(os.path.normpath(folder / name)).is_relative_to(self.base_dir)
            how = " through a symbolic link" if by_name else ""
            raise ValueError(f"{name!r} leads outside the project folder {self.base_dir}{how}")
        return path


def find_settings(start: Path) -> Path | None:
    """The nearest ``mailer.toml`` in ``start`` or its parents (an issue's folder upwards)."""
    folder = start.resolve()
    if folder.is_file():
        folder = folder.parent
    for candidate in (folder, *folder.parents):
        path = candidate / SETTINGS_FILE
        if path.is_file():
            return path
    return None


def settings_for(issue_path: Path, explicit: Path | None = None) -> LoadedSettings:
    """``explicit`` if given, else the nearest ``mailer.toml`` above the issue file."""
    path = explicit or find_settings(issue_path)
    if path is None:
        raise ConfigError(
            Location(issue_path), "no mailer.toml found in this folder or any folder above it"
        )
    return load_settings(path)


def load_settings(path: Path, env: Mapping[str, str] | None = None) -> LoadedSettings:
    """Read and validate ``path``; ``MAILER_SEND_*`` variables override the ``[send]`` table."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(Location(path), "settings file not found") from None
    except UnicodeDecodeError as exc:
        where = Location(path, first_line_not_utf8(path))
        raise ConfigError(where, f"not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise ConfigError(Location(path), f"cannot read file ({exc.strerror})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = re.search(r"line (\d+)", str(exc))
        raise ConfigError(
            Location(path, int(line.group(1)) if line else None), f"TOML syntax error: {exc}"
        ) from None
    send = data.setdefault("send", {})
    if isinstance(send, dict):  # anything else is reported by the validation below
        send.update(_send_overrides(os.environ if env is None else env))
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        field_path, message = describe_errors(exc, Settings)[0]
        field_path = _as_written(field_path)
        dotted = ".".join(str(p) for p in field_path)
        raise ConfigError(_toml_location(path, text, field_path), message, dotted) from None
    problem = unsubscribe_problem(settings)
    if problem is not None:
        key, message = problem
        where = toml_location(path, "list", key, text=text)
        raise ConfigError(where, message, f"list.{key}")
    loaded = LoadedSettings(settings, path.resolve())
    logo = settings.brand.logo
    if logo and not is_remote(logo):
        try:
            loaded.project_file(logo, loaded.base_dir)
        except ValueError as exc:
            where = toml_location(path, "brand", "logo", text=text)
            raise ConfigError(where, str(exc), "brand.logo") from None
    return loaded


def _send_overrides(env: Mapping[str, str]) -> dict[str, str]:
    """``MAILER_TRANSPORT=...`` and friends: every ``[send]`` key as ``MAILER_<KEY>``.

    Each value is validated here, on its own, so that a bad one is blamed on its variable
    rather than on a line of ``mailer.toml`` it replaced.
    """
    overrides = {}
    for key in SendSettings.model_fields:
        name = f"MAILER_{key.upper()}"
        value = env.get(name)
        if value:
            try:
                SendSettings.model_validate({key: value})
            except ValidationError as exc:
                _, message = describe_errors(exc, SendSettings)[0]
                raise ConfigError(Location(f"environment variable {name}"), message) from None
            overrides[key] = value
    return overrides


def _as_written(field_path: tuple) -> tuple:
    """A field path as mailer.toml writes it: ``("footer", "languages", "tr", "reason")`` is
    ``reason`` in the table ``[footer.tr]``."""
    if field_path[:2] == ("footer", "languages") and len(field_path) > 2:
        return (f"footer.{field_path[2]}", *field_path[3:])
    if field_path[:2] == ("list", "topics") and len(field_path) > 2:
        return (f"list.topics.{field_path[2]}", *field_path[3:])
    return field_path


def _toml_location(path: Path, text: str, field_path: tuple) -> Location:
    """The line of a validation error's field path, such as ``("social", 3, "network")``."""
    table = str(field_path[0]) if field_path else ""
    rest = field_path[1:]
    entry = rest[0] if rest and isinstance(rest[0], int) else None
    if entry is not None:
        rest = rest[1:]
    key = str(rest[0]) if rest and isinstance(rest[0], str) else None
    return toml_location(path, table, key, entry, text=text)


def toml_location(
    path: Path, table: str, key: str | None = None, entry: int | None = None,
    *, text: str | None = None,
) -> Location:
    """Best-effort line of ``key = ...`` in ``[table]`` of a TOML file (tomllib keeps none).

    For an array of tables, ``entry`` picks the ``[[table]]`` (0-based): the fourth
    ``[[social]]`` for ``entry=3``. Without the key, the table's own line; without the table,
    the file.
    """
    if text is None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return Location(path)
    header = re.compile(rf"^\[\[?\s*{re.escape(table)}\s*\]\]?\s*(#.*)?$")
    assignment = re.compile(rf"^{re.escape(key)}\s*=") if key else None
    inside = False
    table_line = None
    seen = -1
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("["):
            inside = bool(header.match(stripped))
            if inside:
                seen += 1
                inside = entry is None or seen == entry
            if inside and table_line is None:
                table_line = number
        elif inside and assignment is not None and assignment.match(stripped):
            return Location(path, number)
    return Location(path, table_line)
