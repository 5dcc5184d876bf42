"""The unsubscribe link of every message, and RFC 8058 one-click unsubscribe.

``GET <path>?token=T`` shows a page naming the list and the address, with one button; it
changes nothing (mail scanners open links). An address already unsubscribed gets a page
saying so instead, without the button. ``POST <path>?token=T`` unsubscribes: the button,
or a mail client's one-click request (``List-Unsubscribe=One-Click`` in the body, RFC 8058
section 3.2). It is recorded before the answer, answers 200 without a redirect, and doing it
twice changes nothing. A token that is forged, cut short or for another list is a 400 and
writes nothing.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

from flask import Blueprint, Response, request

from mailer.web.context import Context
from mailer.web.refusals import refused

ONE_CLICK = "List-Unsubscribe=One-Click"
INVALID = "the unsubscribe token is not valid"  # the log's reason; the token is never logged
_ISSUE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")  # an issue id, as the issue model allows


# Its one route is the path of [list] unsubscribe_url: the app registers it with that prefix.
blueprint = Blueprint("unsubscribe", __name__)


@blueprint.get("")
def unsubscribe_page() -> Response:
    context = Context.current()
    address = context.links.verify(request.args.get("token", ""))
    if address is None:
        return refused(context.pages.invalid(), INVALID)
    if context.store().reason(address) == "unsubscribed":
        return context.pages.already(address)
    action = f"{request.path}?{urlencode(request.args)}"
    return context.pages.confirm(address, action)


@blueprint.post("")
def unsubscribe() -> Response:
    context = Context.current()
    claims = context.links.read(request.args.get("token", ""))
    if claims is None:
        return refused(context.pages.invalid(), INVALID)
    # The token names its issue, authenticated; only a link of the old kind (address and
    # signature) needs the link's own ?issue=, which counts the unsubscribe and nothing more.
    issue = claims.issue or request.args.get("issue", "")
    one_click = request.form.get("List-Unsubscribe") == "One-Click"
    context.store().add(
        claims.address, "unsubscribed", "one-click" if one_click else "page",
        issue=issue if _ISSUE.match(issue) else None,
        raw=f"POST {request.path} {request.content_type or ''}".strip(),
    )
    return context.pages.done(claims.address)
