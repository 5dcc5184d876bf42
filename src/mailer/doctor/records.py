"""The DNS of the From domain and the bounce domain, as receivers will read it.

* SPF of the envelope domain (the bounce address's, else the From address's; Mailgun's sending
  domain) covers what sends: every address of the SMTP server passes, or the record includes
  the server's or the ESP's documented SPF domain (:data:`RELAYS`, :data:`ESP_SPF`);
* DKIM: with ``[send] dkim_key_file`` mailer signs, and the record at
  ``<selector>._domainkey.<domain>`` must hold that key's public half; otherwise the
  provider signs, and its key must be published under the selector it uses;
* DMARC: a ``v=DMARC1`` record at ``_dmarc.`` the From domain (or its organisational domain);
* the bounce domain in the From address's organisation (DMARC alignment), and its MX.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mailer.checks.deliverability import organisational_domain
from mailer.delivery.dkim import public_key_record, signing_names
from mailer.delivery.transports import Dsn, transport_class
from mailer.doctor import spf
from mailer.doctor.lookup import DnsUnavailable, IpAddress, Lookup
from mailer.doctor.report import Finding, Severity
from mailer.errors import UsageError
from mailer.fields import domain_of
from mailer.settings import LoadedSettings

# Submission servers that send from other addresses than their own: the SPF domain their
# provider documents, and the DKIM selectors it signs with.
RELAYS: dict[str, tuple[str, tuple[str, ...]]] = {
    "smtp.gmail.com": ("_spf.google.com", ("google",)),
    "smtp-relay.gmail.com": ("_spf.google.com", ("google",)),
    "smtp.office365.com": ("spf.protection.outlook.com", ("selector1", "selector2")),
    "smtp-mail.outlook.com": ("spf.protection.outlook.com", ("selector1", "selector2")),
    "smtp.sendgrid.net": ("sendgrid.net", ("s1", "s2")),
    "smtp.mailgun.org": ("mailgun.org", ()),
    "smtp.eu.mailgun.org": ("mailgun.org", ()),
    "smtp.postmarkapp.com": ("spf.mtasv.net", ()),
}
# The include each ESP documents for the SPF record, and the DKIM selectors it signs with when
# they are the same for every account (Mailgun's and Postmark's are chosen per domain).
ESP_SPF = {"mailgun": "mailgun.org", "sendgrid": "sendgrid.net", "postmark": "spf.mtasv.net"}
ESP_SELECTORS: dict[str, tuple[str, ...]] = {"sendgrid": ("s1", "s2")}
MAILER_SIGNS = ("smtp", "smtps", "outbox")  # the ESPs get no MIME message to sign
DNS_FIX = (
    "check this computer's network and name server, or name one with MAILER_NAMESERVER="
    "HOST[:PORT], then run mailer doctor again"
)


@dataclass(frozen=True)
class Sending:
    """What the settings send with and from, as the DNS checks need it."""

    scheme: str  # "smtp", "mailgun", ... ("" when the transport cannot be read)
    host: str  # the SMTP server, or Mailgun's sending domain
    from_domain: str
    bounce_domain: str  # of [bounces] address; the From domain without one
    bounces_set: bool
    selector: str
    dkim_domain: str
    selector_set: bool
    key_file: Path | None

    @classmethod
    def of(cls, loaded: LoadedSettings) -> Sending:
        settings = loaded.settings
        try:
            dsn = Dsn.parse(settings.send.transports[0])
            scheme, host = dsn.scheme, dsn.host
        except UsageError:
            scheme, host = "", ""
        from_domain = domain_of(settings.sender.address).lower()
        bounces = settings.bounces.address
        selector, dkim_domain = signing_names(settings.send, settings.sender.address)
        if scheme == "mailgun" and not settings.send.dkim_domain:
            dkim_domain = host  # Mailgun signs as its sending domain
        key_file = settings.send.dkim_key_file
        return cls(
            scheme=scheme, host=host.lower(), from_domain=from_domain,
            bounce_domain=domain_of(bounces).lower() if bounces else from_domain,
            bounces_set=bounces is not None, selector=selector, dkim_domain=dkim_domain.lower(),
            selector_set=settings.send.dkim_selector is not None,
            key_file=loaded.resolve(key_file) if key_file else None,
        )

    @property
    def provider(self) -> str:
        """The ESP's name as it writes it ("SendGrid"), for an ESP's transport."""
        return transport_class(self.scheme).name

    @property
    def spf_domain(self) -> str:
        """The envelope's domain, which SPF checks."""
        return self.host if self.scheme == "mailgun" else self.bounce_domain


