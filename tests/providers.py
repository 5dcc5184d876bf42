"""The three ESPs as pytest-httpserver plays them: paths, answers and error bodies as each
provider documents them, how to read the recipients out of a request, and the suppression
lists each keeps (:class:`SuppressionLists`)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

SENDGRID_HELP = "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html"
MAILGUN_BAD_TO = "'to' parameter is not a valid address. please check documentation"
POSTMARK_INACTIVE = (
    "You tried to send to a recipient that has been marked as inactive.\nFound inactive "
    "addresses: {to}.\nInactive recipients are ones that have generated a hard bounce or a spam "
    "complaint. "
)


@dataclass(frozen=True)
class Provider:
    scheme: str  # the DSN without endpoint
    secret_variable: str
    path: str
    max_batch: int  # recipients a request: the API's documented limit, or less where we chose
    success: Callable[[int], Response]  # for a request of n messages
    # The status and body refusing the sender (newsletter@iom.int), whoever the recipients are.
    sender_error: tuple[int, dict]
    # The answer to a request for ``recipients`` when those in ``refused`` are refused for good.
    refuse: Callable[[list[str], Collection[str]], Response]
    # The read-only call that checks the key before a send, its 200 answer and its answer to a
    # key it does not accept, as each provider documents them.
    check_path: str = ""
    check_answer: object = None
    key_refused: tuple[int, object] = (401, None)

    @property
    def sender_words(self) -> str:
        """What the provider's sender error says, as it appears in a TransportError."""
        body = self.sender_error[1]
        if "errors" in body:
            return body["errors"][0]["message"]
        return body.get("Message") or body["message"]


def as_json(body: object, status: int = 200) -> Response:
    return Response(json.dumps(body), status, content_type="application/json")


def postmark_answer(n: int, recipient: str, code: int = 0) -> dict:
    """Postmark's answer for the n-th message of a batch: accepted, or refused with ``code``."""
    if code == 0:
        return {"ErrorCode": 0, "Message": "OK", "MessageID": f"pm-{n}", "To": recipient,
                "SubmittedAt": "2026-11-28T09:00:00.0000000Z"}
    words = {406: POSTMARK_INACTIVE.format(to=recipient), 429: "Rate limit exceeded"}[code]
    return {"ErrorCode": code, "Message": words}


def _sendgrid_refusal(recipients: list[str], refused: Collection[str]) -> Response:
    return as_json({"errors": [
        {"message": "Does not contain a valid address.",
         "field": f"personalizations.{n}.to.0.email",
         "help": f"{SENDGRID_HELP}#message.personalizations.to"}
        for n, recipient in enumerate(recipients) if recipient in refused
    ]}, 400)


def _postmark_refusal(recipients: list[str], refused: Collection[str]) -> Response:
    return as_json([
        postmark_answer(n, r, 406 if r in refused else 0) for n, r in enumerate(recipients)
    ])


PROVIDERS = {
    "sendgrid": Provider(
        "sendgrid://", "SENDGRID_API_KEY", "/v3/mail/send", 1000,
        lambda n: Response("", 202, headers={"X-Message-Id": "sg-batch-1"}),
        (400, {"errors": [{"message": "The from email does not contain a valid address.",
                           "field": "from.email", "help": f"{SENDGRID_HELP}#message.from"}]}),
        _sendgrid_refusal,
        check_path="/v3/scopes",
        check_answer={"scopes": ["mail.send", "suppression.read"]},
        key_refused=(401, {"errors": [{"field": None, "message": "authorization required"}]}),
    ),
    "mailgun": Provider(
        # 500 of the 1,000 Mailgun takes: a worker holds its batch in memory.
        "mailgun://mg.example.org", "MAILGUN_API_KEY", "/v3/mg.example.org/messages", 500,
        lambda n: as_json({"id": "<mg-batch-1@mg.example.org>", "message": "Queued. Thank you."}),
        (400, {"message": "'from' parameter is not a valid address. please check documentation"}),
        lambda recipients, refused: as_json({"message": MAILGUN_BAD_TO}, 400),
        check_path="/v3/domains/mg.example.org",
        check_answer={
            "domain": {"name": "mg.example.org", "state": "active", "type": "custom"},
            "receiving_dns_records": [], "sending_dns_records": [],
        },
        key_refused=(401, "Forbidden"),
    ),
    "postmark": Provider(
        "postmark://", "POSTMARK_SERVER_TOKEN", "/email/batch", 500,
        lambda n: as_json([postmark_answer(i, "x") for i in range(n)]),
        (422, {"ErrorCode": 400, "Message": (
            "The 'From' address you supplied (newsletter@iom.int) is not a Sender Signature on "
            "your account. Please add and confirm this address in order to be able to use it in "
            "the 'From' field of your messages.")}),
        _postmark_refusal,
        check_path="/server",
        check_answer={"ID": 1, "Name": "Newsletter", "DeliveryType": "Live"},
        key_refused=(401, {"ErrorCode": 10, "Message": "Bad or missing API token"}),
    ),
}


def answer_key_checks(server: HTTPServer, name: str) -> None:
    """``server`` accepts the key of provider ``name`` as the provider documents it."""
    provider = PROVIDERS[name]
    server.expect_request(provider.check_path, method="GET").respond_with_json(
        provider.check_answer
    )


def request_size(name: str, request: Request) -> int:
    """How many messages one request to provider ``name`` carries."""
    if name == "postmark":
        return len(request.get_json())
    if name == "sendgrid":
        return len(request.get_json()["personalizations"])
    # werkzeug refuses forms of over 1,000 parts: count the raw "to" parts instead.
    return request.get_data().count(b'name="to"')


