"""The providers' webhooks, fed the payloads each provider documents (tests/fixtures/webhooks),
signed for real: verified, then read into FeedbackEvents; refused with the right status, and
nothing read, when anything about the request is wrong."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from webhook_requests import (
    MAILGUN_KEY,
    NOW,
    POSTMARK_PASSWORD,
    POSTMARK_USER,
    SENDGRID_KEY,
    fixture,
    mailgun_request,
    postmark_request,
    public_key_text,
    sendgrid_request,
)

from mailer.credentials import SECRET_VARIABLES
from mailer.delivery.message_ids import message_id_for
from mailer.errors import MissingSecret, UsageError
from mailer.feedback.webhooks import (
    MAX_AGE_SECONDS,
    MAX_BODY_BYTES,
    PROVIDERS,
    Unverified,
    WebhookProvider,
    provider_class,
    webhook_provider,
)
from mailer.feedback.webhooks.mailgun import MailgunWebhook
from mailer.feedback.webhooks.postmark import PostmarkWebhook
from mailer.feedback.webhooks.sendgrid import PUBLIC_KEY, SIGNATURE, TIMESTAMP, SendGridWebhook

ISSUE = "2026-02-newsletter"


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


# --- SendGrid ---------------------------------------------------------------------------------


@pytest.fixture
def sendgrid() -> SendGridWebhook:
    return SendGridWebhook(public_key_text(SENDGRID_KEY))


@pytest.mark.parametrize(("name", "kind", "event_id", "detail"), [
    ("bounce", "bounced", "6g4ZI7SA-xmRDv57GoPIPw==", "500 unknown recipient (status 5.0.0)"),
    ("blocked", "soft_bounce", "6g4ZI7SA-xmRDv57GoPIPw==",
     "500 unknown recipient (status 5.0.0)"),
    ("dropped", "bounced", "zmzJhfJgAfUSOW80yEbPyw==", "Bounced Address (status 5.0.0)"),
    ("deferred", "soft_bounce", "t7LEShmowp86DTdUW8M-GQ==", "400 try again later"),
    ("spamreport", "complained", "37nvH5QBz858KGVYCM4uOA==", ""),
    ("unsubscribe", "unsubscribed", "zz_BjPgU_5pS-J8vlfB1sg==", ""),
    ("group_unsubscribe", "unsubscribed", "ahSCB7xYcXFb-hEaawsPRw==", ""),
])
def test_sendgrid_documented_events(sendgrid, name, kind, event_id, detail):
    parsed = sendgrid.handle(*sendgrid_request(fixture("sendgrid", name)), NOW)
    assert parsed.ignored == 0 and parsed.replay_key is None
    [event] = parsed.events
    assert (event.kind, event.address, event.event_id, event.detail) == (
        kind, "example@test.com", event_id, detail
    )
    assert event.source == "webhook:sendgrid" and event.occurred_at == 1513299569
    assert event.issue_id is None and event.message_id is None  # no custom argument of ours
    assert [json.loads(event.raw)] == json.loads(fixture("sendgrid", name))


@pytest.mark.parametrize(
    "name", ["processed", "delivered", "open", "click", "group_resubscribe"]
)
def test_sendgrid_ignores_what_suppresses_nobody(sendgrid, name):
    parsed = sendgrid.handle(*sendgrid_request(fixture("sendgrid", name)), NOW)
    assert (parsed.events, parsed.ignored) == ([], 1)


@pytest.mark.parametrize(("reason", "kind"), [
    ("Unsubscribed Address", "unsubscribed"),
    ("Spam Reporting Address", "complained"),
    ("Invalid SMTPAPI header", None),  # about the message, not the reader
    ("Spam Content (if Spam Checker app is enabled)", None),
    ("Recipient List over Package Quota", None),
])
def test_sendgrid_drops_become_the_suppression_they_come_from(sendgrid, reason, kind):
    body = fixture("sendgrid", "dropped").replace(b"Bounced Address", reason.encode())
    parsed = sendgrid.handle(*sendgrid_request(body), NOW)
    assert [event.kind for event in parsed.events] == ([kind] if kind else [])


def test_sendgrid_names_the_issue_from_our_custom_argument(sendgrid):
    mine = message_id_for(ISSUE, "example@test.com", "iom.int")
    # As SendGrid adds a personalization's custom_args to its events: one more top-level key.
    body = fixture("sendgrid", "bounce").replace(
        b'"event":"bounce",', b'"event":"bounce",\n      "mailer_message_id":"%s",' % mine.encode()
    )
    [event] = sendgrid.handle(*sendgrid_request(body), NOW).events
    assert (event.issue_id, event.message_id) == (ISSUE, mine)


def test_sendgrid_reads_a_batch_of_a_thousand_events(sendgrid):
    documented = [json.loads(fixture("sendgrid", name))[0] for name in (
        "bounce", "dropped", "deferred", "spamreport", "unsubscribe", "delivered", "open",
        "click", "processed", "blocked",
    )]
    batch = [
        event | {"sg_event_id": f"{n:022d}==", "email": f"reader{n}@example.org"}
        for n, event in zip(range(1000), documented * 100, strict=True)
    ]
    parsed = sendgrid.handle(*sendgrid_request(json.dumps(batch).encode()), NOW)
    assert (len(parsed.events), parsed.ignored) == (600, 400)
    assert len({event.event_id for event in parsed.events}) == 600
    assert parsed.events[-1].address == "reader999@example.org"


def test_sendgrid_accepts_header_names_in_any_case(sendgrid):
    headers, body = sendgrid_request(fixture("sendgrid", "bounce"))
    lower = {name.lower(): value for name, value in headers.items()}
    assert len(sendgrid.handle(lower, body, NOW).events) == 1


def test_sendgrid_refuses_a_signature_by_another_key(sendgrid):
    other = ec.generate_private_key(ec.SECP256R1())
    request = sendgrid_request(fixture("sendgrid", "bounce"), key=other)
    assert refused(sendgrid, *request).status == 403


def test_sendgrid_refuses_a_tampered_body(sendgrid):
    headers, body = sendgrid_request(fixture("sendgrid", "dropped"))
    tampered = body.replace(b"Bounced Address", b"Bounced Addresz")
    assert refused(sendgrid, headers, tampered).status == 403
    assert refused(sendgrid, headers, body + b" ").status == 403


def test_sendgrid_refuses_a_timestamp_other_than_the_signed_one(sendgrid):
    headers, body = sendgrid_request(fixture("sendgrid", "bounce"))
    assert refused(sendgrid, headers | {TIMESTAMP: str(int(NOW) + 1)}, body).status == 403


@pytest.mark.parametrize("signature", ["not base64!", "AAAA", "", "MEUCIQ=="])
def test_sendgrid_refuses_a_signature_that_is_not_one(sendgrid, signature):
    headers, body = sendgrid_request(fixture("sendgrid", "bounce"))
    status = 401 if not signature else 403
    assert refused(sendgrid, headers | {SIGNATURE: signature}, body).status == status


@pytest.mark.parametrize("missing", [SIGNATURE, TIMESTAMP])
def test_sendgrid_refuses_a_request_without_its_headers(sendgrid, missing):
    headers, body = sendgrid_request(fixture("sendgrid", "bounce"))
    del headers[missing]
    refusal = refused(sendgrid, headers, body)
    assert refusal.status == 401 and missing in refusal.reason


@pytest.mark.parametrize("age", [MAX_AGE_SECONDS + 1, -MAX_AGE_SECONDS - 1])
def test_sendgrid_refuses_a_stale_or_future_timestamp(sendgrid, age):
    request = sendgrid_request(fixture("sendgrid", "bounce"), timestamp=NOW - age)
    assert refused(sendgrid, *request).status == 403


@pytest.mark.parametrize("body", [
    b'{"email": "example@test.com", "event": "bounce"}',  # an object, not an array
    b'["bounce"]',
    b'[{"email": "example@test.com", "event": "bounce"}]',  # no sg_event_id
    b'[{"sg_event_id": "x", "event": "spamreport"}]',  # no email
])
def test_sendgrid_refuses_a_signed_body_it_cannot_read(sendgrid, body):
    with pytest.raises(Unverified) as refusal:
        sendgrid.handle(*sendgrid_request(body), NOW)
    assert refusal.value.status == 400


@pytest.mark.parametrize("key", [
    "not a key", "", public_key_text(rsa.generate_private_key(65537, 2048)),
    public_key_text(SENDGRID_KEY)[:-8],
], ids=["not a key", "empty", "an RSA key", "a cut EC key"])  # ids the same on every xdist worker
def test_sendgrid_needs_an_elliptic_curve_public_key(key):
    with pytest.raises(MissingSecret, match=PUBLIC_KEY):
        SendGridWebhook(key)


def test_sendgrid_takes_the_key_with_line_breaks_as_copied():
    text = public_key_text(SENDGRID_KEY)
    assert SendGridWebhook("\n".join([text[:40], text[40:], ""]))


# --- Postmark ---------------------------------------------------------------------------------

@pytest.fixture
def postmark() -> PostmarkWebhook:
    return PostmarkWebhook(POSTMARK_USER, POSTMARK_PASSWORD)


@pytest.mark.parametrize(("name", "kind", "address", "event_id", "detail", "when"), [
    ("bounce", "bounced", "john@example.com", "4323372036854775807",
     "Hard bounce: Test bounce details", 1572971634.907025),
    ("spam-complaint", "complained", "john@example.com", "42",
     "Spam complaint: Test spam complaint details", 1572971634.907025),
    ("subscription-change", "bounced", "bounced-address@wildbit.com",
     # No id of its own: one made of what tells it apart (kept as it is: it de-duplicates).
     "01911a68623a9ed1edf61d30cec824fe", "suppressed: HardBounce (origin: Recipient)",
     1580554414.416071),
])
def test_postmark_documented_events(postmark, name, kind, address, event_id, detail, when):
    parsed = postmark.handle(*postmark_request(fixture("postmark", name)), NOW)
    assert parsed.ignored == 0 and parsed.replay_key is None
    [event] = parsed.events
    assert (event.kind, event.address, event.event_id, event.detail) == (
        kind, address, event_id, detail
    )
    assert event.source == "webhook:postmark" and event.occurred_at == pytest.approx(when)
    # Postmark's MessageID is its own, and the documented Metadata holds none of ours.
    assert event.issue_id is None and event.message_id is None
    assert json.loads(event.raw) == json.loads(fixture("postmark", name))


def test_postmark_ignores_deliveries(postmark):
    parsed = postmark.handle(*postmark_request(fixture("postmark", "delivery")), NOW)
    assert (parsed.events, parsed.ignored) == ([], 1)


@pytest.mark.parametrize(("bounce_type", "kind"), [
    ("HardBounce", "bounced"), ("BadEmailAddress", "bounced"),
    ("SpamComplaint", "complained"),
    ("Unsubscribe", "unsubscribed"), ("ManuallyDeactivated", "unsubscribed"),
    ("Transient", "soft_bounce"), ("SoftBounce", "soft_bounce"), ("DnsError", "soft_bounce"),
    ("Blocked", "soft_bounce"), ("SpamNotification", "soft_bounce"), ("Unknown", "soft_bounce"),
    ("AutoResponder", None), ("AddressChange", None), ("Subscribe", None),
    ("ChallengeVerification", None), ("OpenRelayTest", None), ("Unconfirmed", None),
    ("VirusNotification", None), ("DMARCPolicy", None), ("SMTPApiError", None),
    ("InboundError", None), ("TemplateRenderingFailed", None), ("SomethingNew", None),
])
def test_postmark_bounce_types(postmark, bounce_type, kind):
    body = fixture("postmark", "bounce").replace(b'"HardBounce"', f'"{bounce_type}"'.encode())
    parsed = postmark.handle(*postmark_request(body), NOW)
    assert [event.kind for event in parsed.events] == ([kind] if kind else [])
    assert parsed.ignored == (0 if kind else 1)


@pytest.mark.parametrize(("reason", "kind"), [
    ("SpamComplaint", "complained"), ("ManualSuppression", "unsubscribed"),
    ("HardBounce", "bounced"),
])
def test_postmark_subscription_changes_suppress_for_their_reason(postmark, reason, kind):
    body = fixture("postmark", "subscription-change").replace(b"HardBounce", reason.encode())
    [event] = postmark.handle(*postmark_request(body), NOW).events
    assert event.kind == kind


def test_postmark_reactivation_is_ignored(postmark):
    body = fixture("postmark", "subscription-change").replace(
        b'"SuppressSending": true', b'"SuppressSending": false'
    ).replace(b'"HardBounce"', b"null")
    parsed = postmark.handle(*postmark_request(body), NOW)
    assert (parsed.events, parsed.ignored) == ([], 1)


def test_postmark_subscription_change_id_is_stable_and_tells_changes_apart(postmark):
    def event_id(body: bytes) -> str:
        return postmark.handle(*postmark_request(body), NOW).events[0].event_id

    documented = fixture("postmark", "subscription-change")
    assert event_id(documented) == event_id(documented)  # sent again: the same event
    later = documented.replace(b"10:53:34.416071Z", b"11:53:34.416071Z")
    other = documented.replace(b"bounced-address@", b"someone-else@")
    assert len({event_id(documented), event_id(later), event_id(other)}) == 3


def test_postmark_names_the_issue_from_our_metadata(postmark):
    mine = message_id_for(ISSUE, "john@example.com", "iom.int")
    body = fixture("postmark", "bounce").replace(
        b'"a_key" : "a_value"', b'"mailer_message_id": "%s"' % mine.encode()
    )
    [event] = postmark.handle(*postmark_request(body), NOW).events
    assert (event.issue_id, event.message_id) == (ISSUE, mine)


@pytest.mark.parametrize("authorization", [
    None,
    "",
    "Basic " + base64.b64encode(f"{POSTMARK_USER}:wrong".encode()).decode(),
    "Basic " + base64.b64encode(f"other:{POSTMARK_PASSWORD}".encode()).decode(),
    "Basic " + base64.b64encode(f"{POSTMARK_USER}:{POSTMARK_PASSWORD} ".encode()).decode(),
    "Basic " + base64.b64encode(POSTMARK_USER.encode()).decode(),  # no colon
    "Basic " + base64.b64encode(b"postmark:\xff").decode(),  # not UTF-8
    "Basic not base64!",
    "Bearer " + base64.b64encode(f"{POSTMARK_USER}:{POSTMARK_PASSWORD}".encode()).decode(),
])
def test_postmark_refuses_missing_or_wrong_credentials_with_a_challenge(postmark, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    refusal = refused(postmark, headers, fixture("postmark", "bounce"))
    assert refusal.status == 401
    assert refusal.headers["WWW-Authenticate"].startswith("Basic ")
    assert POSTMARK_PASSWORD not in refusal.reason


def test_postmark_accepts_the_header_in_any_case(postmark):
    headers, body = postmark_request(fixture("postmark", "bounce"))
    assert len(postmark.handle({"authorization": headers["Authorization"]}, body, NOW).events) == 1


@pytest.mark.parametrize("body", [b"[]", b'"Bounce"', b'{"RecordType": "Bounce", '
                                  b'"Type": "HardBounce", "ID": 1}'])
def test_postmark_refuses_an_authenticated_body_it_cannot_read(postmark, body):
    with pytest.raises(Unverified) as refusal:
        postmark.handle(*postmark_request(body), NOW)
    assert refusal.value.status == 400


# --- What every provider does ------------------------------------------------------------------

ENVIRONMENT = {
    "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY,
    "SENDGRID_WEBHOOK_PUBLIC_KEY": public_key_text(SENDGRID_KEY),
    "MAILER_WEBHOOK_USER": POSTMARK_USER,
    "MAILER_WEBHOOK_PASSWORD": POSTMARK_PASSWORD,
}


def with_credentials(name: str, body: bytes) -> tuple[dict[str, str], bytes]:
    """``body`` as the provider ``name`` would send it. Mailgun's signature is inside the body,
    so a body that is not Mailgun's JSON goes as it is."""
    if name == "sendgrid":
        return sendgrid_request(body)
    if name == "postmark":
        return postmark_request(body)
    return {}, body


