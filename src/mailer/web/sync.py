"""``GET /suppressions`` for ``mailer suppressions pull`` (the suppressions, and the sign-ups
and preferences of :mod:`mailer.audience.signups`), and ``GET /healthz``.

The suppressions are personal data: they are served only to a bearer of ``MAILER_SYNC_TOKEN``
(compared in constant time), and the route answers 404 when no token is set at all.
"""

from __future__ import annotations

import hmac
import json
import time

from flask import Blueprint, Response, request

from mailer.audience.signups import Signups
from mailer.feedback.suppressions import SYNC_TOKEN_VARIABLE
from mailer.web.context import Context
from mailer.web.refusals import refused

blueprint = Blueprint("sync", __name__)


@blueprint.get("/suppressions")
def suppressions() -> Response:
    context = Context.current()
    token = context.environ.get(SYNC_TOKEN_VARIABLE, "")
    if not token:
        return _refused(f"not enabled: set {SYNC_TOKEN_VARIABLE} on the server", 404)
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        response = _refused("a valid bearer token is needed", 401)
        response.headers["WWW-Authenticate"] = 'Bearer realm="mailer"'
        return response
    try:
        since = float(request.args.get("since", "0") or 0)
    except ValueError:
        return _refused("since must be a number of seconds", 400)
    served_at = time.time()
    entries = [e.as_dict() | {"first_seen": e.first_seen, "last_seen": e.last_seen}
               for e in context.store().entries(since=since)]
    # The sign-ups confirmed here and the preferences changed here, for the sends elsewhere.
    signups, preferences = Signups(context.store()).changed_since(since)
    return _json({"served_at": served_at, "suppressions": entries, "signups": signups,
                  "preferences": preferences}, 200)


@blueprint.get("/healthz")
def healthz() -> Response:
    len(Context.current().store())  # the store opens and answers
    return Response("ok\n", 200, mimetype="text/plain")


def _json(body: object, status: int) -> Response:
    response = Response(json.dumps(body, ensure_ascii=False), status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


def _refused(reason: str, status: int) -> Response:
    """The answer to a refused request: its reason, in the body and in the log."""
    return refused(_json({"error": reason}, status), reason)
