"""The DNS answers the doctor reads, from the system's resolver or from ``MAILER_NAMESERVER``.

``MAILER_NAMESERVER=HOST[:PORT]`` (``[::1]:5353`` for IPv6) asks that name server instead of
the system's: the inside view of a split DNS, or a test's server on loopback. Every answer is
kept for the run, so the SPF walk and the other checks ask each name once.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping
from typing import Any

import dns.exception
import dns.name
import dns.resolver

from mailer.errors import ConfigError, Location

VARIABLE = "MAILER_NAMESERVER"
TIMEOUT = 5.0  # seconds for one question, retries included
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class DnsUnavailable(Exception):
    """The name server did not answer (timed out, failed, or there is none): nothing can be
    said about the records it was asked for."""


def resolver_from(environ: Mapping[str, str]) -> dns.resolver.Resolver:
    """The system's resolver, or the name server ``MAILER_NAMESERVER`` names (ConfigError if
    it cannot be read). DnsUnavailable when the system has none configured."""
    named = environ.get(VARIABLE, "").strip()
    if not named:
        try:
            resolver = dns.resolver.Resolver()
        except dns.resolver.NoResolverConfiguration:
            raise DnsUnavailable(f"this computer has no name server configured ({VARIABLE} "
                                 "names one)") from None
    else:
        host, port = _host_and_port(named)
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [host]
        resolver.port = port
    resolver.lifetime = TIMEOUT
    return resolver


def _host_and_port(text: str) -> tuple[str, int]:
    """``HOST[:PORT]`` as an IP address and a port; a host name is looked up once."""
    where = Location(f"environment variable {VARIABLE}")
    host, port = text, "53"
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":") or "53"
    elif text.count(":") == 1:
        host, port = text.split(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(where, f"{text!r}: the port is not a number from 1 to 65535")
    try:
        return str(ipaddress.ip_address(host)), int(port)
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(host, int(port), proto=socket.IPPROTO_UDP)
    except (socket.gaierror, UnicodeError):
        raise ConfigError(where, f"{text!r}: cannot find the name server {host!r}") from None
    return str(found[0][4][0]), int(port)


class Lookup:
    """TXT, address and MX records, each name asked once; a missing record is an empty list,
    a name server that does not answer is DnsUnavailable."""

    def __init__(self, resolver: dns.resolver.Resolver) -> None:
        self._resolver = resolver
        self._answers: dict[tuple[str, str], list[Any]] = {}

    def txt(self, name: str) -> list[str]:
        """Each TXT record of ``name``, its strings joined (as SPF and DKIM read them)."""
        return [
            b"".join(record.strings).decode("utf-8", "replace")
            for record in self._records(name, "TXT")
        ]

    def addresses(self, name: str) -> list[IpAddress]:
        """The IPv4 and IPv6 addresses of ``name``."""
        return [
            ipaddress.ip_address(record.to_text())
            for kind in ("A", "AAAA")
            for record in self._records(name, kind)
        ]

    def mx(self, name: str) -> list[str]:
        """The mail servers of ``name``, most preferred first ("." for a null MX)."""
        records = sorted(self._records(name, "MX"), key=lambda record: record.preference)
        return [record.exchange.to_text(omit_final_dot=True) or "." for record in records]

    def _records(self, name: str, kind: str) -> list[Any]:
        key = (name.lower().rstrip("."), kind)
        if key not in self._answers:
            self._answers[key] = self._query(*key)
        return self._answers[key]

    def _query(self, name: str, kind: str) -> list[Any]:
        try:
            return list(self._resolver.resolve(name, kind, search=False))
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
            raise DnsUnavailable(
                f"the name server did not answer for {name} {kind} ({type(exc).__name__})"
            ) from None
        except (dns.exception.SyntaxError, dns.exception.FormError) as exc:  # not a name
            raise DnsUnavailable(f"{name!r} is not a domain name ({exc})") from None
