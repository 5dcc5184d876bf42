"""SPF (RFC 7208) as a receiver evaluates it: which result an address of the sending server
gets from a domain's record, and which domains the record includes.

The mechanisms ``all``, ``ip4``, ``ip6``, ``a``, ``mx``, ``include``, ``exists`` and the
``redirect`` modifier are evaluated; ``ptr`` (deprecated) and macros (``%{i}``) never match
here. As receivers do, at most :data:`MAX_LOOKUPS` of the terms that ask DNS are followed in
one evaluation (``include``, ``a``, ``mx``, ``ptr``, ``exists``, ``redirect``): a record that
needs more is a permanent error, and receivers then treat the mail as if it had no SPF.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from mailer.doctor.lookup import IpAddress, Lookup

MAX_LOOKUPS = 10
MAX_MX = 10  # mail servers of one mx mechanism that are looked up (RFC 7208 4.6.4)
QUALIFIERS = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}


class PermError(Exception):
    """The record cannot be evaluated (RFC 7208 "permerror"): receivers ignore it."""


@dataclass
class Evaluation:
    """One evaluation: the DNS lookups counted so far, and every domain it included."""

    lookup: Lookup
    lookups: int = 0
    included: set[str] = field(default_factory=set)

    def count(self) -> None:
        self.lookups += 1
        if self.lookups > MAX_LOOKUPS:
            raise PermError(
                f"the record needs more than {MAX_LOOKUPS} DNS lookups (include, a, mx, "
                "exists, redirect), and receivers stop at 10"
            )


def record_of(lookup: Lookup, domain: str) -> str | None:
    """The SPF record of ``domain`` (None when it has none); PermError when it has several."""
    records = [text for text in lookup.txt(domain) if _is_spf(text)]
    if len(records) > 1:
        raise PermError(f"{domain} has {len(records)} SPF records; receivers need exactly one")
    return records[0] if records else None


def _is_spf(text: str) -> bool:
    lowered = text.lower()
    return lowered == "v=spf1" or lowered.startswith("v=spf1 ")


def result(lookup: Lookup, domain: str, address: IpAddress) -> tuple[str, set[str]]:
    """What a mail from ``address`` with an envelope at ``domain`` gets ("pass", "fail",
    "softfail", "neutral", "none"), and the domains the evaluation included on the way.
    PermError when the record cannot be evaluated."""
    evaluation = Evaluation(lookup)
    return _check(evaluation, domain, address), evaluation.included


def includes(lookup: Lookup, domain: str) -> set[str]:
    """Every domain ``domain``'s record includes or redirects to, however deep, within the
    lookup limit (PermError beyond it)."""
    evaluation = Evaluation(lookup)
    _walk(evaluation, domain)
    return evaluation.included


def _walk(evaluation: Evaluation, domain: str) -> None:
    record = record_of(evaluation.lookup, domain)
    for term in (record or "").split()[1:]:
        name, value = _target(term)
        if name in ("include", "redirect") and value:
            evaluation.count()
            evaluation.included.add(value.lower())
            _walk(evaluation, value)


def _target(term: str) -> tuple[str, str]:
    """``include:_spf.example.org`` -> (include, _spf.example.org); ``redirect=x`` likewise."""
    body = term.lstrip("+-~?")
    if "=" in body and ":" not in body.partition("=")[0]:
        name, _, value = body.partition("=")
    else:
        name, _, value = body.partition(":")
    return name.lower(), value


def _check(evaluation: Evaluation, domain: str, address: IpAddress) -> str:
    record = record_of(evaluation.lookup, domain)
    if record is None:
        return "none"
    redirect = None
    for term in record.split()[1:]:
        qualifier = term[0] if term[0] in QUALIFIERS else "+"
        body = term.lstrip("+-~?")
        modifier, equals, value = body.partition("=")
        if equals and ":" not in modifier and "/" not in modifier:
            if modifier.lower() == "redirect":
                redirect = value
            continue  # exp= and unknown modifiers are ignored, as RFC 7208 6 says
        if _matches(evaluation, domain, body, address):
            return QUALIFIERS[qualifier]
    if redirect is not None:
        evaluation.count()
        evaluation.included.add(redirect.lower())
        outcome = _check(evaluation, redirect, address)
        if outcome == "none":
            raise PermError(f"{domain} redirects to {redirect}, which has no SPF record")
        return outcome
    return "neutral"


def _matches(evaluation: Evaluation, domain: str, mechanism: str, address: IpAddress) -> bool:
    name, _, argument = mechanism.partition(":")
    name, slash, cidr = name.partition("/")
    if slash:  # "a/24", "mx/24": the prefix length without a domain
        argument = ""
        cidr = mechanism.partition("/")[2]
    else:
        argument, slash, cidr = argument.partition("/")
    name = name.lower()
    if name == "all":
        return True
    if name in ("ip4", "ip6"):
        try:
            return address in ipaddress.ip_network(
                argument + (f"/{cidr}" if slash else ""), strict=False
            )
        except ValueError:
            raise PermError(f"{mechanism!r} is not an address or network") from None
    if name not in ("a", "mx", "include", "exists", "ptr"):
        raise PermError(f"unknown mechanism {mechanism!r}")
    evaluation.count()
    target = argument or domain
    if "%" in target or name == "ptr":
        return False  # macros and ptr are not evaluated here: no match
    if name == "include":
        evaluation.included.add(target.lower())
        outcome = _check(evaluation, target, address)
        if outcome == "none":
            raise PermError(f"{domain} includes {target}, which has no SPF record")
        return outcome == "pass"
    if name == "exists":
        return bool(evaluation.lookup.addresses(target))
    hosts = [target] if name == "a" else evaluation.lookup.mx(target)[:MAX_MX]
    return any(
        _within(address, found, cidr)
        for host in hosts for found in evaluation.lookup.addresses(host)
    )


def _within(address: IpAddress, found: IpAddress, cidr: str) -> bool:
    """Whether ``address`` is ``found`` or in its network: ``a/24`` means the /24 of each
    address, and ``a/24//64`` the /24 of the IPv4 ones and the /64 of the IPv6 ones."""
    if address.version != found.version:
        return False
    four, _, six = ("", "", cidr[1:]) if cidr.startswith("/") else cidr.partition("//")
    prefix = (four if found.version == 4 else six) or str(found.max_prefixlen)
    try:
        return address in ipaddress.ip_network(f"{found}/{prefix}", strict=False)
    except ValueError:
        raise PermError(f"/{cidr} is not a prefix length") from None
