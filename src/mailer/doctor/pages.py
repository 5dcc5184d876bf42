"""The pages readers open: the unsubscribe link, and the archive's site.

The unsubscribe URL gets a link signed with this computer's ``MAILER_UNSUBSCRIBE_SECRET`` for a
test address (``doctor-test@`` the From domain), as a real message carries it: the page must
answer 200 and ask for a click (a form that POSTs). A page without one may unsubscribe on the
GET itself, which mail scanners make for every link they see; ``mailer serve``'s page never
does. Nothing is posted, so nobody is unsubscribed, the test address included.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

import lxml.html
import requests
from lxml.etree import ParserError

from mailer.audience.unsubscribe import SECRET_NEED, UnsubscribeLinks
from mailer.checks.deliverability import MAILTO_READERS, readers_up_to
from mailer.doctor.report import Finding
from mailer.fields import domain_of
from mailer.settings import LoadedSettings, Settings

TIMEOUT = (5.0, 10.0)  # connect, read
TEST_ISSUE = "doctor-test"
SERVE_FIX = (
    "run mailer serve behind HTTPS at that address (see the deployment guide), or correct "
    "[list] unsubscribe_url"
)


def check_unsubscribe(settings: Settings, environ: Mapping[str, str]) -> list[Finding]:
    listed = settings.list
    mode = listed.unsubscribe_mode
    if mode != "web" or listed.unsubscribe_url is None:
        how = ("the sending service's own link" if mode == "esp"
               else f"email to {listed.unsubscribe_mailto}")
        return [Finding(
            "unsubscribe", "ok", f'readers unsubscribe by {how} ([list] unsubscribe = "{mode}"): '
            "there is no page of ours to try",
        )]
    if SECRET_NEED.problem(environ) is not None:
        return [Finding(
            "unsubscribe", "note", f"the unsubscribe page was not tried: it needs a link signed "
            f"with {SECRET_NEED.variable} (see the secrets above)",
        )]
    links = UnsubscribeLinks(
        environ[SECRET_NEED.variable], listed.id, listed.unsubscribe_url, None,
        issue=TEST_ISSUE, language=listed.language,
    )
    url, _ = links.targets(f"doctor-test@{domain_of(settings.sender.address)}")
    assert url is not None  # the template is set: checked above
    shown = _without_query(url)
    try:
        answer = requests.get(url, timeout=TIMEOUT)
    except requests.RequestException as exc:
        return [Finding(
            "unsubscribe", "error", f"the unsubscribe page {shown} does not answer "
            f"({type(exc).__name__}): readers cannot unsubscribe", SERVE_FIX,
        )]
    if answer.status_code in (400, 403):
        return [Finding(
            "unsubscribe", "error", f"the unsubscribe page {shown} refused a link signed with "
            f"this computer's {SECRET_NEED.variable} (HTTP {answer.status_code}): the server "
            "has another secret, or another [list] id, and would refuse every reader's link",
            f"set the same {SECRET_NEED.variable} and mailer.toml where mailer serve runs",
        )]
    if answer.status_code != 200:
        return [Finding(
            "unsubscribe", "error", f"the unsubscribe page {shown} answers HTTP "
            f"{answer.status_code} to a reader's link", SERVE_FIX,
        )]
    if not _asks_for_a_click(answer.text):
        return [Finding(
            "unsubscribe", "error", f"the unsubscribe page {shown} has no button that posts: "
            "if opening the link unsubscribes, the mail scanners that open every link "
            "unsubscribe your readers", "answer the link with mailer serve, whose page asks for "
            "a click and changes nothing on opening",
        )]
    return [Finding(
        "unsubscribe", "ok", f"the unsubscribe page {shown} answers a freshly signed link with "
        "200 and a button; opening it changed nothing",
    )]


def check_archive(settings: Settings) -> list[Finding]:
    base = settings.archive.base_url
    if base is None:
        return []
    try:
        status = requests.get(base, timeout=TIMEOUT).status_code
    except requests.RequestException as exc:
        status = None
        why = type(exc).__name__
    if status == 200:
        return [Finding("archive", "ok", f"the archive {base} answers 200")]
    said = f"HTTP {status}" if status is not None else why
    return [Finding(
        "archive", "warning", f"the archive {base} ([archive] base_url) answers {said}: the "
        "\"View in browser\" link of every email leads there",
        "publish the site that mailer archive builds at that address, or correct base_url",
    )]


def _asks_for_a_click(html: str) -> bool:
    """Whether the page has a form that POSTs (the unsubscribe button)."""
    try:
        document = lxml.html.fromstring(html)
    except (ParserError, ValueError):
        return False
    return any(
        (form.get("method") or "").lower() == "post" for form in document.iter("form")
    )


def _without_query(url: str) -> str:
    """``url`` without its query: the token needs no showing."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def check_mailto_size(loaded: LoadedSettings) -> list[Finding]:
    """A list answering unsubscribes by mail only is fine while it is small: Gmail and Yahoo
    want one-click (an https link) from bulk senders."""
    if loaded.settings.list.unsubscribe_mode != "mailto":
        return []
    if readers_up_to(loaded, MAILTO_READERS + 1) <= MAILTO_READERS:
        return []
    return [Finding(
        "unsubscribe", "warning", f"the list has more than {MAILTO_READERS:,} readers and "
        "answers unsubscribes by mail only: Gmail and Yahoo require one-click unsubscribe "
        f"(RFC 8058) from senders of {MAILTO_READERS:,} messages a day",
        'set [list] unsubscribe = "esp" to let the sending service answer, or "web" with '
        "unsubscribe_url answered by mailer serve (see the guide's three ways)",
    )]
