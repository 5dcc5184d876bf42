"""The ESP transports against pytest-httpserver playing each provider's documented API.

One contract suite runs for every provider (success, 429 + Retry-After, 5xx, other 4xx with
the provider's message, bad key); per-provider tests assert the exact documented request.
"""

from __future__ import annotations

import base64
import json
from email.header import decode_header, make_header
from pathlib import Path

import pytest
from projects import new_project
from providers import (
    MAILGUN_BAD_TO,
    PROVIDERS,
    as_json,
    postmark_answer,
    recipients_of,
    request_size,
)
from pytest_httpserver import HTTPServer
from sending import make_project
from werkzeug import Request, Response

from mailer.audience.subscribers import Subscriber
from mailer.compose.issue import load
from mailer.delivery.campaign import Builder, Campaign, Policy
from mailer.delivery.ledger import Ledger
from mailer.delivery.message import MessageFactory, OutgoingMessage
from mailer.delivery.prepare import prepare
from mailer.delivery.transports import TransportFactory, esp, parse_transport
from mailer.delivery.transports.esp import EspRequest, retry_after
from mailer.errors import TransportError

# SendGrid's answer that names no field: the body gives no reason.
SENDGRID_BAD_REQUEST = {"errors": [{"message": "Bad Request", "field": None, "help": None}]}


@pytest.fixture(scope="module")
def factory(tmp_path_factory: pytest.TempPathFactory) -> MessageFactory:
    issue = make_project(tmp_path_factory.mktemp("esp"))
    return prepare(load(issue), real_send=False).factory


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for provider in PROVIDERS.values():
        monkeypatch.setenv(provider.secret_variable, f"key-{provider.scheme.split(':')[0]}")


def factory_for(name: str, server: HTTPServer, query: str = "") -> TransportFactory:
    """Transports for provider ``name`` that talk to ``server``."""
    provider = PROVIDERS[name]
    separator = "&" if "?" in provider.scheme + query else "?"
    endpoint = server.url_for("/").rstrip("/")
    return parse_transport(f"{provider.scheme}{query}{separator}endpoint={endpoint}", Path("."))


def open_transport(name: str, server: HTTPServer, query: str = ""):
    return factory_for(name, server, query)()


def messages(
    factory: MessageFactory, count: int, bad: frozenset[int] = frozenset()
) -> list[OutgoingMessage]:
    """``count`` messages; those at the positions in ``bad`` go to ``bad<n>@example.org``."""
    build = Builder(factory, needs_mime=False)
    readers = [Subscriber("first@example.org", name="Tom, Jr", first_name="Tom & <Jerry>")]
    readers += [
        Subscriber(f"{'bad' if n in bad else 'r'}{n}@example.org", first_name=f"R{n}")
        for n in range(1, count)
    ]
    return [build(reader) for reader in readers]


# -- the contract every provider keeps --------------------------------------------------------


@pytest.mark.parametrize("name", PROVIDERS)
def test_success_is_one_result_per_recipient(name, factory, httpserver: HTTPServer) -> None:
    provider = PROVIDERS[name]
    httpserver.expect_request(provider.path, method="POST").respond_with_response(
        provider.success(3)
    )
    transport = open_transport(name, httpserver)
    sent = messages(factory, 3)
    results = transport.send(sent)
    assert transport.max_batch == provider.max_batch
    assert [r.recipient for r in results] == [m.recipient for m in sent]
    assert [r.message_id for r in results] == [m.message_id for m in sent]
    assert {r.status for r in results} == {"queued"}
    assert all(r.provider_id for r in results)


@pytest.mark.parametrize("name", PROVIDERS)
def test_429_honours_retry_after(name, factory, httpserver: HTTPServer) -> None:
    httpserver.expect_request(PROVIDERS[name].path).respond_with_response(
        Response('{"message": "slow down"}', 429, headers={"Retry-After": "7"})
    )
    results = open_transport(name, httpserver).send(messages(factory, 2))
    assert [(r.status, r.retry_after) for r in results] == [("deferred", 7.0)] * 2
    assert "429" in results[0].detail


@pytest.mark.parametrize("name", PROVIDERS)
def test_5xx_is_deferred(name, factory, httpserver: HTTPServer) -> None:
    httpserver.expect_request(PROVIDERS[name].path).respond_with_data("upstream down", 503)
    results = open_transport(name, httpserver).send(messages(factory, 2))
    assert [r.status for r in results] == ["deferred", "deferred"]
    assert "upstream down" in results[0].detail


