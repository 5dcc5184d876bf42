"""Requests as each ESP really posts them to a webhook: documented bodies, real signatures.

Shared by the webhook parser tests and the tests of ``mailer serve`` over HTTP.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from mailer.feedback.webhooks.sendgrid import SIGNATURE, TIMESTAMP

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "webhooks"
NOW = 1_770_920_800.0  # the clock every request is judged by, unless a test passes its own


def fixture(provider: str, name: str) -> bytes:
    """A documented payload, byte for byte."""
    return (FIXTURES / provider / f"{name}.json").read_bytes()


MAILGUN_KEY = "0123456789abcdef0123456789abcdef-0123abcd-4567ef01"


def mailgun_request(
    event_data: bytes, *, key: str = MAILGUN_KEY, timestamp: float = NOW, token: str = ""
) -> tuple[dict[str, str], bytes]:
    """What Mailgun posts: the event data as documented, under a real signature."""
    token = token or secrets.token_hex(25)
    stamp = str(int(timestamp))
    signature = hmac.new(key.encode(), (stamp + token).encode(), hashlib.sha256).hexdigest()
    block = json.dumps({"timestamp": stamp, "token": token, "signature": signature})
    body = b'{"signature": ' + block.encode() + b', "event-data": ' + event_data + b"}"
    return {"Content-Type": "application/json"}, body


def public_key_text(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> str:
    """The public half of ``key`` as SendGrid shows it: base64 of the DER SubjectPublicKeyInfo."""
    der = key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


SENDGRID_KEY = ec.generate_private_key(ec.SECP256R1())  # SendGrid's half, made for the tests


def sendgrid_request(
    body: bytes, *, key: ec.EllipticCurvePrivateKey = SENDGRID_KEY, timestamp: float = NOW
) -> tuple[dict[str, str], bytes]:
    """What SendGrid posts: ``body`` with the signature of the timestamp followed by it."""
    stamp = str(int(timestamp))
    signature = key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {SIGNATURE: base64.b64encode(signature).decode(), TIMESTAMP: stamp}, body


POSTMARK_USER, POSTMARK_PASSWORD = "postmark", "s3cret: with a colon, and ü"


def postmark_request(
    body: bytes, user: str = POSTMARK_USER, password: str = POSTMARK_PASSWORD
) -> tuple[dict[str, str], bytes]:
    """What Postmark posts to https://USER:PASSWORD@host/...: ``body`` with basic auth."""
    credentials = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {credentials}", "Content-Type": "application/json"}, body