def recipients_of(name: str, request: Request) -> list[str]:
    """The recipient addresses one request to provider ``name`` carries, in order."""
    if name == "postmark":
        return [message["To"].rpartition("<")[2].rstrip(">") for message in request.get_json()]
    if name == "sendgrid":
        return [p["to"][0]["email"] for p in request.get_json()["personalizations"]]
    variables = json.loads(request.form["recipient-variables"])
    return list(variables)


# -- the suppression lists each ESP keeps, and serves as it documents -----------------------------


@dataclass(frozen=True)
class Suppressed:
    """One entry of an ESP's suppression lists."""

    kind: str  # "unsubscribed", "bounced", "complained"; "group": SendGrid's group unsubscribe
    address: str
    created: int  # epoch seconds
    reason: str = ""  # a bounce's words


MAILGUN_LISTS = {"unsubscribes": "unsubscribed", "bounces": "bounced", "complaints": "complained"}
SENDGRID_LISTS = {"unsubscribes": "unsubscribed", "bounces": "bounced",
                  "spam_reports": "complained"}
POSTMARK_REASONS = {"unsubscribed": "ManualSuppression", "bounced": "HardBounce",
                    "complained": "SpamComplaint"}
SUPPRESSION_PATHS = {
    "mailgun": "/v3/mg.example.org/", "sendgrid": "/v3/", "postmark": "/message-streams/",
}


def _utc(created: int) -> datetime:
    return datetime.fromtimestamp(created, UTC)


class SuppressionLists:
    """pytest-httpserver as an ESP's suppression API: each list paged as the provider pages it
    (Mailgun: ``limit`` and ``paging.next`` links, then an empty page; SendGrid: ``limit`` and
    ``offset``; Postmark: the whole dump at once). ``entries`` may change between requests."""

    def __init__(self, name: str, server: HTTPServer, entries: list[Suppressed],
                 group: int | None = None) -> None:
        self.name = name
        self.server = server
        self.entries = entries
        self.group = group
        self.pages: list[str] = []  # the path of each page asked for
        self.failure: Response | None = None  # answered to every request instead, when set
        self.unsubscribe_tracking = True  # Mailgun: the domain's setting
        prefix = SUPPRESSION_PATHS[name]
        server.expect_request(re.compile(re.escape(prefix) + ".*"), method="GET") \
            .respond_with_handler(self.answer)
        if name == "mailgun":
            server.expect_request("/v3/domains/mg.example.org/tracking", method="GET") \
                .respond_with_handler(self._mailgun_tracking)

    def of(self, kind: str) -> list[Suppressed]:
        return [entry for entry in self.entries if entry.kind == kind]

    def answer(self, request: Request) -> Response:
        self.pages.append(request.path)
        if self.failure is not None:
            return self.failure
        if self.name == "mailgun":
            return self._mailgun(request)
        if self.name == "sendgrid":
            return self._sendgrid(request)
        return self._postmark(request)

    def _mailgun_tracking(self, request: Request) -> Response:
        if self.failure is not None:
            return self.failure
        return as_json({"tracking": {
            "open": {"active": False}, "click": {"active": False},
            "unsubscribe": {"active": self.unsubscribe_tracking, "html_footer": "",
                            "text_footer": ""},
            "web_scheme": "https",
        }})

    def _mailgun(self, request: Request) -> Response:
        listed = request.path.rsplit("/", 1)[1]
        entries = sorted(self.of(MAILGUN_LISTS[listed]), key=lambda e: e.address)
        limit = int(request.args.get("limit", 100))
        after = request.args.get("address") if request.args.get("page") == "next" else None
        if after is not None:
            entries = [e for e in entries if e.address > after]
        page = entries[:limit]
        last = page[-1].address if page else after or ""
        base = self.server.url_for(request.path)
        items = []
        for entry in page:
            item: dict = {"address": entry.address,
                          "created_at": _utc(entry.created).strftime("%a, %d %b %Y %H:%M:%S UTC")}
            if listed == "unsubscribes":
                item["tags"] = ["*"]
            elif listed == "bounces":
                item.update(code="550", error=entry.reason)
            items.append(item)
        return as_json({"items": items, "paging": {
            "first": f"{base}?limit={limit}", "last": f"{base}?page=last&limit={limit}",
            "next": f"{base}?page=next&address={quote(last)}&limit={limit}",
            "previous": f"{base}?page=previous&address={quote(last)}&limit={limit}",
        }})

    def _sendgrid(self, request: Request) -> Response:
        if request.path == f"/v3/asm/groups/{self.group}/suppressions":
            return as_json([entry.address for entry in self.of("group")])
        listed = request.path.rsplit("/", 1)[1]
        kind = SENDGRID_LISTS[listed]
        limit, offset = int(request.args["limit"]), int(request.args.get("offset", 0))
        assert limit <= 500, "SendGrid's documented limit"
        rows = []
        for entry in self.of(kind)[offset:offset + limit]:
            row: dict = {"created": entry.created, "email": entry.address}
            if kind == "bounced":
                row.update(reason=entry.reason, status="5.1.1")
            elif kind == "complained":
                row["ip"] = "192.0.2.10"
            rows.append(row)
        return as_json(rows)

    def _postmark(self, request: Request) -> Response:
        assert request.path == "/message-streams/broadcast/suppressions/dump"
        return as_json({"Suppressions": [
            {"EmailAddress": entry.address, "SuppressionReason": POSTMARK_REASONS[entry.kind],
             "Origin": "Recipient", "CreatedAt": _utc(entry.created).isoformat()}
            for entry in self.entries
        ]})
