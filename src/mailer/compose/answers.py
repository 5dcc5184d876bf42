"""The questions ``mailer init`` asks for mailer.toml, and the answers to them.

Each answer is checked by the very field of the settings it goes into (a bad one gets the
message a bad mailer.toml would get), plus what a first real send needs of it (a website with
https). A default follows from the sample mailer.toml and the answers before it: the sender
at the website's domain, the unsubscribe page on the website.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, TypeAdapter, ValidationError

from mailer.console import Console
from mailer.errors import UsageError
from mailer.field_errors import describe_errors
from mailer.fields import domain_of, language_keys
from mailer.settings import Brand, Footer, ListIdentity, Sender


@dataclass(frozen=True)
class SecretNames:
    """The environment variables of the secrets that the answers call for. The stages that
    read them come after this one, so the command hands them over."""

    # A transport's DSN -> the variable of its secret (None: it needs none); UsageError,
    # saying why, for a DSN that no transport takes.
    transport: Callable[[str], str | None]
    unsubscribe: str  # the key that makes each reader's unsubscribe link


UNSUBSCRIBE_ANSWERS = ("web", "esp", "mailto")
# The sending services init offers by name, whose own unsubscribe handling is the "esp" answer.
SERVICES = {"mailgun": "Mailgun", "sendgrid": "SendGrid", "postmark": "Postmark"}
OUTBOX = "outbox://outbox"


@dataclass(frozen=True)
class Answers:
    """What ``mailer init`` writes into mailer.toml, each value as the settings take it."""

    organisation: str
    website: str
    sender: str
    sender_name: str
    postal_address: str
    languages: tuple[str, ...]  # the list's own language first
    transport: str  # a DSN
    unsubscribe: str  # one of UNSUBSCRIBE_ANSWERS
    unsubscribe_url: str  # the "web" answer's page; mailer.toml needs one for the others too
    unsubscribe_mailto: str | None


Known = dict[str, str]  # the answers so far, by the name of their question


@dataclass(frozen=True)
class Question:
    name: str  # the field of Answers; the flag is --name, with - for _
    says: Callable[[Known], str]  # the question, put with what is known so far
    default: Callable[[Known], str]
    check: Callable[[str, Known], str]  # the answer as mailer.toml takes it; ValueError: why not
    asked: Callable[[Known], bool] = lambda known: True
    # May a flag give it? (Only the unsubscribe page and address depend on another answer.)
    allowed: Callable[[Known], bool] = lambda known: True
    insist: bool = False  # on a terminal, offer no default: the sample's is only a placeholder

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


def gather(
    given: Mapping[str, str | None], console: Console, secrets: SecretNames,
    sample: Mapping[str, Any], *, asking: bool,
) -> Answers:
    """The answers: ``given`` (by flag: UsageError if one is bad), asked when ``asking``
    (again after a bad one), else the defaults, which follow from the answers before them."""
    known: Known = {}
    for question in questions(secrets, sample, given):
        text = given.get(question.name)
        if not question.allowed(known):
            if text is not None:
                raise UsageError(
                    f"{question.flag} does not go with --unsubscribe {known['unsubscribe']}"
                )
            continue
        if text is not None:
            try:
                known[question.name] = question.check(text, known)
            except ValueError as exc:
                raise UsageError(f"{question.flag}: {exc}") from None
        elif question.asked(known):
            known[question.name] = (
                _ask(console, question, known) if asking else _assumed(question, known)
            )
    return Answers(
        organisation=known["organisation"],
        website=known["website"],
        sender=known["sender"],
        sender_name=known["sender_name"],
        postal_address=known["postal_address"],
        languages=tuple(known["languages"].split(", ")),
        transport=known["transport"],
        unsubscribe=known["unsubscribe"],
        unsubscribe_url=known.get("unsubscribe_url") or _unsubscribe_page(known),
        unsubscribe_mailto=known.get("unsubscribe_mailto"),
    )


def _ask(console: Console, question: Question, known: Known) -> str:
    default = None if question.insist else question.default(known)
    if default is not None and not _fits(question, default, known):
        default = None  # it follows from an earlier answer, but does not fit: ask for one
    while True:
        try:
            return question.check(console.ask(question.says(known), default), known)
        except ValueError as exc:
            console.say(f"  Not accepted: {exc}", err=True)


def _assumed(question: Question, known: Known) -> str:
    default = question.default(known)
    try:
        return question.check(default, known)
    except ValueError as exc:
        raise UsageError(
            f"give {question.flag}: the default {default!r} does not fit ({exc})"
        ) from None


def _fits(question: Question, text: str, known: Known) -> bool:
    try:
        question.check(text, known)
    except ValueError:
        return False
    return True


def questions(
    secrets: SecretNames, sample: Mapping[str, Any], given: Mapping[str, str | None]
) -> list[Question]:
    """The questions in the order asked; their defaults come from the sample mailer.toml
    and the answers before them."""

    def transport(text: str, known: Known) -> str:
        value = text.strip()
        name = value.lower()
        if name == "outbox":
            return OUTBOX
        if name in ("sendgrid", "postmark"):
            return f"{name}://"
        scheme = name.partition("://")[0]
        if scheme == "mailgun" and not urlsplit(value).hostname:
            raise ValueError(
                f"name your Mailgun sending domain, such as mailgun://mg.{_domain(known)} "
                "(add ?region=eu for Mailgun's EU region)"
            )
        if scheme in ("smtp", "smtps") and not urlsplit(value).hostname:
            raise ValueError(f"name the server, such as {scheme}://USER@mail.{_domain(known)}:587")
        try:
            secrets.transport(value)
        except UsageError as exc:
            raise ValueError(str(exc)) from None
        return value

    def unsubscribe_default(known: Known) -> str:
        if given.get("unsubscribe_mailto") and not given.get("unsubscribe_url"):
            return "mailto"
        if _service(known) and not given.get("unsubscribe_url"):
            return "esp"
        return "web"

    sample_list = sample["list"]
    return [
        Question(
            "organisation", lambda known: "Your organisation's name",
            lambda known: str(sample["brand"]["organisation"]), _field(Brand, "organisation"),
        ),
        Question(
            "website", lambda known: "Its website",
            lambda known: str(sample["brand"]["website"]), _website,
        ),
        Question(
            "sender", lambda known: "The address the newsletter comes from (at your own domain)",
            lambda known: f"newsletter@{_site_domain(known['website'])}",
            _field(Sender, "address"),
        ),
        Question(
            "sender_name", lambda known: "The sender's name, as readers see it",
            lambda known: known["organisation"], _field(Sender, "name"),
        ),
        Question(
            "postal_address",
            lambda known: "Its postal address, shown in every newsletter's footer (anti-spam "
            "laws, such as CAN-SPAM in the US, require one; GDPR practice expects it)",
            lambda known: str(sample["footer"]["postal_address"]),
            _field(Footer, "postal_address"), insist=True,
        ),
        Question(
            "languages",
            lambda known: "Its languages, the main one first (BCP 47 tags, such as en, tr, ar)",
            lambda known: str(sample_list.get("language", "en")), _languages,
        ),
        Question(
            "transport",
            lambda known: "How to send: outbox (a folder to look at; nothing leaves), "
            "smtp://USER@HOST:587, mailgun://DOMAIN, sendgrid or postmark",
            lambda known: "outbox", transport,
        ),
        Question(
            "unsubscribe", _unsubscribe_question, unsubscribe_default, _unsubscribe,
        ),
        Question(
            "unsubscribe_url",
            lambda known: "The unsubscribe page ({token} names the reader)", _unsubscribe_page,
            _https(_field(ListIdentity, "unsubscribe_url")),
            allowed=lambda known: known["unsubscribe"] == "web",
        ),
        Question(
            "unsubscribe_mailto", lambda known: "The address readers write to to unsubscribe",
            lambda known: f"unsubscribe@{domain_of(known['sender'])}",
            _field(ListIdentity, "unsubscribe_mailto"),
            asked=lambda known: known["unsubscribe"] == "mailto",
            allowed=lambda known: known["unsubscribe"] != "esp",
        ),
    ]


def _field(model: type[BaseModel], name: str) -> Callable[[str, Known], str]:
    """A check by the settings' own field ``name`` of ``model``: its value, or ValueError with
    the message a bad mailer.toml would get."""
    field = model.model_fields[name]
    adapter: TypeAdapter[Any] = TypeAdapter(Annotated[field.annotation, field])  # type: ignore[arg-type]

    def check(text: str, known: Known) -> str:
        try:
            return str(adapter.validate_python(text))
        except ValidationError as exc:
            raise ValueError(describe_errors(exc, model)[0][1]) from None

    return check


def _https(check: Callable[[str, Known], str]) -> Callable[[str, Known], str]:
    def checked(text: str, known: Known) -> str:
        value = check(text, known)
        if urlsplit(value).scheme.lower() != "https":
            raise ValueError(
                f"{value!r} does not start with https:// (browsers warn readers about a page "
                "without it)"
            )
        return value

    return checked


_WEBSITE = _https(_field(Brand, "website"))


def _website(text: str, known: Known) -> str:
    """An https address; ``www.example.org`` is taken for ``https://www.example.org``."""
    text = text.strip()
    return _WEBSITE(text if "://" in text or not text else f"https://{text}", known)