def check(loaded: LoadedSettings, lookup: Lookup) -> list[Finding]:
    sending = Sending.of(loaded)
    steps: list[Callable[[Sending, Lookup], list[Finding]]] = [
        _spf, _dkim, _dmarc, lambda sending, _: _alignment(sending), _mx,
    ]
    findings: list[Finding] = []
    for step in steps:
        try:
            findings += step(sending, lookup)
        except DnsUnavailable as exc:
            return [*findings, Finding("dns", "error", f"DNS: {exc}", DNS_FIX)]
    return findings


# -- SPF ----------------------------------------------------------------------------------------


def _spf(sending: Sending, lookup: Lookup) -> list[Finding]:
    domain = sending.spf_domain
    try:
        record = spf.record_of(lookup, domain)
        if record is None:
            return [Finding(
                "dns", "error", f"SPF: {domain} has no SPF record, so receivers cannot tell "
                "your mail from forgeries", _publish_spf(domain, _allowing(sending, lookup)),
            )]
        if sending.scheme in ESP_SPF:
            return [_esp_spf(sending, lookup, domain)]
        if sending.scheme in ("smtp", "smtps"):
            return [_smtp_spf(sending, lookup, domain, record)]
    except spf.PermError as exc:
        return [Finding(
            "dns", "error", f"SPF of {domain} cannot be evaluated: {exc}",
            f"correct the SPF record of {domain} (one TXT record starting v=spf1)",
        )]
    return [Finding("dns", "ok", f"SPF: {domain} has a record ({record})")]


def _esp_spf(sending: Sending, lookup: Lookup, domain: str) -> Finding:
    include = ESP_SPF[sending.scheme]
    if include in spf.includes(lookup, domain):
        return Finding("dns", "ok", f"SPF of {domain} includes {include}")
    # Mailgun's envelope is at its sending domain; SendGrid's and Postmark's may be at a domain
    # of their own (a CNAME they ask for), whose SPF they keep.
    severity: Severity = "error" if sending.scheme == "mailgun" else "warning"
    return Finding(
        "dns", severity, f"SPF of {domain} does not include {include}, which "
        f"{sending.provider} documents", _add_to_spf(domain, f"include:{include}"),
    )


def _smtp_spf(sending: Sending, lookup: Lookup, domain: str, record: str) -> Finding:
    host = sending.host
    relay = RELAYS.get(host)
    if relay is not None and relay[0] in spf.includes(lookup, domain):
        return Finding("dns", "ok", f"SPF of {domain} includes {relay[0]}, which {host} sends from")
    addresses = _addresses(host, lookup)
    if not addresses:
        return Finding(
            "dns", "error", f"SPF: {host}, the SMTP server, has no address in DNS",
            "check the host name in [send] transport",
        )
    verdicts = {address: spf.result(lookup, domain, address)[0] for address in addresses}
    failing = {str(address): outcome for address, outcome in verdicts.items() if outcome != "pass"}
    if not failing:
        shown = ", ".join(map(str, addresses))
        named = host if shown == host else f"{host} ({shown})"
        return Finding("dns", "ok", f"SPF of {domain} lets {named} send")
    said = ", ".join(f"{address}: {outcome}" for address, outcome in failing.items())
    return Finding(
        "dns", "error", f"SPF of {domain} does not let {host} send ({said}); its record is "
        f"{record!r}", _add_to_spf(domain, _allowing(sending, lookup)),
    )


