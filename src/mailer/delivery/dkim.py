"""DKIM signatures (RFC 6376) with dkimpy, for senders whose MTA does not sign."""

from __future__ import annotations


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
