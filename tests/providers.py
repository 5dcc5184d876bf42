"""The three ESPs as pytest-httpserver plays them: paths, answers and error bodies as each
provider documents them, and how to read the recipients out of a request."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from werkzeug import Request, Response


@dataclass(frozen=True)
class Provider:
    scheme: str  # the DSN without endpoint
    secret_variable: str
    path: str
    max_batch: int
    success: Callable[[int], Response]  # for a request of n messages
    error: dict  # the provider's error body, with the message "bad sender"


def _postmark_ok(n: int) -> Response:
    body = [{"ErrorCode": 0, "Message": "OK", "MessageID": f"pm-{i}", "To": "x"} for i in range(n)]
    return Response(json.dumps(body), 200, content_type="application/json")


PROVIDERS = {
    "sendgrid": Provider(
        "sendgrid://", "SENDGRID_API_KEY", "/v3/mail/send", 1000,
        lambda n: Response("", 202, headers={"X-Message-Id": "sg-batch-1"}),
        {"errors": [{"message": "bad sender", "field": "from.email", "help": None}]},
    ),
    "mailgun": Provider(
        "mailgun://mg.example.org", "MAILGUN_API_KEY", "/v3/mg.example.org/messages", 1000,
        lambda n: Response(
            json.dumps({"id": "<mg-batch-1@mg.example.org>", "message": "Queued. Thank you."}),
            200, content_type="application/json",
        ),
        {"message": "bad sender"},
    ),
    "postmark": Provider(
        "postmark://", "POSTMARK_SERVER_TOKEN", "/email/batch", 500, _postmark_ok,
        {"ErrorCode": 300, "Message": "bad sender"},
    ),
}


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
