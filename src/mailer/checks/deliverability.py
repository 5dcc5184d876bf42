"""Deliverability and compliance: what spam filters, Gmail/Yahoo's sender rules and the law
(CAN-SPAM, GDPR) ask of a newsletter.

A subject and a preheader, a visible unsubscribe link plus one-click ``List-Unsubscribe``
headers (which a Postmark broadcast stream replaces unless the account manages its own
unsubscribes; which the ESP adds itself when it answers unsubscribes; of which a list answering
by mail has only the mailto, fine for a small list but not above :data:`MAILTO_READERS`
readers), a postal address, links on the sender's own domain and no URL shorteners, a
plain-text part that carries every link, no template code left in what readers see, and a
bounce address in the From address's organisation (SPF alignment for DMARC).
"""

from __future__ import annotations

import os
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from functools import cache
from itertools import islice
from urllib.parse import urlsplit

from lxml.html import HtmlElement
from publicsuffixlist import PublicSuffixList

from mailer.audience.audience import Segment
from mailer.audience.subscribers import SampleReader, SubscriberReader
from mailer.checks.base import (
    CheckOptions,
    Finding,
    finding_maker,
    is_hidden,
    parse_html,
    sample_message,
    settings_location,
    template_location,
    text_of,
    yaml_location,
)
from mailer.checks.links import UrlUse, fetch_target, url_places, url_uses
from mailer.compose.issue import LoadedIssue
from mailer.compose.merge import UNSUBSCRIBE_KEY, FillIn, token
from mailer.compose.theme import HTML_TEMPLATE, TEXT_TEMPLATE
from mailer.console import count
from mailer.delivery.prepare import Prepared
from mailer.delivery.transports import Dsn
from mailer.errors import Location, UsageError
from mailer.fields import domain_of
from mailer.settings import LoadedSettings

CHECK = "deliverability"
_finding = finding_maker(CHECK)
SUBJECT_MAX = 70  # phones show 30-40 characters, desktop clients 60-70
# Gmail's and Yahoo's bulk senders (5,000 messages a day to them) must offer one-click
# unsubscribe (RFC 8058), which takes an https link: a mailto alone does not do.
MAILTO_READERS = 5_000
LEFTOVER_SYNTAX = ("{{", "{%", "<mj-")
URL_SHORTENERS = frozenset({
    "bit.ly", "bitly.com", "tinyurl.com", "t.co", "goo.gl", "ow.ly", "is.gd", "buff.ly",
    "rebrand.ly", "cutt.ly", "shorturl.at", "rb.gy", "tiny.cc", "bl.ink", "lnkd.in", "s.id",
    "t.ly", "v.gd", "soo.gd", "clck.ru", "shorte.st", "adf.ly", "y2u.be", "qr.ae",
    # ... and more that SpamAssassin's 25_url_shortener.cf lists
    "youtu.be", "fb.me", "amzn.to", "j.mp", "dlvr.it", "wp.me", "flic.kr", "eepurl.com",
    "trib.al", "shar.es", "snip.ly", "tiny.one",
})


def check(loaded: LoadedIssue, prepared: Prepared, *, options: CheckOptions) -> list[Finding]:
    document = parse_html(prepared.rendered.html)
    uses = url_uses(loaded)
    return [
        *_subject_and_preheader(loaded, prepared),
        *_unsubscribe(loaded, prepared, document),
        *_postmark_broadcast(loaded),
        *_segment_reach(loaded),
        *_postal_address(loaded, prepared, document),
        *_sender_domain(loaded, uses),
        *_bounce_alignment(loaded),
        *_shorteners(uses),
        *_text_part(loaded, prepared, document, uses),
        *_leftovers(loaded, prepared),
    ]


def _subject_and_preheader(loaded: LoadedIssue, prepared: Prepared) -> list[Finding]:
    values = prepared.factory.personalise(SampleReader()).values
    subject = FillIn.of(prepared.rendered.subject, escape_html=False).fill(values).strip()
    where = loaded.source.locate(("subject",))
    findings = []
    if not subject:
        findings.append(_finding("error", "the subject is empty", where, "write a subject"))
    elif len(subject) > SUBJECT_MAX:
        findings.append(_finding(
            "warning", f"the subject has {len(subject)} characters; mail apps cut it after "
            f"about {SUBJECT_MAX} (phones after 40)", where,
            "put the news first and keep it under 60 characters",
        ))
    if not prepared.rendered.preheader.strip():
        findings.append(_finding(
            "warning", "no preheader: inboxes show the first text of the email instead", where,
            "add a 'preheader:' line after the subject: one sentence that makes people open it",
        ))
    return findings


