"""DKIM signatures (RFC 6376) with dkimpy, for senders whose MTA does not sign.

The key is ``[send] dkim_key_file``; the signature names ``[send] dkim_selector`` ("mailer"
unless set) and ``[send] dkim_domain`` (the From address's domain unless set), and receivers
find the public key at ``<selector>._domainkey.<domain>`` (:func:`public_key_record` is what
must be published there).
"""

from __future__ import annotations

import base64

from mailer.fields import domain_of
from mailer.settings import SendSettings

DEFAULT_SELECTOR = "mailer"


def signing_names(send: SendSettings, sender_address: str) -> tuple[str, str]:
    """The selector and the domain a signature names, as ``[send]`` sets them."""
    return send.dkim_selector or DEFAULT_SELECTOR, send.dkim_domain or domain_of(sender_address)


def public_key_record(private_key: bytes) -> tuple[str, str]:
    """The ``k=`` and ``p=`` of the DNS record that verifies signatures made with
    ``private_key`` (as dkimpy reads it: an RSA key in PEM, or an Ed25519 key as the base64 of
    its 32 bytes). ValueError if it is neither."""
    # Imported here: key parsing (~8 ms) is for ``mailer doctor`` and the checks, not for the
    # message builder that imports this module.
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    try:
        key = serialization.load_pem_private_key(private_key, password=None)
    except (ValueError, TypeError):
        try:
            seed = base64.b64decode(private_key.strip(), validate=True)
            key = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
        except ValueError:
            raise ValueError("not an RSA private key in PEM, nor an Ed25519 key") from None
    if isinstance(key, rsa.RSAPrivateKey):
        public = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return "rsa", base64.b64encode(public).decode("ascii")
    if isinstance(key, ed25519.Ed25519PrivateKey):
        raw = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return "ed25519", base64.b64encode(raw).decode("ascii")
    raise ValueError("a DKIM key is RSA or Ed25519")


class DkimSigner:
    """Signs a message with DKIM; the key file is named in settings."""

    HEADERS = (
        b"From", b"To", b"Subject", b"Date", b"Message-ID", b"Reply-To", b"List-Id",
        b"List-Unsubscribe", b"List-Unsubscribe-Post", b"MIME-Version", b"Content-Type",
    )

    def __init__(self, selector: str, domain: str, private_key: bytes) -> None:
        # Imported here: dkimpy and its DNS library cost ~40 ms of start-up to every command,
        # and only sends with a DKIM key need them.
        import dkim

        self._sign = dkim.sign
        self._selector = selector.encode("ascii")
        self._domain = domain.encode("ascii")
        self._key = private_key

    def sign(self, data: bytes) -> bytes:
        signature = self._sign(
            data, self._selector, self._domain, self._key, include_headers=list(self.HEADERS)
        )
        return signature + data