@pytest.mark.parametrize("name", PROVIDERS)
def test_a_refused_sender_stops_the_send_and_fails_nobody(
    name, factory, httpserver: HTTPServer, tmp_path
) -> None:
    provider = PROVIDERS[name]
    status, body = provider.sender_error
    httpserver.expect_request(provider.path).respond_with_json(body, status)
    with Ledger(tmp_path / "ledger.sqlite3") as ledger:
        campaign = Campaign(factory, ledger, factory_for(name, httpserver), Policy(concurrency=1))
        campaign.fill(Subscriber(f"r{n}@example.org") for n in range(40))
        with pytest.raises(TransportError) as caught:
            campaign.run()
        counts = ledger.counts(factory.content.issue_id)
    assert provider.sender_words in caught.value.provider_message
    assert caught.value.http_status == status
    assert len(httpserver.log) == 1  # no halving: the answer is the same whoever it goes to
    assert (counts.failed, counts.queued) == (0, 40)


def test_sendgrid_names_the_recipient_it_refuses(factory, httpserver: HTTPServer) -> None:
    provider = PROVIDERS["sendgrid"]

    def handler(request: Request) -> Response:
        recipients = recipients_of("sendgrid", request)
        refused = {"bad13@example.org", "bad31@example.org"} & set(recipients)
        return provider.refuse(recipients, refused) if refused else provider.success(1)

    httpserver.expect_request(provider.path).respond_with_handler(handler)
    sent = messages(factory, 40, bad=frozenset({13, 31}))
    exchanges = list(open_transport("sendgrid", httpserver).stream(sent))
    results = [result for exchange in exchanges for result in exchange]
    assert [r.recipient for r in results] == [m.recipient for m in sent]
    failed = {r.recipient: r.detail for r in results if r.status == "failed"}
    assert failed == {
        f"bad{n}@example.org": f"SendGrid HTTP 400: personalizations.{n}.to.0.email: Does not "
        "contain a valid address." for n in (13, 31)
    }
    assert {r.status for r in results if r.recipient not in failed} == {"queued"}
    # Both named at once; no halving: the rest goes again in one request, one exchange.
    assert len(httpserver.log) == 2 and len(exchanges) == 1
    assert len(recipients_of("sendgrid", httpserver.log[1][0])) == 38


def test_mailgun_halves_a_batch_refused_for_a_to_address(factory, httpserver) -> None:
    provider = PROVIDERS["mailgun"]

    def handler(request: Request) -> Response:
        recipients = recipients_of("mailgun", request)
        if "bad13@example.org" in recipients:
            return provider.refuse(recipients, {"bad13@example.org"})
        return provider.success(len(recipients))

    httpserver.expect_request(provider.path).respond_with_handler(handler)
    sent = messages(factory, 40, bad=frozenset({13}))
    results = open_transport("mailgun", httpserver).send(sent)
    assert [r.recipient for r in results] == [m.recipient for m in sent]
    (failed,) = [r for r in results if r.status == "failed"]
    assert failed.recipient == "bad13@example.org"
    assert failed.detail == f"Mailgun HTTP 400: {MAILGUN_BAD_TO}"
    assert {r.status for r in results if r is not failed} == {"queued"}
    assert len(httpserver.log) <= 1 + 2 * 6  # halving 40 down to 1 takes six splits


@pytest.mark.parametrize("status", [400, 413, 422])
@pytest.mark.parametrize("name", PROVIDERS)
def test_a_batch_refused_without_a_reason_is_halved_to_the_culprit(
    name, status, factory, httpserver: HTTPServer
) -> None:
    provider = PROVIDERS[name]

    def handler(request: Request) -> Response:
        if b"bad13@example.org" in request.get_data():
            return Response("Request Entity Too Large", status)  # a proxy's words, not JSON
        return provider.success(request_size(name, request))

    httpserver.expect_request(provider.path).respond_with_handler(handler)
    sent = messages(factory, 40, bad=frozenset({13}))
    results = open_transport(name, httpserver).send(sent)
    assert [r.recipient for r in results] == [m.recipient for m in sent]
    (failed,) = [r for r in results if r.status == "failed"]
    assert failed.recipient == "bad13@example.org"
    assert failed.detail.endswith(f" HTTP {status}: Request Entity Too Large")
    assert {r.status for r in results if r is not failed} == {"queued"}
    assert len(httpserver.log) <= 1 + 2 * 6