def _unsubscribe(
    loaded: LoadedIssue, prepared: Prepared, document: HtmlElement
) -> list[Finding]:
    mode = loaded.settings.settings.list.unsubscribe_mode
    findings = []
    if mode == "web":
        findings += _one_click_headers(loaded, prepared)
    elif mode == "mailto":
        findings += _mailto_only(loaded)
    link = token(UNSUBSCRIBE_KEY)
    if not any(text_of(a) for a in _visible_links(document) if a.get("href") == link):
        findings.append(_finding(
            "error", "the email has no visible unsubscribe link", template_location(
                loaded, "unsubscribe_url"), '<a href="{{ unsubscribe_url }}">Unsubscribe</a> '
            "belongs in the footer of the template",
        ))
    if link not in prepared.rendered.text:
        findings.append(_finding(
            "error", "the plain-text part has no unsubscribe link",
            template_location(loaded, "unsubscribe_url", TEXT_TEMPLATE),
            "end the text template with: Unsubscribe: {{ unsubscribe_url }}",
        ))
    return findings


def _one_click_headers(loaded: LoadedIssue, prepared: Prepared) -> list[Finding]:
    """``[list] unsubscribe = "web"``: the https target and RFC 8058's one-click header."""
    setting = settings_location(loaded, "list", "unsubscribe_url")
    findings = []
    headers = BytesHeaderParser(policy=default_policy).parsebytes(sample_message(prepared).data)
    targets = str(headers.get("List-Unsubscribe", ""))
    if "<https://" not in targets:
        findings.append(_finding(
            "error", "no https:// address in the List-Unsubscribe header; Gmail and Yahoo require "
            "one-click unsubscribe (RFC 8058) from bulk senders", setting,
            "set list.unsubscribe_url to an https:// page",
        ))
    if str(headers.get("List-Unsubscribe-Post", "")) != "List-Unsubscribe=One-Click":
        findings.append(_finding(
            "error", "the List-Unsubscribe-Post: List-Unsubscribe=One-Click header is missing",
            setting,
            "the message builder must add it (mailer.delivery.message); report this as a bug",
        ))
    return findings


def _mailto_only(loaded: LoadedIssue) -> list[Finding]:
    """``[list] unsubscribe = "mailto"`` has no one-click unsubscribe: fine for a small list,
    a problem with Gmail and Yahoo once it is a bulk sender's."""
    readers = readers_up_to(loaded.settings, MAILTO_READERS + 1)
    if readers <= MAILTO_READERS:
        return []
    listed = loaded.settings.settings.list
    key = "unsubscribe" if listed.unsubscribe is not None else "unsubscribe_mailto"
    return [_finding(
        "warning", f"the list has more than {MAILTO_READERS:,} readers and answers unsubscribes "
        "by mail only: Gmail and Yahoo require one-click unsubscribe (RFC 8058, an https link) "
        f"from senders of {MAILTO_READERS:,} messages a day, and may junk or refuse the rest",
        settings_location(loaded, "list", key),
        'set unsubscribe = "esp" to let the ESP answer, or "web" with unsubscribe_url '
        "answered by mailer serve (see docs/unsubscribe-modes.md)",
    )]


def _segment_reach(loaded: LoadedIssue) -> list[Finding]:
    """An issue for some topics (``audience:``) that no reader of the subscribers CSV follows
    would send nothing: a misspelt tag, or a column not filled in yet. Reading stops at the
    first reader it reaches."""
    if loaded.issue.audience is None or ("audience",) not in loaded.source.positions:
        return []  # an edition's audience is its issue's, checked in the issue's file
    segment = Segment.of_issue(loaded.issue)
    path = loaded.settings.resolve(loaded.settings.settings.send.subscribers)
    readers = 0
    try:
        for reader in SubscriberReader(path):
            if segment.reaches(reader.topics):
                return []
            readers += 1
    except (UsageError, OSError):
        return []  # mailer send says what is wrong with the file
    return [_finding(
        "warning", f"the issue's audience ({segment}) reaches none of the "
        f"{count(readers, 'reader')} of {path.name}: the issue would go to nobody",
        loaded.source.locate(("audience",)),
        "tag the readers in the subscribers CSV's tags column (partners|ankara), or change "
        "the audience",
    )]


