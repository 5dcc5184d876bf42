"""Sign-up with double opt-in, its confirmation, and the readers' preference page.

At the path of ``[list] subscribe_url`` (say ``/newsletter/subscribe``):

``GET <path>``
    The form, in the visitor's language (``?lang=``, else ``Accept-Language``, else the
    list's), among the languages ``[consent] wording`` has. It sets a cookie of random bytes
    (``SameSite=Strict``) whose keyed hash is the form's CSRF field.
``POST <path>``
    Always the same answer page, whether the address is new, pending, confirmed or suppressed:
    nobody learns from it who is on the list. A POST without a matching CSRF cookie (a form
    embedded on another site, whose cookie a browser does not send) gets the form back,
    filled in, to send from here; a missing consent or a malformed address gets the form
    back with the error tied to its field; a filled-in honeypot gets the answer page. None of
    them records anything. Otherwise the sign-up is recorded as pending
    (:mod:`mailer.audience.signups`) and a confirmation email goes out in the chosen
    language through the project's transport, at most ``[signup] emails_per_address`` a day
    per address. A client over ``[signup] per_client_per_hour`` sign-ups gets 429 (counted in
    memory: client addresses are never stored for it).
``GET <path>/confirm?token=T``
    A page with one button; it changes nothing (mail scanners open links).
``POST <path>/confirm?token=T``
    Confirms. A token forged, altered, or older than 7 days is a 400 and changes nothing.
``GET/POST <path>/preferences?token=T``
    The reader's preferences, with the token of their unsubscribe link (every email's
    footer links here): the language of their edition, their topics, or unsubscribe. A
    token that is not genuine is a 400 and changes nothing. Like the unsubscribe link, it
    does not expire: an email read a year later still lets its reader change or leave.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import quote, urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Blueprint, Flask, Response, current_app, request
from markupsafe import Markup

from mailer.audience.confirm_tokens import ConfirmTokens
from mailer.audience.signup_form import HONEYPOT, Choice, SignupForms
from mailer.audience.signups import Signups
from mailer.audience.subscribers import normalise_address
from mailer.delivery.notices import Notice, Notices, send_notice
from mailer.delivery.transports import TransportFactory, parse_transport
from mailer.errors import MailerError
from mailer.fields import language_keys
from mailer.settings import LoadedSettings
from mailer.web.context import Context
from mailer.web.pages import Pages
from mailer.web.refusals import refused

EXTENSION = "mailer.signup"  # the key of app.extensions
COOKIE = "mailer_form"
INVALID_TOKEN = "the confirmation token is not valid"  # the log's reasons; tokens never logged
EXPIRED_TOKEN = "the confirmation token has expired"
INVALID_PREFERENCES = "the preferences token is not valid"
NO_CSRF = "the sign-up form's CSRF token does not match its cookie"
BUSY = "too many sign-ups from this client"
MAX_NAME = 200
log = logging.getLogger("mailer.serve")

blueprint = Blueprint("signup", __name__)


class ClientLimit:
    """At most ``per_hour`` events per client address in any hour, kept in memory only."""

    def __init__(self, per_hour: int) -> None:
        self.per_hour = per_hour
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, client: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        with self._lock:
            if len(self._seen) > 100_000:  # a flood from many addresses: forget the idle ones
                self._seen = {c: t for c, t in self._seen.items() if t and t[-1] > now - 3600}
            times = self._seen.setdefault(client, deque())
            while times and times[0] <= now - 3600:
                times.popleft()
            if len(times) >= self.per_hour:
                return False
            times.append(now)
            return True


@dataclass
class SignupDesk:
    """What the sign-up routes share, made once per app."""

    settings: LoadedSettings
    forms: SignupForms
    tokens: ConfirmTokens
    csrf_key: bytes
    transport: TransportFactory
    notices: Notices
    commit: str | None  # the project's git commit, for the consent record
    limit: ClientLimit
    url: str  # [list] subscribe_url, where the confirmation links point
    answers: dict[str, str]  # language -> the HTML of the one answer to a sign-up

    @staticmethod
    def current() -> SignupDesk:
        desk: SignupDesk = current_app.extensions[EXTENSION]
        return desk

    def csrf_for(self, cookie: str) -> str:
        return hmac.new(self.csrf_key, cookie.encode("ascii"), hashlib.sha256).hexdigest()

    def language(self) -> str:
        """The visitor's language among the form's (see the module's docstring)."""
        wanted = request.form.get("lang") or request.args.get("lang", "")
        if wanted and (found := self.forms.language_of(wanted)):
            return found
        best = request.accept_languages.best_match(
            [key for tag in self.forms.languages for key in language_keys(tag)]
        )
        return (self.forms.language_of(best) if best else None) or self.forms.default


def install(app: Flask, settings: LoadedSettings, signing: str, pages: Pages) -> None:
    """Register the sign-up routes at the path of ``[list] subscribe_url``; ConfigError when
    the consent wording is missing."""
    listed = settings.settings.list
    url = listed.subscribe_url
    if url is None:
        return
    forms = SignupForms.for_settings(settings)
    app.extensions[EXTENSION] = SignupDesk(
        settings=settings,
        forms=forms,
        tokens=ConfirmTokens(signing, listed.id),
        csrf_key=HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                      info=b"mailer sign-up form csrf v1\0" + listed.id.encode("utf-8"),
                      ).derive(signing.encode("utf-8")),
        transport=parse_transport(settings.settings.send.transports[0], settings.base_dir),
        notices=Notices(settings),
        commit=project_commit(settings),
        limit=ClientLimit(settings.settings.signup.per_client_per_hour),
        url=url,
        answers={language: pages.html(language, forms.labels[language]["signup_sent"])
                 for language in forms.languages},
    )
    app.register_blueprint(blueprint, url_prefix=subscribe_path(url))