@pytest.mark.parametrize("name", list(PROVIDERS))
def test_a_body_over_the_cap_is_refused_before_anything_else(name):
    provider = webhook_provider(name, ENVIRONMENT)
    refusal = refused(provider, *with_credentials(name, b" " * (MAX_BODY_BYTES + 1)))
    assert refusal.status == 413


@pytest.mark.parametrize("name", list(PROVIDERS))
@pytest.mark.parametrize("body", [
    b'{"signature": {"timestamp": ', b"\xff\xfe{}", b"", b"[" * 100_000,  # too deep to decode
])
def test_malformed_json_is_a_bad_request(name, body):
    provider = webhook_provider(name, ENVIRONMENT)
    with pytest.raises(Unverified) as refusal:
        provider.handle(*with_credentials(name, body), NOW)
    assert refusal.value.status == 400


# --- The registry -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(PROVIDERS))
def test_the_registry_builds_each_provider_from_the_environment(name):
    provider = webhook_provider(name, ENVIRONMENT)
    assert provider.name == name and type(provider) is provider_class(name)


def test_every_webhook_secret_is_redacted_from_output():
    variables = {v for name in PROVIDERS for v in provider_class(name).settings.values()}
    assert variables - set(SECRET_VARIABLES) == {"MAILER_WEBHOOK_USER"}  # a name, not a secret


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