def _languages(text: str, known: Known) -> str:
    """``"en, tr, ar"``: each tag checked, each language once."""
    check = _field(ListIdentity, "language")
    tags: dict[str, str] = {}
    for tag in re.split(r"[\s,;]+", text.strip()):
        if tag:
            tag = check(tag, known)
            tags.setdefault(language_keys(tag)[0], tag)
    if not tags:
        raise ValueError("name at least one language, such as en")
    return ", ".join(tags.values())


def _unsubscribe_question(known: Known) -> str:
    service = _service(known)
    esp = f"esp ({SERVICES[service]}'s own unsubscribe handling), " if service else ""
    return (
        "How readers unsubscribe: web (a page that `mailer serve` answers), "
        f"{esp}mailto (by email; for small lists)"
    )


def _unsubscribe(text: str, known: Known) -> str:
    value = text.strip().lower()
    offered = [a for a in UNSUBSCRIBE_ANSWERS if a != "esp" or _service(known)]
    if value == "esp" and "esp" not in offered:
        raise ValueError(
            "esp is the sending service's own unsubscribe handling: it needs "
            f"{', '.join(SERVICES)} as the transport"
        )
    if value not in offered:
        raise ValueError(f"answer {' or '.join(offered)}, not {text!r}")
    return value


def _service(known: Known) -> str | None:
    """The sending service of the transport answered, if it is one of SERVICES."""
    scheme = known["transport"].partition("://")[0].lower()
    return scheme if scheme in SERVICES else None


def _site_domain(website: str) -> str:
    host = urlsplit(website).hostname or ""
    return host.removeprefix("www.")


def _domain(known: Known) -> str:
    """The organisation's domain: the sender's, else the website's."""
    if "sender" in known:
        return domain_of(known["sender"]).lower()
    return _site_domain(known["website"])


def _unsubscribe_page(known: Known) -> str:
    parts = urlsplit(known["website"])
    return (
        f"{parts.scheme}://{parts.netloc}/newsletter/unsubscribe"
        "?token={token}&issue={issue}&lang={lang}"
    )