def test_splitting_a_rejected_batch_has_a_limit(factory, httpserver, monkeypatch) -> None:
    monkeypatch.setattr(esp, "MAX_SPLITS", 2)
    httpserver.expect_request("/v3/mail/send").respond_with_json(SENDGRID_BAD_REQUEST, 400)
    results = open_transport("sendgrid", httpserver).send(messages(factory, 8))
    assert len(httpserver.log) == 5
    # Not narrowed down to one reader: tried again later, in other batches, not failed.
    assert {r.status for r in results} == {"deferred"}
    assert "Bad Request" in results[0].detail and "for a batch of" in results[0].detail


def test_a_refused_key_after_an_accepted_half_keeps_that_half(factory, httpserver) -> None:
    answers = iter([
        Response(json.dumps(SENDGRID_BAD_REQUEST), 400),
        PROVIDERS["sendgrid"].success(2),
        Response(json.dumps(PROVIDERS["sendgrid"].sender_error[1]), 401),
    ])
    httpserver.expect_request("/v3/mail/send").respond_with_handler(lambda _: next(answers))
    exchanges = open_transport("sendgrid", httpserver).stream(messages(factory, 4))
    assert [r.status for r in next(exchanges)] == ["queued", "queued"]  # recorded first ...
    with pytest.raises(TransportError, match="HTTP 401"):  # ... then the send stops
        next(exchanges)


# -- the API key stays secret -------------------------------------------------------------------


@pytest.mark.parametrize("value", ["key\rsecret-part", "key secret-part", "key\nsecret-part",
                                   "keysecret-part\u00e9"])
@pytest.mark.parametrize("name", PROVIDERS)
def test_a_key_with_control_characters_is_refused_by_name(
    name, value, httpserver: HTTPServer, monkeypatch
) -> None:
    monkeypatch.setenv(PROVIDERS[name].secret_variable, value)
    with pytest.raises(TransportError) as caught:
        open_transport(name, httpserver)
    assert PROVIDERS[name].secret_variable in str(caught.value)
    assert "secret-part" not in str(caught.value)
    assert httpserver.log == []


def test_spaces_around_a_key_are_ignored(factory, httpserver, monkeypatch) -> None:
    monkeypatch.setenv("SENDGRID_API_KEY", " key-sendgrid\r\n")
    httpserver.expect_request(
        "/v3/mail/send", headers={"Authorization": "Bearer key-sendgrid"}
    ).respond_with_response(PROVIDERS["sendgrid"].success(1))
    (result,) = open_transport("sendgrid", httpserver).send(messages(factory, 1))
    assert result.status == "queued"


def test_an_invalid_header_stops_the_send_without_quoting_it(factory, httpserver) -> None:
    transport = open_transport("sendgrid", httpserver)
    transport.key = "key\r\nsecret-part"  # what the check at start would have refused
    with pytest.raises(TransportError, match="check SENDGRID_API_KEY") as caught:
        transport.send(messages(factory, 1))
    assert "secret-part" not in str(caught.value)


def test_a_key_the_provider_quotes_is_redacted(factory, httpserver: HTTPServer) -> None:
    error = {"errors": [{"message": "key key-sendgrid is not allowed here"}]}
    httpserver.expect_request("/v3/mail/send").respond_with_json(error, 400)
    (result,) = open_transport("sendgrid", httpserver).send(messages(factory, 1))
    assert result.detail == "SendGrid HTTP 400: key *** is not allowed here"
    httpserver.clear()
    httpserver.expect_request("/v3/mail/send").respond_with_json(error, 403)
    with pytest.raises(TransportError) as caught:
        open_transport("sendgrid", httpserver).send(messages(factory, 1))
    assert "key-sendgrid" not in str(caught.value)


def test_a_request_does_not_show_its_credentials() -> None:
    request = EspRequest("/x", headers={"Authorization": "Bearer k-1"}, auth=("api", "k-2"))
    assert "k-1" not in repr(request) and "k-2" not in repr(request)


