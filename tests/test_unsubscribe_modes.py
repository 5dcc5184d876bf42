"""The three ways a list answers unsubscribes, ``[list] unsubscribe = "web" | "esp" | "mailto"``:
which each settings allow, and what readers get in each (the links in the message, the
headers), end to end through ``mailer send``."""

from __future__ import annotations

import email
import json
import mailbox
import re
from email.message import Message
from email.policy import default as default_policy
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from projects import mailer
from providers import PROVIDERS
from pytest_httpserver import HTTPServer
from sending import make_project, write_subscribers

from mailer.audience.subscribers import Subscriber
from mailer.compose.issue import load
from mailer.delivery.campaign import Builder
from mailer.delivery.prepare import prepare
from mailer.delivery.transports import parse_transport
from mailer.errors import ConfigError
from mailer.settings import ESP_SCHEMES, load_settings

SECRET = "modes-test-secret-0123456789abcdef"
WEB_LINK = "https://turkiye.iom.int/newsletter/unsubscribe"  # the repository's unsubscribe_url
MAILTO = "unsubscribe@iom.int"  # its unsubscribe_mailto


def set_list(settings: Path, *, drop: tuple[str, ...] = (), **keys: str) -> None:
    """``mailer.toml`` with the [list] keys ``drop`` removed and ``keys`` set (as TOML)."""
    text = settings.read_text(encoding="utf-8")
    for key in (*drop, *keys):
        text = re.sub(rf"(?m)^{key} = .*\n", "", text)
    added = "".join(f"{key} = {value}\n" for key, value in keys.items())
    settings.write_text(text.replace("[list]\n", "[list]\n" + added), encoding="utf-8")


def line_of(settings: Path, start: str) -> int:
    rows = settings.read_text(encoding="utf-8").splitlines()
    return next(n for n, row in enumerate(rows, 1) if row.startswith(start))


# -- which settings are allowed ---------------------------------------------------------------


def test_the_mode_follows_what_the_list_gives(project) -> None:
    assert load_settings(project.settings).settings.list.unsubscribe_mode == "web"
    set_list(project.settings, drop=("unsubscribe_url",))
    assert load_settings(project.settings).settings.list.unsubscribe_mode == "mailto"
    set_list(project.settings, unsubscribe='"web"',
             unsubscribe_url='"https://e.example.org/u?t={token}"')
    assert load_settings(project.settings).settings.list.unsubscribe_mode == "web"


@pytest.mark.parametrize(
    ("drop", "keys", "blamed", "words"),
    [
        (("unsubscribe_url", "unsubscribe_mailto"), {}, "[list]",
         "readers need a way to unsubscribe: set unsubscribe_url"),
        (("unsubscribe_url",), {"unsubscribe": '"web"'}, "unsubscribe =",
         "readers need a way to unsubscribe"),
        (("unsubscribe_mailto",), {"unsubscribe": '"mailto"'}, "unsubscribe =",
         'unsubscribe = "mailto" needs unsubscribe_mailto'),
        ((), {"unsubscribe": '"esp"'}, "unsubscribe =",
         'unsubscribe = "esp" needs an ESP as [send] transport (mailgun, sendgrid, postmark)'),
        ((), {"unsubscribe": '"server"'}, "unsubscribe =", "'web', 'esp' or 'mailto'"),
    ],
    ids=["nothing", "web without a url", "mailto without an address", "esp with the outbox",
         "unknown"],
)
def test_a_way_without_what_it_needs_is_refused_at_its_line(
    project, drop: tuple[str, ...], keys: dict[str, str], blamed: str, words: str
) -> None:
    set_list(project.settings, drop=drop, **keys)
    with pytest.raises(ConfigError) as caught:
        load_settings(project.settings)
    assert str(caught.value).startswith(
        f"{project.settings}:{line_of(project.settings, blamed)}: list."
    )
    assert words in str(caught.value)