def readers_up_to(settings: LoadedSettings, most: int) -> int:
    """How many readers ``[send] subscribers`` lists, counted up to ``most``; 0 when the file
    cannot be read (mailer send says why)."""
    path = settings.resolve(settings.settings.send.subscribers)
    try:
        return sum(1 for _ in islice(SubscriberReader(path), most))
    except (UsageError, OSError):
        return 0


def _postmark_broadcast(loaded: LoadedIssue) -> list[Finding]:
    """Postmark's broadcast streams handle unsubscribes themselves unless told not to: they add
    their own unsubscribe link and List-Unsubscribe headers, and whoever unsubscribes there is
    suppressed at Postmark without reaching this list's unsubscribe page."""
    try:
        dsn = Dsn.parse(loaded.settings.settings.send.transports[0])
    except UsageError:
        return []  # a DSN that cannot be read is mailer send's to report
    stream = dsn.options.get("stream") or "broadcast"  # the Postmark transport's default
    if dsn.scheme != "postmark" or stream != "broadcast":
        return []
    if loaded.settings.settings.list.unsubscribe_mode == "esp":
        return []  # Postmark's own link and headers are the ones wanted
    where = (
        Location(loaded.path) if os.environ.get("MAILER_TRANSPORT")
        else settings_location(loaded, "send", "transport")
    )
    return [_finding(
        "warning", "the transport sends through Postmark's broadcast message stream: unless "
        "the stream manages its own unsubscribes, Postmark puts its own unsubscribe link and "
        "List-Unsubscribe headers in every message, and readers who use them never reach "
        "list.unsubscribe_url", where,
        "ask Postmark support to allow managing unsubscribes yourself, then choose \"Manage "
        "unsubscribes on your own\" in the stream's Settings, under Subscription Management "
        "(see README.md, Postmark)",
    )]


def _postal_address(
    loaded: LoadedIssue, prepared: Prepared, document: HtmlElement
) -> list[Finding]:
    address = " ".join(loaded.footer.postal_address.split())
    where = loaded.setting_location("footer", "postal_address")
    findings = []
    missing = [
        part for part, text in (
            ("HTML", document.text_content()), ("plain-text part", prepared.rendered.text)
        ) if address not in " ".join(text.split())
    ]
    if missing:
        findings.append(_finding(
            "error", f"the postal address is missing from the {' and the '.join(missing)} "
            "(anti-spam laws require it)", where,
            "show {{ footer.postal_address }} in the footer of both templates",
        ))
    if not any(ch.isdigit() for ch in address):
        findings.append(_finding(
            "warning", f"footer.postal_address '{address}' has no number; it does not look like "
            "a postal address", where, "write the full address with street number and postcode",
        ))
    return findings


def _sender_domain(loaded: LoadedIssue, uses: list[UrlUse]) -> list[Finding]:
    address = loaded.sender.address
    domain = organisational_domain(domain_of(address))
    hosts = {
        organisational_domain(host)
        for use in uses
        if (target := fetch_target(use)) and (host := _host(target))
    }
    if not hosts or domain in hosts:
        return []
    return [_finding(
        "warning", f"no link goes to {domain}, the domain of the From address {address}; spam "
        "filters distrust mail whose links are all elsewhere",
        loaded.setting_location("sender", "address"),
        "send from an address at your website's domain, or link to your website",
    )]


def _bounce_alignment(loaded: LoadedIssue) -> list[Finding]:
    """SMTP and outbox messages leave with the envelope sender ``LOCAL+TOKEN@`` the bounce
    address's domain, the domain SPF checks: DMARC counts that pass only when it is in the From
    address's organisation, and SpamAssassin scores any other (HEADER_FROM_DIFFERENT_DOMAINS:
    no score of its own, so the default 1.0 point)."""
    bounces = loaded.settings.settings.bounces.address
    if bounces is None:
        return []
    sender = loaded.sender.address
    ours = organisational_domain(domain_of(sender))
    if organisational_domain(domain_of(bounces)) == ours:
        return []
    return [_finding(
        "warning", f"the bounce address {bounces} is not in {ours}, the domain of the From "
        f"address {sender}: SMTP and outbox messages then leave with an envelope sender at "
        f"{domain_of(bounces)}, so SPF cannot align for DMARC, and SpamAssassin adds 1.0 point "
        "(HEADER_FROM_DIFFERENT_DOMAINS)",
        settings_location(loaded, "bounces", "address"),
        f"use a bounce mailbox at {ours} or a subdomain of it, such as "
        f"bounces@{domain_of(sender)}",
    )]