@pytest.mark.parametrize("name", PROVIDERS)
def test_a_refused_key_stops_the_send(name, factory, httpserver: HTTPServer) -> None:
    provider = PROVIDERS[name]
    httpserver.expect_request(provider.path).respond_with_json(provider.sender_error[1], 401)
    with pytest.raises(TransportError) as caught:
        open_transport(name, httpserver).send(messages(factory, 1))
    assert caught.value.http_status == 401
    assert provider.sender_words in str(caught.value)
    assert caught.value.provider.lower() == name


@pytest.mark.parametrize("name", PROVIDERS)
def test_the_runner_uses_documented_batch_sizes(name, factory, httpserver, tmp_path) -> None:
    provider = PROVIDERS[name]
    sizes: list[int] = []

    def handler(request: Request) -> Response:
        count = request_size(name, request)
        sizes.append(count)
        return provider.success(count)

    httpserver.expect_request(provider.path).respond_with_handler(handler)
    total = provider.max_batch + 5
    with Ledger(tmp_path / "ledger.sqlite3") as ledger:
        campaign = Campaign(factory, ledger, factory_for(name, httpserver), Policy(concurrency=1))
        campaign.fill(Subscriber(f"r{n}@example.org") for n in range(total))
        summary = campaign.run()
    assert sorted(sizes, reverse=True) == [provider.max_batch, 5]
    assert summary.counts.sent == total


def test_retry_after_forms() -> None:
    assert retry_after({"Retry-After": "12"}) == 12.0
    assert retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:10 GMT"}, now=1445412480.0) == 10.0
    assert retry_after({"X-RateLimit-Reset": "1000000030"}, now=1000000000.0) == 30.0
    assert retry_after({}) is None


# -- the exact documented request of each provider -----------------------------------------