@pytest.mark.parametrize("scheme", ESP_SCHEMES)
def test_esp_is_allowed_with_an_esp_as_transport_or_in_the_environment(
    project, scheme: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_list(project.settings, drop=("unsubscribe_url", "unsubscribe_mailto"),
             unsubscribe='"esp"')
    monkeypatch.setenv("MAILER_TRANSPORT", f"{scheme}://mg.example.org")
    assert load_settings(project.settings).settings.list.unsubscribe_mode == "esp"


def test_the_esp_schemes_are_the_esp_transports() -> None:
    from mailer.delivery.transports import SCHEMES, transport_class
    from mailer.delivery.transports.esp import EspTransport

    esps = {scheme for scheme in SCHEMES if issubclass(transport_class(scheme), EspTransport)}
    assert esps == set(ESP_SCHEMES)


# -- mailto: only the mailto, nowhere an https unsubscribe link -------------------------------


@pytest.fixture
def news(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project with 12 readers, its secret set, in its folder; the issue file."""
    issue = make_project(tmp_path / "news")
    write_subscribers(tmp_path / "news" / "subscribers.example.csv", 12)
    monkeypatch.chdir(tmp_path / "news")
    monkeypatch.setenv("MAILER_UNSUBSCRIBE_SECRET", SECRET)
    return issue


def sent(issue: Path) -> list[Message]:
    return list(mailbox.Maildir(issue.parents[1] / "outbox", create=False))


def whole_text(message: Message) -> str:
    """Every header and every text part, decoded: all a reader or a mail client can see."""
    parts = [f"{name}: {value}" for name, value in message.items()]
    for part in message.walk():
        if part.get_content_maintype() == "text":
            parts.append(part.get_payload(decode=True).decode("utf-8"))
    return "\n".join(parts)


def test_mailto_messages_carry_only_the_mailto(news: Path) -> None:
    set_list(news.parents[1] / "mailer.toml", unsubscribe='"mailto"')  # unsubscribe_url kept
    code, out = mailer("send", news, "--yes")
    assert code == 0, out
    messages = sent(news)
    assert len(messages) == 12
    for message in messages:
        parsed = email.message_from_bytes(message.as_bytes(), policy=default_policy)
        (target,) = re.findall(r"<([^>]*)>", str(parsed["List-Unsubscribe"]))
        assert target.startswith(f"mailto:{MAILTO}?subject=unsubscribe%20")
        assert parsed["List-Unsubscribe-Post"] is None  # one-click needs an https target
        seen = whole_text(parsed)
        assert WEB_LINK not in seen and "token=" not in seen
        assert not [url for url in re.findall(r"https?://\S+", seen) if "unsubscribe" in url]
        # The footer links to the same mailto, and says it is by email.
        html = parsed.get_body(("html",)).get_content()
        assert f'<a href="{target.replace("&", "&amp;")}"' in html
        assert "Unsubscribe by email" in html
        text = parsed.get_body(("plain",)).get_content()
        assert f"Unsubscribe by email:\n{target}\n" in text


def test_a_mailto_unsubscribe_comes_back_through_mailer_bounces(news: Path) -> None:
    project = news.parents[1]
    set_list(project / "mailer.toml", drop=("unsubscribe_url",))  # mailto by default
    assert mailer("send", news, "--yes")[0] == 0
    first = next(m for m in sent(news) if m["To"].endswith("<reader3@example.org>"))
    (target,) = re.findall(r"<([^>]*)>", first["List-Unsubscribe"])
    # What the reader's mail client sends when they follow it (RFC 2369).
    parts = urlsplit(target)
    reply = (f"From: reader3@example.org\r\nTo: {unquote(parts.path)}\r\n"
             f"Subject: {parse_qs(parts.query)['subject'][0]}\r\n"
             "Message-ID: <reply-1@example.org>\r\nDate: Tue, 17 Mar 2026 10:17:08 +0000\r\n"
             "\r\n\r\n")
    box = mailbox.Maildir(project / "unsubscribes")
    box.add(reply.encode())
    code, out = mailer("bounces", "--maildir", project / "unsubscribes")
    assert code == 0 and "1 unsubscribes" in out, out
    code, out = mailer("suppressions", "list")
    assert "reader3@example.org\tunsubscribed\tmailbox (send-test)" in out
    code, out = mailer("status", news)
    assert "1 unsubscribed" in out


@pytest.mark.parametrize(("readers", "warned"), [(5_000, False), (5_001, True)])
def test_check_warns_of_mailto_alone_above_5000_readers(
    news: Path, readers: int, warned: bool
) -> None:
    project = news.parents[1]
    set_list(project / "mailer.toml", unsubscribe='"mailto"')
    write_subscribers(project / "subscribers.example.csv", readers)
    _, out = mailer("check", news, "--offline")
    line = line_of(project / "mailer.toml", "unsubscribe =")
    warning = (f"mailer.toml:{line}: warning [deliverability] the list has more than 5,000 "
               "readers and answers unsubscribes by mail only")
    assert (warning in out) is warned, out
    assert "List-Unsubscribe" not in out  # no error about the headers mailto mode leaves out
    # The same list answered by its web page is not warned about.
    set_list(project / "mailer.toml", unsubscribe='"web"')
    assert "by mail only" not in mailer("check", news, "--offline")[1]


@pytest.mark.parametrize("name", PROVIDERS)
def test_mailto_through_an_esp_asks_for_the_mailto_header_alone(
    name: str, tmp_path: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    issue = make_project(tmp_path / "news")
    set_list(tmp_path / "news" / "mailer.toml", drop=("unsubscribe_url",))
    provider = PROVIDERS[name]
    monkeypatch.setenv(provider.secret_variable, "key")
    httpserver.expect_request(provider.path).respond_with_response(provider.success(2))
    factory = prepare(load(issue), real_send=False).factory
    build = Builder(factory, needs_mime=False)
    messages = [build(Subscriber(f"r{n}@example.org")) for n in range(2)]
    endpoint = httpserver.url_for("/").rstrip("/")
    separator = "&" if "?" in provider.scheme else "?"
    parse_transport(f"{provider.scheme}{separator}endpoint={endpoint}", Path("."))().send(messages)
    request = httpserver.log[0][0]
    data = request.get_data(as_text=True)
    assert WEB_LINK not in data and "List-Unsubscribe-Post" not in data
    mailtos = [m.personalisation.unsubscribe_mailto for m in messages]
    assert all(target and target.startswith(f"mailto:{MAILTO}?subject=") for target in mailtos)
    if name == "mailgun":
        variables = json.loads(request.form["recipient-variables"])
        assert [v["h:List-Unsubscribe"] for v in variables.values()] == [
            f"<{target}>" for target in mailtos
        ]
    elif name == "sendgrid":
        headers = [p["headers"]["List-Unsubscribe"] for p in request.get_json()["personalizations"]]
        assert headers == [f"<{target}>" for target in mailtos]
    else:
        headers = [
            [h["Value"] for h in m["Headers"] if h["Name"] == "List-Unsubscribe"]
            for m in request.get_json()
        ]
        assert headers == [[f"<{target}>"] for target in mailtos]
