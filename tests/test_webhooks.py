"""The providers' webhooks, fed the payloads each provider documents (tests/fixtures/webhooks),
signed for real: verified, then read into FeedbackEvents; refused with the right status, and
nothing read, when anything about the request is wrong."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from pathlib import Path

import pytest

from mailer.delivery.message_ids import message_id_for
from mailer.errors import MissingSecret, UsageError
from mailer.feedback.webhooks import (
    MAX_AGE_SECONDS,
    MAX_BODY_BYTES,
    PROVIDERS,
    Unverified,
    WebhookProvider,
    webhook_provider,
)
from mailer.feedback.webhooks.mailgun import MailgunWebhook

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "webhooks"
NOW = 1_770_920_800.0  # the clock every request is judged by
ISSUE = "2026-02-newsletter"


def fixture(provider: str, name: str) -> bytes:
    """A documented payload, byte for byte."""
    return (FIXTURES / provider / f"{name}.json").read_bytes()


def ours(payload: bytes, theirs: str, address: str) -> tuple[bytes, str]:
    """``payload`` with the provider's Message-ID ``theirs`` replaced by the one we send to
    ``address``, and that id."""
    mine = message_id_for(ISSUE, address, "iom.int")
    assert theirs.encode() in payload
    return payload.replace(theirs.encode(), mine.encode()), mine


def refused(provider: WebhookProvider, headers: dict[str, str], body: bytes) -> Unverified:
    """The Unverified that ``handle`` raises, checking that nothing was read."""
    def parse(body: bytes) -> None:
        raise AssertionError("a refused request was read")

    provider.parse = parse  # type: ignore[method-assign]
    with pytest.raises(Unverified) as refusal:
        provider.handle(headers, body, NOW)
    return refusal.value


# --- Mailgun ----------------------------------------------------------------------------------

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


@pytest.fixture
def mailgun() -> MailgunWebhook:
    return MailgunWebhook(MAILGUN_KEY)


@pytest.mark.parametrize(("name", "kind", "address", "event_id", "detail"), [
    ("failed-permanent", "bounced", "badrecipient@sample.mailgun.com", "2kFItcrLQuKTdp-Ia2Xr7w",
     "550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302). "
     "[BN3PEPF0000B36D.namprd21.prod.outlook.com 2026-02-12T17:42:55.527Z 08DE657A58651558]"),
    ("failed-temporary", "soft_bounce", "tempfailrecipient@sample.mailgun.com",
     "YusK9KhoTwe2C00iRxsEqQ", "421 Your IP (161.38.194.10) is temporary blacklisted by an "
     "anti-troyan rule, retry later and/or visit http://sample.mailgun.com/"),
    ("complained", "complained", "recipient@sample.mailgun.com", "rIVDlyk8SY-mJauQoYmNFA", ""),
    ("unsubscribed", "unsubscribed", "recipient@sample.mailgun.com", "89QcW8YuSv6lhSeN3n4qnA",
     ""),
])
def test_mailgun_documented_events(mailgun, name, kind, address, event_id, detail):
    parsed = mailgun.handle(*mailgun_request(fixture("mailgun", name)), NOW)
    assert parsed.ignored == 0
    [event] = parsed.events
    assert (event.kind, event.address, event.event_id, event.detail) == (
        kind, address, event_id, detail
    )
    assert event.source == "webhook:mailgun"
    # The documented messages were not sent by us: their Message-IDs are Mailgun's own.
    assert event.issue_id is None and event.message_id is None
    assert json.loads(event.raw) == json.loads(fixture("mailgun", name))
    assert event.occurred_at == json.loads(fixture("mailgun", name))["timestamp"]


def test_mailgun_names_the_issue_from_our_message_id(mailgun):
    payload, mine = ours(
        fixture("mailgun", "failed-permanent"), "20260212174255.58bbb7ce85a423e5@mailgun.com",
        "badrecipient@sample.mailgun.com",
    )
    [event] = mailgun.handle(*mailgun_request(payload), NOW).events
    assert (event.issue_id, event.message_id) == (ISSUE, mine)


def test_mailgun_ignores_deliveries(mailgun):
    parsed = mailgun.handle(*mailgun_request(fixture("mailgun", "delivered")), NOW)
    assert (parsed.events, parsed.ignored) == ([], 1)


def test_mailgun_exposes_the_token_for_the_caller_to_refuse_a_replay(mailgun):
    token = "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0"
    request = mailgun_request(fixture("mailgun", "complained"), token=token)
    first, again = mailgun.handle(*request, NOW), mailgun.handle(*request, NOW + 60)
    # The signature covers the timestamp and the token only: the same request verifies again
    # within the window, and only the caller, remembering the key, can refuse it.
    assert first.replay_key == again.replay_key == f"mailgun:{token}"
    other = mailgun.handle(*mailgun_request(fixture("mailgun", "complained")), NOW)
    assert other.replay_key != first.replay_key


def test_mailgun_refuses_a_wrong_key(mailgun):
    request = mailgun_request(fixture("mailgun", "failed-permanent"), key="another-key")
    assert refused(mailgun, *request).status == 403


@pytest.mark.parametrize("field", ["timestamp", "token", "signature"])
def test_mailgun_refuses_a_tampered_signature_block(mailgun, field):
    headers, body = mailgun_request(fixture("mailgun", "failed-permanent"))
    document = json.loads(body)
    value = document["signature"][field]
    document["signature"][field] = value[:-1] + ("1" if value[-1] != "1" else "2")
    assert refused(mailgun, headers, json.dumps(document).encode()).status == 403


@pytest.mark.parametrize("signature", [
    None, {}, {"timestamp": "1770920800", "token": "abc"}, "d2271d12", [],
])
def test_mailgun_refuses_a_body_without_its_signature(mailgun, signature):
    document = {"event-data": json.loads(fixture("mailgun", "failed-permanent"))}
    if signature is not None:
        document["signature"] = signature
    assert refused(mailgun, {}, json.dumps(document).encode()).status == 401


@pytest.mark.parametrize("age", [MAX_AGE_SECONDS + 1, -MAX_AGE_SECONDS - 1, NOW])
def test_mailgun_refuses_a_stale_or_future_timestamp(mailgun, age):
    request = mailgun_request(fixture("mailgun", "failed-permanent"), timestamp=NOW - age)
    refusal = refused(mailgun, *request)
    assert refusal.status == 403 and "minutes" in refusal.reason


def test_mailgun_accepts_a_timestamp_just_inside_the_window(mailgun):
    for age in (MAX_AGE_SECONDS - 1, -MAX_AGE_SECONDS + 1):
        request = mailgun_request(fixture("mailgun", "complained"), timestamp=NOW - age)
        assert len(mailgun.handle(*request, NOW).events) == 1


@pytest.mark.parametrize("event_data", [b"null", b"[]", b'"failed"'])
def test_mailgun_refuses_a_signed_body_without_event_data(mailgun, event_data):
    with pytest.raises(Unverified) as refusal:
        mailgun.handle(*mailgun_request(event_data), NOW)
    assert refusal.value.status == 400


def test_mailgun_refuses_a_bounce_without_a_recipient(mailgun):
    data = json.loads(fixture("mailgun", "failed-permanent"))
    del data["recipient"]
    with pytest.raises(Unverified) as refusal:
        mailgun.handle(*mailgun_request(json.dumps(data).encode()), NOW)
    assert refusal.value.status == 400 and "address" in refusal.value.reason


# --- What every provider does ------------------------------------------------------------------


def test_a_body_over_the_cap_is_refused_before_anything_else(mailgun):
    assert refused(mailgun, {}, b" " * (MAX_BODY_BYTES + 1)).status == 413


def test_malformed_json_is_a_bad_request(mailgun):
    assert refused(mailgun, {}, b'{"signature": {"timestamp": ').status == 400
    assert refused(mailgun, {}, b"\xff\xfe{}").status == 400
    assert refused(mailgun, {}, b"[" * 100_000).status == 400  # too deep for the decoder


# --- The registry -------------------------------------------------------------------------------

ENVIRONMENT = {"MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY}


@pytest.mark.parametrize("name", list(PROVIDERS))
def test_the_registry_builds_each_provider_from_the_environment(name):
    provider = webhook_provider(name, ENVIRONMENT)
    assert provider.name == name


@pytest.mark.parametrize("name", list(PROVIDERS))
def test_the_registry_names_each_missing_variable(name):
    for variable in webhook_provider(name, ENVIRONMENT).settings.values():
        environment = {k: v for k, v in ENVIRONMENT.items() if k != variable}
        with pytest.raises(MissingSecret, match=variable):
            webhook_provider(name, environment)
        with pytest.raises(MissingSecret, match=variable):
            webhook_provider(name, environment | {variable: ""})


def test_the_registry_refuses_an_unknown_provider():
    with pytest.raises(UsageError, match="mailgun"):
        webhook_provider("mandrill", ENVIRONMENT)