def test_sendgrid_request(factory, httpserver: HTTPServer) -> None:
    httpserver.expect_request(
        "/v3/mail/send", method="POST",
        headers={"Authorization": "Bearer key-sendgrid", "Content-Type": "application/json"},
    ).respond_with_response(PROVIDERS["sendgrid"].success(2))
    sent = messages(factory, 2)
    open_transport("sendgrid", httpserver).send(sent)
    body = httpserver.log[0][0].get_json()
    content = factory.content
    assert body["from"] == {"email": content.sender_address, "name": content.sender_name}
    assert body["reply_to"] == {"email": content.reply_to}
    assert body["subject"].startswith("News for -mf")
    text, html = body["content"]
    assert (text["type"], html["type"]) == ("text/plain", "text/html")
    assert "MFQX" not in html["value"] + text["value"] + body["subject"]
    assert body["headers"] == {
        "List-Id": content.list_id_header, "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    first = body["personalizations"][0]
    assert first["to"] == [{"email": "first@example.org", "name": '"Tom, Jr"'}]
    p = sent[0].personalisation
    assert first["headers"] == {
        "List-Unsubscribe": p.list_unsubscribe, "Message-ID": f"<{p.message_id}>",
    }
    assert first["custom_args"] == {"mailer_message_id": p.message_id}
    assert body["tracking_settings"] == {
        "click_tracking": {"enable": False, "enable_text": False},
        "open_tracking": {"enable": False},
        "subscription_tracking": {"enable": False},
        "ganalytics": {"enable": False},
    }
    # Filling the templates in as SendGrid would gives exactly what SMTP readers get.
    filled_html = html["value"]
    for tag, value in first["substitutions"].items():
        filled_html = filled_html.replace(tag, value)
    assert filled_html == content.html.fill(p.values)
    assert "Tom &amp; &lt;Jerry&gt;" in filled_html
    subject = body["subject"]
    for tag, value in first["substitutions"].items():
        subject = subject.replace(tag, value)
    assert subject == "News for Tom & <Jerry>"
    assert [a["content_id"] for a in body["attachments"]] == [
        i.content_id for i in content.images
    ]
    for attachment, image in zip(body["attachments"], content.images, strict=True):
        assert attachment["disposition"] == "inline"
        assert attachment["filename"] == image.filename  # photo.png, not the Content-ID
        assert attachment["type"] == image.mime_type
        assert f"cid:{image.content_id}" in html["value"]
        assert base64.b64decode(attachment["content"]) == image.path.read_bytes()


def test_mailgun_request(factory, httpserver: HTTPServer) -> None:
    auth = "Basic " + base64.b64encode(b"api:key-mailgun").decode()
    httpserver.expect_request(
        "/v3/mg.example.org/messages", method="POST", headers={"Authorization": auth}
    ).respond_with_response(PROVIDERS["mailgun"].success(2))
    sent = messages(factory, 2)
    open_transport("mailgun", httpserver).send(sent)
    request = httpserver.log[0][0]
    form = request.form
    content = factory.content
    assert form.getlist("to") == ['"Tom, Jr" <first@example.org>', "r1@example.org"]
    assert form["h:List-Unsubscribe"] == "%recipient.h:List-Unsubscribe%"
    assert form["h:Message-Id"] == "%recipient.h:Message-Id%"
    assert form["h:List-Id"] == content.list_id_header
    assert form["h:List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert form["h:Reply-To"] == content.reply_to
    tracking = ("o:tracking", "o:tracking-clicks", "o:tracking-opens")
    assert [form.getlist(option) for option in tracking] == [["no"]] * 3
    variables = json.loads(form["recipient-variables"])
    p = sent[0].personalisation
    first = variables["first@example.org"]
    assert first["h:Message-Id"] == f"<{p.message_id}>"
    assert first["h:List-Unsubscribe"] == p.list_unsubscribe
    html = form["html"]
    for key, value in first.items():
        html = html.replace(f"%recipient.{key}%", value)
    assert html == content.html.fill(p.values)
    inline = request.files.getlist("inline")
    assert [part.filename for part in inline] == [i.content_id for i in content.images]
    assert inline[0].read() == content.images[0].path.read_bytes()


def test_mailgun_region_and_domain(monkeypatch) -> None:
    monkeypatch.setenv("MAILGUN_API_KEY", "k")
    eu = parse_transport("mailgun://mg.example.org?region=eu", Path("."))()
    assert eu.endpoint == "https://api.eu.mailgun.net"
    with pytest.raises(Exception, match="name the sending domain"):
        parse_transport("mailgun://", Path("."))()
    with pytest.raises(Exception, match="region=mars is not one of us, eu"):
        parse_transport("mailgun://mg.example.org?region=mars", Path("."))()


def test_postmark_request_and_partial_failure(factory, httpserver: HTTPServer) -> None:
    answers = [
        {"ErrorCode": 0, "Message": "OK", "MessageID": "pm-1", "To": "first@example.org"},
        {"ErrorCode": 406, "Message": "You tried to send to a recipient that has been marked "
         "as inactive.", "To": "r1@example.org"},
        {"ErrorCode": 300, "Message": "Invalid 'To' address", "To": "r2@example.org"},
    ]
    httpserver.expect_request(
        "/email/batch", method="POST", headers={"X-Postmark-Server-Token": "key-postmark"},
    ).respond_with_json(answers)
    sent = messages(factory, 3)
    ok, inactive, invalid = open_transport("postmark", httpserver).send(sent)
    body = httpserver.log[0][0].get_json()
    first = body[0]
    p = sent[0].personalisation
    assert first["To"] == '"Tom, Jr" <first@example.org>'
    assert first["Subject"] == "News for Tom & <Jerry>"
    assert first["HtmlBody"] == factory.content.html.fill(p.values)
    assert first["MessageStream"] == "broadcast"
    assert (first["TrackOpens"], first["TrackLinks"]) == (False, "None")
    assert {"Name": "Message-ID", "Value": f"<{p.message_id}>"} in first["Headers"]
    assert first["Metadata"] == {"mailer_message_id": p.message_id}  # echoed by its webhooks
    assert {"Name": "List-Unsubscribe", "Value": p.list_unsubscribe} in first["Headers"]
    assert {"Name": "List-Id", "Value": factory.content.list_id_header} in first["Headers"]
    assert {"Name": "List-Unsubscribe-Post", "Value": "List-Unsubscribe=One-Click"} in (
        first["Headers"]
    )
    assert [(a["Name"], a["ContentID"], a["ContentType"]) for a in first["Attachments"]] == [
        (image.filename, f"cid:{image.content_id}", image.mime_type)
        for image in factory.content.images
    ]
    assert {"iom-logo.png", "photo.png"} <= {a["Name"] for a in first["Attachments"]}
    for image in factory.content.images:
        assert f'src="cid:{image.content_id}"' in first["HtmlBody"]
    assert (ok.status, ok.provider_id) == ("queued", "pm-1")
    assert (inactive.status, inactive.bounce) == ("failed", True)
    assert (invalid.status, invalid.bounce) == ("failed", False)
    assert "Invalid 'To' address" in invalid.detail


def test_postmark_refuses_messages_over_its_size_limit(factory, monkeypatch) -> None:
    from mailer.delivery.transports import postmark
    from mailer.errors import UnsupportedFeature

    monkeypatch.setattr(postmark, "MAX_MESSAGE_BYTES", 1000)
    with pytest.raises(UnsupportedFeature, match="Postmark takes messages of up to"):
        parse_transport("postmark://?endpoint=http://127.0.0.1:9", Path("."))().send(
            messages(factory, 1)
        )


def test_endpoint_must_be_http(factory) -> None:
    with pytest.raises(Exception, match="is not an http"):
        parse_transport("sendgrid://?endpoint=ftp://x", Path("."))()


def test_query_string_of_dsn_is_checked() -> None:
    with pytest.raises(Exception, match="unknown option colour"):
        parse_transport("postmark://?colour=red", Path("."))()


def test_postmark_success_without_an_error_code_is_accepted(factory, httpserver) -> None:
    # As Postmark answered in django-anymail issue #392: no ErrorCode, but a MessageID.
    delayed = {
        "Message": "Message accepted, but delivery may be delayed.",
        "MessageID": "38360f97-ff7f-44b2-bcd1-5ea94ff2af00",
        "SubmittedAt": "2024-08-05T02:03:37.0951168Z",
        "To": "first@example.org",
    }
    httpserver.expect_request("/email/batch").respond_with_json([delayed])
    (result,) = open_transport("postmark", httpserver).send(messages(factory, 1))
    assert (result.status, result.provider_id) == ("queued", delayed["MessageID"])
    assert "delivery may be delayed" in result.detail


# What Postmark says when the account or the sender may not send, per message or per request.
POSTMARK_ACCOUNT_REFUSALS = {
    400: PROVIDERS["postmark"].sender_words,
    401: "You are trying to send email with a From address that does not have a corresponding "
         "confirmed sender signature.",
    405: "Not allowed to send: you have run out of credits.",
    412: "While your account is pending approval, all recipient addresses must share the same "
         "domain as the 'From' address. The domain of the 'From' address is 'iom.int', but you "
         "are attempting to send email to the following domain: 'example.org'.",
    300: "Invalid 'From' address: 'newsletter@iom.int' is not a verified sender signature.",
}


@pytest.mark.parametrize("code", POSTMARK_ACCOUNT_REFUSALS)
def test_postmark_account_codes_per_message_stop_the_send(code, factory, httpserver) -> None:
    words = POSTMARK_ACCOUNT_REFUSALS[code]
    httpserver.expect_request("/email/batch").respond_with_json(
        [{"ErrorCode": code, "Message": words}] * 3
    )
    exchanges = open_transport("postmark", httpserver).stream(messages(factory, 3))
    with pytest.raises(TransportError) as caught:
        next(exchanges)  # nothing was accepted: nothing to record, nobody failed
    assert (caught.value.provider, caught.value.provider_message) == ("Postmark", words)


def test_postmark_request_level_account_code_stops_the_send(factory, httpserver) -> None:
    words = POSTMARK_ACCOUNT_REFUSALS[405]
    httpserver.expect_request("/email/batch").respond_with_json(
        {"ErrorCode": 405, "Message": words}, 422
    )
    with pytest.raises(TransportError) as caught:
        open_transport("postmark", httpserver).send(messages(factory, 3))
    assert (caught.value.provider_message, caught.value.http_status) == (words, 422)
    assert len(httpserver.log) == 1


def test_postmark_pending_account_keeps_what_it_accepted(factory, httpserver, tmp_path) -> None:
    """A pending account sends to its own domain only: those are recorded as sent, the others
    wait for the account to be approved, and the send stops."""

    def handler(request: Request) -> Response:
        return as_json([
            postmark_answer(n, to) if to.endswith("@iom.int")
            else {"ErrorCode": 412, "Message": POSTMARK_ACCOUNT_REFUSALS[412]}
            for n, to in enumerate(recipients_of("postmark", request))
        ])

    httpserver.expect_request("/email/batch").respond_with_handler(handler)
    readers = ["staff1@iom.int", "r1@example.org", "staff2@iom.int"]
    with Ledger(tmp_path / "ledger.sqlite3") as ledger:
        campaign = Campaign(factory, ledger, factory_for("postmark", httpserver), Policy())
        campaign.fill(Subscriber(address) for address in readers)
        with pytest.raises(TransportError, match="pending approval"):
            campaign.run()
        counts = ledger.counts(factory.content.issue_id)
    assert (counts.sent, counts.deferred, counts.failed) == (2, 1, 0)


@pytest.fixture(scope="module")
def turkish_factory(tmp_path_factory: pytest.TempPathFactory) -> MessageFactory:
    """A project whose list name is not ASCII."""
    issue = make_project(tmp_path_factory.mktemp("esp-tr"))
    settings = issue.parents[1] / "mailer.toml"
    text = settings.read_text(encoding="utf-8")
    text = text.replace('name = "IOM Turkey Newsletter"', 'name = "IOM Türkiye Bülteni"')
    settings.write_text(text, encoding="utf-8")
    return prepare(load(issue), real_send=False).factory


def sent_headers(name: str, request: Request) -> dict[str, str]:
    """The custom headers one request to provider ``name`` asks for, shared ones first."""
    if name == "postmark":
        return {h["Name"]: h["Value"] for h in request.get_json()[0]["Headers"]}
    if name == "sendgrid":
        body = request.get_json()
        return {**body["headers"], **body["personalizations"][0]["headers"]}
    return {key[2:]: value for key, value in request.form.items() if key.startswith("h:")}


@pytest.mark.parametrize("name", PROVIDERS)
def test_a_non_ascii_list_name_is_sent_as_encoded_words(
    name, turkish_factory, httpserver: HTTPServer
) -> None:
    provider = PROVIDERS[name]
    httpserver.expect_request(provider.path).respond_with_response(provider.success(1))
    open_transport(name, httpserver).send(messages(turkish_factory, 1))
    headers = sent_headers(name, httpserver.log[0][0])
    list_id = headers["List-Id"]
    assert list_id.startswith("=?utf-8?b?") and list_id.endswith(" <newsletter.turkiye.iom.int>")
    assert str(make_header(decode_header(list_id))) == (
        "IOM Türkiye Bülteni <newsletter.turkiye.iom.int>"
    )
    # Exactly what the SMTP message's own List-Id line holds.
    assert list_id == turkish_factory.content.list_id_header
    assert all(value.isascii() for value in headers.values()), headers


ARABIC = "تقدم المنظمة الدولية للهجرة المساعدة للمهاجرين واللاجئين في جميع أنحاء تركيا. " * 40


@pytest.fixture(scope="module")
def arabic_factory(tmp_path_factory: pytest.TempPathFactory) -> MessageFactory:
    """An issue whose text is mostly Arabic: JSON writes each letter as a six-byte \\uXXXX."""
    project = new_project(tmp_path_factory.mktemp("esp-ar"), photo_size=(60, 40))
    issue = project.write_issue(f"""
        id: arabic
        subject: النشرة الإخبارية
        lead:
          title: النشرة الإخبارية
          image: {{src: assets/photo.png, alt: "صورة"}}
          body: {ARABIC}
        """)
    return prepare(load(issue), real_send=False).factory


def test_postmark_batches_fit_its_request_limit_as_json_measures(
    arabic_factory, httpserver: HTTPServer, monkeypatch
) -> None:
    from mailer.delivery.transports import postmark

    sizes: list[int] = []

    def handler(request: Request) -> Response:
        sizes.append(len(request.get_data()))
        return PROVIDERS["postmark"].success(request_size("postmark", request))

    httpserver.expect_request("/email/batch").respond_with_handler(handler)
    sent = messages(arabic_factory, 10)
    one = len(json.dumps(open_transport("postmark", httpserver).build_request(
        arabic_factory.content, sent[1:2]).json))
    assert one > 2.5 * len(ARABIC.encode())  # escaped, far more than its UTF-8 bytes
    limit = 3 * one + 100  # room for three messages a request, not four
    monkeypatch.setattr(postmark, "MAX_REQUEST_BYTES", limit)
    results = open_transport("postmark", httpserver).send(sent)
    assert {r.status for r in results} == {"queued"}
    assert max(sizes) <= limit
    assert len(sizes) == 4  # 3 + 3 + 3 + 1
