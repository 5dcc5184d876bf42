"""One log line for each request ``mailer serve`` refuses (a 4xx), whoever refused it.

A refusal is easy to miss: an ESP whose webhook key was rotated gets its 403s and retries,
while nothing is recorded here. So each one is logged, as ``[client 203.0.113.9] refused POST
/webhooks/mailgun: 403 Mailgun: wrong signature (...)``: the client's address (the peer's, or
the one a trusted proxy forwarded: :mod:`mailer.web.proxies`), the method, the path, the
status and a short reason, and never the query string (an unsubscribe token is there), another
header or the body. A route that knows why it refuses says so with :func:`refused`; any other
4xx (a 404 of the site, a 405) is logged with its status's name. The server logs the requests
it refuses itself, before the app sees them (a body over the cap), with :func:`log_refusal`
too.
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import TypeVar
from urllib.parse import quote

from flask import g, request
from werkzeug.wrappers import Response

from mailer.feedback.webhooks import MAX_BODY_BYTES

log = logging.getLogger("mailer.serve")
TOO_LARGE = f"the body is over {MAX_BODY_BYTES:,} bytes"
MAX_PATH = 200  # characters of a path in a log line: a scanner's may be long
_REASON = "mailer_refusal"  # the attribute of flask.g
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
AnyResponse = TypeVar("AnyResponse", bound=Response)


def refused(response: AnyResponse, reason: str) -> AnyResponse:
    """``response`` (a 4xx), with ``reason`` for the log line of this request."""
    setattr(g, _REASON, reason)
    return response


def log_refused(response: Response) -> Response:
    """Flask's ``after_request``: log the request if ``response`` refuses it."""
    status = response.status_code
    if 400 <= status < 500:
        reason = g.get(_REASON) or _phrase(status)
        log_refusal(request.method, request.path, status, reason, request.remote_addr or "-")
    return response


def log_refusal(method: str, path: str, status: int, reason: str, client: str) -> None:
    """Log one refused request from ``client`` (an address); ``path`` without its query
    string."""
    shown = quote(path, safe="/!$&'()*+,;=:@-._~")  # a line break in it cannot fake a line
    if len(shown) > MAX_PATH:
        shown = shown[:MAX_PATH] + "..."
    log.warning("[client %s] refused %s %s: %d %s", _plain(client), _plain(method), shown,
                status, _plain(reason))


def _phrase(status: int) -> str:
    """``Not Found`` for 404."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "refused"


def _plain(text: str) -> str:
    """``text`` with its control characters written as escapes (one line, always)."""
    return _CONTROL.sub(lambda found: f"\\x{ord(found[0]):02x}", text)