def _shorteners(uses: list[UrlUse]) -> list[Finding]:
    return [
        _finding(
            "warning", f"{use.url} uses the URL shortener {host}; spam filters distrust them "
            "and readers cannot see where the link goes", use.location,
            "link to the full address of the page",
        )
        for use in uses
        if (target := fetch_target(use)) and (host := _host(target)) in URL_SHORTENERS
    ]


def _text_part(
    loaded: LoadedIssue, prepared: Prepared, document: HtmlElement, uses: list[UrlUse]
) -> list[Finding]:
    text = prepared.rendered.text
    if not text.strip():
        return [_finding(
            "error", "the plain-text part is empty; some readers need it, and spam filters "
            "score HTML-only mail (SpamAssassin's MIME_HTML_ONLY)",
            template_location(loaded, "", TEXT_TEMPLATE), "fill in the text template",
        )]
    places = url_places(uses)
    hrefs = dict.fromkeys(
        href for a in _visible_links(document)
        if (href := a.get("href", "")).startswith(("http://", "https://", "mailto:"))
    )
    in_text = text_urls(text)
    return [
        _finding(
            "warning", f"{href} is a link in the HTML but missing from the plain-text part",
            places.get(href) or template_location(loaded, "", TEXT_TEMPLATE),
            f"the text template ({TEXT_TEMPLATE}) should list every link of the HTML",
        )
        for href in hrefs
        if href not in in_text
    ]


def text_urls(text: str) -> set[str]:
    """The URLs written out in a plain-text part: whole words, or ``(url)`` as Markdown links
    become; a prefix of a longer URL does not count."""
    urls = set()
    for word in text.split():
        if word.startswith("(") and word.endswith(")"):
            word = word[1:-1]
        urls.add(word.rstrip(".,;:"))
    return urls


def _leftovers(loaded: LoadedIssue, prepared: Prepared) -> list[Finding]:
    rendered = prepared.rendered
    parts = (
        ("subject", rendered.subject, None), ("preheader", rendered.preheader, None),
        ("HTML", rendered.html, HTML_TEMPLATE), ("plain-text part", rendered.text,
                                                      TEXT_TEMPLATE),
    )
    findings = []
    for name, content, template in parts:
        for marker in LEFTOVER_SYNTAX:
            start = content.find(marker)
            if start < 0:
                continue
            snippet = " ".join(content[start : start + 40].split())
            fallback = template_location(loaded, marker, template) if template else None
            findings.append(_finding(
                "error", f"template code '{snippet}' is left in the {name}; readers would see it",
                yaml_location(loaded, snippet, fallback),
                "remove it, or write a merge field in full: {{ subscriber.first_name }}",
            ))
    return findings


def organisational_domain(host: str) -> str:
    """The name ``host`` was registered as, one label under its public suffix (DMARC's
    organizational domain, RFC 7489 3.2): news.iom.org.tr -> iom.org.tr, while example.co.uk
    and other.co.uk stay two. A public suffix itself, or what is no domain name, stays as it is.
    """
    name = _unicode(host.lower().rstrip("."))
    return _public_suffixes().privatesuffix(name) or name


@cache
def _public_suffixes() -> PublicSuffixList:
    """Mozilla's Public Suffix List, as the package ships it: never fetched. Names are looked up
    in Unicode, so the list's punycode twins need not be built (most of its load time)."""
    return PublicSuffixList(accept_encoded_idn=False)


def _unicode(name: str) -> str:
    """``name`` with its punycode labels (xn--bcher-kva.de) decoded, as the list writes them."""
    if "xn--" not in name:
        return name
    try:
        return name.encode("ascii").decode("idna")
    except UnicodeError:
        return name  # not a valid IDN: looked up as written


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def _visible_links(document: HtmlElement) -> list[HtmlElement]:
    return [a for a in document.iter("a") if not is_hidden(a)]