def subscribe_path(url: str) -> str:
    """The path of ``[list] subscribe_url`` (``/newsletter/subscribe``)."""
    return urlsplit(url).path.rstrip("/") or "/"


def project_commit(settings: LoadedSettings) -> str | None:
    """The project's git commit (HEAD), or None when it is not a git repository."""
    try:
        found = subprocess.run(
            ["git", "rev-parse", "--verify", "HEAD"], cwd=settings.base_dir,
            capture_output=True, text=True, timeout=10, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = found.stdout.strip()
    return commit if found.returncode == 0 and commit else None


# -- the form ---------------------------------------------------------------------------------


@blueprint.get("")
def form() -> Response:
    desk = SignupDesk.current()
    language = desk.language()
    return _form_page(desk, language, Choice(language=language), {}, "", 200)


def _form_page(
    desk: SignupDesk, language: str, values: Choice, errors: dict[str, str], note: str,
    status: int,
) -> Response:
    """The form page, with a fresh CSRF cookie."""
    cookie = secrets.token_hex(16)
    body = desk.forms.signup(language, request.path, csrf=desk.csrf_for(cookie), values=values,
                             errors=errors, note=note)
    response = Context.current().pages.page(status, language, "", body=body)
    response.set_cookie(COOKIE, cookie, path=request.path, httponly=True, samesite="Strict",
                        secure=request.is_secure)
    return response


@blueprint.post("")
def sign_up() -> Response:
    desk = SignupDesk.current()
    language = desk.language()
    labels = desk.forms.labels[language]
    if not desk.limit.allow(request.remote_addr or "-"):
        return refused(Context.current().pages.page(429, language, labels["signup_busy"]), BUSY)
    if request.form.get(HONEYPOT):
        return _answer(language)
    chosen = desk.forms.language_of(request.form.get("language", "")) or language
    topics = tuple(t for t in request.form.getlist("topics")
                   if t in desk.forms.topic_names(language))
    values = Choice(request.form.get("email", "").strip()[:320],
                    " ".join(request.form.get("name", "").split())[:MAX_NAME], chosen, topics)
    cookie = request.cookies.get(COOKIE, "")
    if not cookie.isascii():  # not one this server set (they are hex): none at all
        cookie = ""
    given = request.form.get("csrf", "")
    if not cookie or not hmac.compare_digest(given.encode(), desk.csrf_for(cookie).encode()) or (
        request.form.get("wording_version") != desk.forms.version(language)
    ):
        page = _form_page(desk, language, values, {}, labels["signup_again"], 400)
        return refused(page, NO_CSRF)
    errors = {}
    try:
        email = normalise_address(values.email, smtputf8=desk.transport.smtputf8)
    except ValueError:
        errors["email"] = labels["signup_error_email"]
    if request.form.get("consent") != "yes":
        errors["consent"] = labels["signup_error_consent"]
    if errors:
        return refused(_form_page(desk, language, values, errors, "", 400), "incomplete form")
    consent = desk.settings.settings.consent
    signups = Signups(Context.current().store())
    now = int(time.time())  # the sign-up's, and its link's: the link confirms this one only
    outcome = signups.record_pending(
        email, name=values.name, language=chosen, topics=topics,
        wording=desk.forms.wording[language], commit=desk.commit, source="form",
        ip=request.remote_addr if consent.record_ip else None,
        emails_a_day=desk.settings.settings.signup.emails_per_address, now=now,
    )
    if outcome == "email due":
        _send_confirmation(desk, email, values.name, chosen, now)
    return _answer(language)


def _answer(language: str) -> Response:
    """The one answer to a sign-up, whatever became of it (made once per language)."""
    return Pages.respond(SignupDesk.current().answers[language], 200)


def _send_confirmation(
    desk: SignupDesk, email: str, name: str, language: str, signed_up_at: int
) -> None:
    """The confirmation email, in the reader's chosen language; a transport that fails is
    logged (without the address), and the visitor may sign up again."""
    labels = desk.forms.labels[language]
    link = (f"{desk.url}/confirm?token={desk.tokens.make(email, signed_up_at)}"
            f"&lang={quote(language, safe='')}")
    notice = Notice(language, labels["confirm_subject"], (labels["confirm_text"],),
                    (labels["confirm_ignore"],))
    try:
        result = send_notice(desk.transport, desk.notices.message(email, name, notice, link))
    except MailerError as exc:
        log.warning("a confirmation email was not sent: %s", _without(email, str(exc)))
        return
    if not result.delivered:
        log.warning("a confirmation email was not sent: %s %s", result.status,
                    _without(email, result.detail))


def _without(email: str, text: str) -> str:
    """``text`` (a server's words) without the reader's address, for the log."""
    local, _, domain = email.rpartition("@")
    return re.sub(re.escape(local) + r"@" + re.escape(domain), "<the address>", text,
                  flags=re.IGNORECASE)


# -- confirmation -----------------------------------------------------------------------------


class _Confirming(NamedTuple):
    """What a confirmation request is about, once its token was found good."""

    address: str
    language: str
    labels: dict[str, str]
    desk: SignupDesk
    issued_at: int  # the second the sign-up was recorded, and its link made


def _confirmation() -> _Confirming | Response:
    """The address the request's token confirms (and the page's words), or the 400 refusing
    it."""
    desk = SignupDesk.current()
    language = desk.language()
    labels = desk.forms.labels[language]
    claims = desk.tokens.read(request.args.get("token", ""))
    if claims is not None and not claims.expired():
        return _Confirming(claims.address, language, labels, desk, claims.issued_at)
    reason = INVALID_TOKEN if claims is None else EXPIRED_TOKEN
    return refused(Context.current().pages.page(400, language, labels["confirm_invalid"]),
                   reason)


@blueprint.get("/confirm")
def confirm_page() -> Response:
    asked = _confirmation()
    if isinstance(asked, Response):
        return asked
    address, language, labels, _, _ = asked
    signup = Signups(Context.current().store()).get(address)
    if signup is not None and signup.status == "confirmed":
        return Context.current().pages.page(200, language, labels["confirm_done"])
    return Context.current().pages.page(
        200, language, labels["confirm_question"], address=address,
        action=f"{request.path}?{request.query_string.decode('ascii', 'replace')}",
        button=labels["confirm_button"],
    )


@blueprint.post("/confirm")
def confirm() -> Response:
    asked = _confirmation()
    if isinstance(asked, Response):
        return asked
    address, language, labels, desk, issued_at = asked
    signups = Signups(Context.current().store())
    ip = request.remote_addr if desk.settings.settings.consent.record_ip else None
    if not signups.confirm(address, signed_up_at=issued_at, ip=ip):
        signup = signups.get(address)
        if signup is None or signup.status != "confirmed":  # erased, or suppressed since
            page = Context.current().pages.page(400, language, labels["confirm_invalid"])
            return refused(page, "nothing to confirm")
    return Context.current().pages.page(200, language, labels["confirm_done"], address=address)


# -- preferences ------------------------------------------------------------------------------


@blueprint.route("/preferences", methods=["GET", "POST"])
def preferences() -> Response:
    context = Context.current()
    desk = SignupDesk.current()
    language = desk.language()
    labels = desk.forms.labels[language]
    claims = context.links.read(request.args.get("token", ""))
    if claims is None:
        page = context.pages.page(400, language, labels["preferences_invalid"])
        return refused(page, INVALID_PREFERENCES)
    address = claims.address
    signups = Signups(context.store())
    action = f"{request.path}?{request.query_string.decode('ascii', 'replace')}"
    if request.method == "POST":
        # What the page showed them (the form they changed, its words): kept with the change.
        was_language, was_topics = signups.choice(address)
        shown = Markup(desk.forms.preferences(
            language, action, desk.forms.language_of(was_language or "") or language,
            was_topics or (),
        )).striptags()
        if request.form.get("action") == "unsubscribe":
            context.store().add(address, "unsubscribed", "page", issue=claims.issue,
                                raw=f"POST {request.path} preferences\n{shown}")
            return context.pages.page(200, language, labels["page_done"], address=address)
        chosen = desk.forms.language_of(request.form.get("language", ""))
        topics = None
        if request.form.get("topics_shown"):
            known = desk.forms.topic_names(language)
            topics = [t for t in request.form.getlist("topics") if t in known]
        signups.set_preferences(address, language=chosen, topics=topics, shown=shown)
        note = labels["preferences_saved"]
    else:
        note = ""
    chosen_language, chosen_topics = signups.choice(address)
    current = desk.forms.language_of(chosen_language or "") or language
    body = desk.forms.preferences(language, action, current, chosen_topics or ())
    return context.pages.page(200, language, note, address=address, body=body)
