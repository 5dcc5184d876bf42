"""SigV4 as ``ses://`` signs its requests: AWS's published test suite (aws-sig-v4-test-suite,
the example key ``AKIDEXAMPLE`` on 2015-08-30 12:36:00 UTC), and botocore's signer, which every
AWS tool uses, for a SendEmail call made with temporary credentials."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mailer.delivery.transports.sigv4 import Keys, sign

EXAMPLE = Keys("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
AT = datetime(2015, 8, 30, 12, 36, tzinfo=UTC)
SCOPE = "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request"


@pytest.mark.parametrize(("case", "method", "path", "headers", "body", "signed", "signature"), [
    ("get-vanilla", "GET", "/", {}, b"", "host;x-amz-date",
     "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
    ("post-vanilla", "POST", "/", {}, b"", "host;x-amz-date",
     "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),
    ("get-utf8", "GET", "/\u1234", {}, b"", "host;x-amz-date",
     "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"),
    ("post-x-www-form-urlencoded", "POST", "/",
     {"Content-Type": "application/x-www-form-urlencoded"}, b"Param1=value1",
     "content-type;host;x-amz-date",
     "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"),
])
def test_aws_s_published_examples(case, method, path, headers, body, signed, signature) -> None:
    found = sign(EXAMPLE, "us-east-1", "service", method, "example.amazonaws.com", path,
                 headers, body, now=AT)
    assert found["X-Amz-Date"] == "20150830T123600Z"
    assert found["Authorization"] == (
        f"AWS4-HMAC-SHA256 {SCOPE}, SignedHeaders={signed}, Signature={signature}"
    ), case


def test_a_session_token_is_signed_as_botocore_signs_it(monkeypatch) -> None:
    from botocore import auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    class Frozen(datetime):  # botocore reads the time from datetime.datetime
        @classmethod
        def utcnow(cls) -> datetime:
            return AT.replace(tzinfo=None)

        @classmethod
        def now(cls, tz=None) -> datetime:
            return AT if tz is not None else AT.replace(tzinfo=None)

    monkeypatch.setattr(auth.datetime, "datetime", Frozen)
    keys = Keys(EXAMPLE.access_key, EXAMPLE.secret_key, "FwoGZXIvYXdzEXAMPLEsessionTOKEN")
    body = b'{"Destination": {"ToAddresses": ["reader@example.org"]}}'
    reference = AWSRequest("POST", "http://127.0.0.1:8080/v2/email/outbound-emails", data=body,
                           headers={"Content-Type": "application/json"})
    auth.SigV4Auth(Credentials(keys.access_key, keys.secret_key, keys.token), "ses",
                   "eu-central-1").add_auth(reference)
    ours = sign(keys, "eu-central-1", "ses", "POST", "127.0.0.1:8080",
                "/v2/email/outbound-emails", {"Content-Type": "application/json"}, body, now=AT)
    assert ours["X-Amz-Security-Token"] == keys.token
    assert ours["Authorization"] == reference.headers["Authorization"]
    assert "x-amz-security-token" in ours["Authorization"]
