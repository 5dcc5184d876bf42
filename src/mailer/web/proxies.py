"""Whom ``mailer serve`` believes about the client: the proxies of ``[serve] trusted_proxies``.

Behind Caddy or nginx every request comes from the proxy, which says in ``X-Forwarded-For``
whom it came from and in ``X-Forwarded-Proto`` over what. Anyone can send those headers: so
they are read (by werkzeug's ProxyFix, one hop: the last address, the one the proxy added) only
on a request whose direct peer is a listed proxy. From anyone else they are dropped, and the
client is the peer. The client's address is what the refusal log names.
"""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from werkzeug.middleware.proxy_fix import ProxyFix

FORWARDED = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO")  # what ProxyFix reads here


class TrustedProxies:
    """The addresses and networks (``127.0.0.1``, ``172.30.119.0/24``) of the proxies whose
    ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed; none, unless listed."""

    def __init__(self, listed: Iterable[str]) -> None:
        self.networks: tuple[IPv4Network | IPv6Network, ...] = tuple(
            ip_network(value) for value in listed
        )

    def trusts(self, peer: str) -> bool:
        """Whether the direct peer ``peer`` (an address) is a listed proxy."""
        try:
            address = ip_address(peer)
        except ValueError:
            return False  # not an IP peer (a Unix socket): nobody to trust
        if isinstance(address, IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped  # ::ffff:127.0.0.1 on a dual-stack socket
        return any(address in network for network in self.networks)

    def client(self, peer: str, forwarded_for: str | None) -> str:
        """The client of a request from ``peer`` with this ``X-Forwarded-For``, read as
        :meth:`wrap` reads it: for a request the server refuses before the app sees it."""
        if forwarded_for and self.trusts(peer):
            return forwarded_for.split(",")[-1].strip() or peer
        return peer

    def wrap(self, app: WSGIApplication) -> WSGIApplication:
        """``app``, seeing the client's address and scheme as a trusted proxy forwarded them
        (``REMOTE_ADDR``, ``wsgi.url_scheme``), and any other request as it came."""
        behind = ProxyFix(app, x_for=1, x_proto=1)

        def application(environ: WSGIEnvironment, start_response: StartResponse,
                        ) -> Iterable[bytes]:
            if self.trusts(environ.get("REMOTE_ADDR", "")):
                return behind(environ, start_response)
            for header in FORWARDED:  # forged, or from a proxy not listed: nothing reads them
                environ.pop(header, None)
            return app(environ, start_response)

        return application