def _addresses(host: str, lookup: Lookup) -> list[IpAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        return lookup.addresses(host)


def _allowing(sending: Sending, lookup: Lookup) -> str:
    """The SPF mechanism that lets the configured transport send."""
    if sending.scheme in ESP_SPF:
        return f"include:{ESP_SPF[sending.scheme]}"
    relay = RELAYS.get(sending.host)
    if relay is not None:
        return f"include:{relay[0]}"
    if sending.scheme not in ("smtp", "smtps"):
        return "include:<your mail provider's SPF domain>"
    try:
        address = ipaddress.ip_address(sending.host)
    except ValueError:
        return f"a:{sending.host}"
    return f"ip{address.version}:{address}"


def _publish_spf(domain: str, mechanism: str) -> str:
    return f'publish a TXT record at {domain}: "v=spf1 {mechanism} ~all"'


def _add_to_spf(domain: str, mechanism: str) -> str:
    return f'add "{mechanism}" to the SPF record of {domain}, before its "all"'


# -- DKIM ---------------------------------------------------------------------------------------


def _dkim(sending: Sending, lookup: Lookup) -> list[Finding]:
    if sending.key_file is not None and sending.scheme in MAILER_SIGNS:
        return [_our_key(sending, lookup)]
    selectors = (sending.selector,) if sending.selector_set else (
        ESP_SELECTORS.get(sending.scheme) or RELAYS.get(sending.host, ("", ()))[1]
    )
    if not selectors:
        signer = f"{sending.provider} signs" if sending.scheme in ESP_SPF else \
            "mailer does not sign (no [send] dkim_key_file)"
        return [Finding(
            "dns", "warning", f"DKIM: {signer}, and doctor does not know the selector your "
            "provider signs with, so it cannot check that its key is published",
            "set [send] dkim_selector to the selector your mail provider shows (its DKIM "
            "settings), or sign with mailer: [send] dkim_key_file",
        )]
    for selector in selectors:
        name = f"{selector}._domainkey.{sending.dkim_domain}"
        if _published_keys(lookup, name):
            return [Finding("dns", "ok", f"DKIM: a key is published at {name}")]
    names = " or ".join(f"{selector}._domainkey.{sending.dkim_domain}" for selector in selectors)
    return [Finding(
        "dns", "warning", f"DKIM: no key is published at {names}: receivers cannot check "
        "your provider's signature for your domain",
        "publish the DKIM record your mail provider shows (its domain authentication page)",
    )]


def check_key_file(loaded: LoadedSettings) -> list[Finding]:
    """Without the network: whether ``[send] dkim_key_file`` holds a key mailer can sign with,
    and the record that must be published for it."""
    sending = Sending.of(loaded)
    if sending.key_file is None or sending.scheme not in MAILER_SIGNS:
        return []
    return [_our_key(sending, None)]


def _our_key(sending: Sending, lookup: Lookup | None) -> Finding:
    """The record of ``[send] dkim_selector`` against the public half of ``dkim_key_file``
    (without ``lookup``, only the key file is read)."""
    path = sending.key_file
    assert path is not None
    try:
        kind, ours = public_key_record(path.read_bytes())
    except OSError as exc:
        return Finding(
            "dns", "error", f"DKIM: cannot read [send] dkim_key_file {path} ({exc.strerror})",
            "point dkim_key_file at the private key, relative to mailer.toml",
        )
    except ValueError as exc:
        return Finding(
            "dns", "error", f"DKIM: [send] dkim_key_file {path}: {exc}",
            "point dkim_key_file at the DKIM private key (PEM)",
        )
    name = f"{sending.selector}._domainkey.{sending.dkim_domain}"
    record = f"v=DKIM1; k={kind}; p={ours}"
    if lookup is None:
        return Finding(
            "dns", "note", f"DKIM: {path.name} holds an {kind.upper()} key; its record at "
            f"{name} was not looked up (--offline)",
            f'unless it is there already, publish a TXT record at {name}: "{record}"',
        )
    published = _published_keys(lookup, name)
    if ours in published:
        return Finding("dns", "ok", f"DKIM: the key at {name} is the public key of {path.name}")
    if not published:
        return Finding(
            "dns", "error", f"DKIM: no key is published at {name}, so receivers fail every "
            f"signature mailer makes with {path.name}", f'publish a TXT record at {name}: '
            f'"{record}"',
        )
    return Finding(
        "dns", "error", f"DKIM: the key published at {name} is not the public key of "
        f"{path.name}: receivers fail every signature mailer makes with it",
        f'publish "{record}" at {name} instead, or set dkim_key_file to the private key of '
        "the published one",
    )


def _published_keys(lookup: Lookup, name: str) -> list[str]:
    """The non-empty ``p=`` of each DKIM record at ``name`` (whitespace removed)."""
    keys = []
    for text in lookup.txt(name):
        tags = dict(
            (key.strip().lower(), "".join(value.split()))
            for key, _, value in (part.partition("=") for part in text.split(";"))
        )
        if tags.get("p"):
            keys.append(tags["p"])
    return keys


# -- DMARC, alignment, MX -------------------------------------------------------------------------


def _dmarc(sending: Sending, lookup: Lookup) -> list[Finding]:
    domain = sending.from_domain
    names = dict.fromkeys([f"_dmarc.{domain}", f"_dmarc.{organisational_domain(domain)}"])
    for name in names:
        policies = [text for text in lookup.txt(name) if text.lower().startswith("v=dmarc1")]
        if policies:
            return [Finding("dns", "ok", f"DMARC: {name} has a policy ({policies[0]})")]
    return [Finding(
        "dns", "error", f"DMARC: {domain} publishes no policy at _dmarc.{domain}; Gmail and "
        "Yahoo require one from bulk senders",
        f'publish a TXT record at _dmarc.{domain}: "v=DMARC1; p=none; '
        f'rua=mailto:dmarc-reports@{domain}" (p=none only asks for reports)',
    )]


def _alignment(sending: Sending) -> list[Finding]:
    if not sending.bounces_set:
        return []
    ours = organisational_domain(sending.from_domain)
    theirs = organisational_domain(sending.bounce_domain)
    if theirs == ours:
        return [Finding(
            "dns", "ok", f"the bounce domain {sending.bounce_domain} is in {ours}, as the From "
            "address is (SPF aligns for DMARC)",
        )]
    return [Finding(
        "dns", "warning", f"the bounce domain {sending.bounce_domain} is not in {ours}, the "
        "From address's: SPF cannot align for DMARC, and SpamAssassin adds 1.0 point "
        "(HEADER_FROM_DIFFERENT_DOMAINS)",
        f"use a bounce mailbox at {ours} or a subdomain of it, such as "
        f"bounces@{sending.from_domain} ([bounces] address)",
    )]


def _mx(sending: Sending, lookup: Lookup) -> list[Finding]:
    domain = sending.bounce_domain
    servers = lookup.mx(domain)
    if servers and servers != ["."]:
        return [Finding("dns", "ok", f"MX: bounces to {domain} arrive at {servers[0]}")]
    if not servers and lookup.addresses(domain):
        return [Finding(
            "dns", "warning", f"MX: {domain} has no MX record, only an address: bounces go "
            "there, and some receivers refuse senders without MX",
            f"publish an MX record for {domain} naming the server that receives its mail",
        )]
    return [Finding(
        "dns", "error", f"MX: {domain} cannot receive mail (no MX record): bounces are lost, "
        "and receivers may refuse its mail",
        f"publish an MX record for {domain}, or use a bounce address at a domain that "
        "receives mail ([bounces] address)",
    )]
