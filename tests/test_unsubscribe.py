"""Signed unsubscribe links: genuine for one address and one list, unforgeable for any other."""

from __future__ import annotations

import re

import pytest

from mailer.audience.unsubscribe import (
    DEVELOPMENT_SECRET,
    SECRET_VARIABLE,
    UnsubscribeLinks,
    _b64,
    unsubscribe_secret,
)
from mailer.errors import ConfigError, MailerError
from mailer.settings import load_settings

SECRET = "0123456789abcdef0123456789abcdef"
TEMPLATE = "https://example.org/unsubscribe?token={token}&who={email}"


def links(secret: str = SECRET, list_id: str = "news.example.org") -> UnsubscribeLinks:
    return UnsubscribeLinks(secret, list_id, TEMPLATE, "unsubscribe@example.org")


def test_token_verifies_for_its_own_address_only():
    token = links().token("Ayse@Example.org")
    assert links().verify(token) == "ayse@example.org"  # addresses compare case-insensitively
    assert links().verify(links().token("other@example.org")) == "other@example.org"
    assert links().token("ayse@example.org") != links().token("other@example.org")


def test_a_token_forged_for_another_address_fails():
    mac = links().token("ayse@example.org").split(".")[1]
    forged = f"{_b64(b'victim@example.org')}.{mac}"
    assert links().verify(forged) is None


@pytest.mark.parametrize(
    "token", ["", ".", "no-dot", "!!!.???", "YQ.", f"{_b64(b'a@b.org')}.AAAA", "\xff.\xff"]
)
def test_garbage_fails(token):
    assert links().verify(token) is None


def test_tampered_mac_fails():
    token = links().token("ayse@example.org")
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert links().verify(flipped) is None


def test_another_secret_or_list_does_not_verify():
    token = links().token("ayse@example.org")
    assert links(secret="another-secret-0123456789").verify(token) is None
    assert links(list_id="other-list.example.org").verify(token) is None


def test_targets_share_one_token():
    url, mailto = links().targets("ayşe+news@example.org")
    token = url.split("token=")[1].split("&")[0]
    assert url == f"https://example.org/unsubscribe?token={token}&who=ay%C5%9Fe%2Bnews@example.org"
    assert mailto == f"mailto:unsubscribe@example.org?subject=unsubscribe%20{token}"
    assert links().verify(token) == "ayşe+news@example.org"


def test_no_mailto_unless_configured():
    no_mailto = UnsubscribeLinks(SECRET, "news.example.org", TEMPLATE, None)
    assert no_mailto.targets("a@example.org")[1] is None


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("https://example.org/unsubscribe", "{token}"),
        ("https://example.org/u?t={token}&x={other}", "only {token}, {email}, {issue} and {lang}"),
        ("https://example.org/u?t={token}{", "only {token}, {email}, {issue} and {lang}"),
        ("https://example.org/çık?t={token}", "ASCII"),
        ("https://example.org/u?t={token} x", "ASCII"),
    ],
)
def test_unusable_url_template_is_refused_with_its_line(project, template, problem):
    text = project.settings.read_text(encoding="utf-8")
    text = re.sub(r'(?m)^unsubscribe_url = .*$', f'unsubscribe_url = "{template}"', text)
    project.settings.write_text(text, encoding="utf-8")
    rows = text.splitlines()
    line = next(i for i, row in enumerate(rows, 1) if row.startswith("unsubscribe_url"))
    with pytest.raises(ConfigError) as caught:
        load_settings(project.settings)
    assert str(caught.value).startswith(f"{project.settings}:{line}: list.unsubscribe_url: ")
    assert problem in str(caught.value)


def test_secret_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(SECRET_VARIABLE, SECRET)
    assert unsubscribe_secret(required=True) == SECRET
    assert unsubscribe_secret(required=False) == SECRET


def test_sending_without_a_secret_is_refused(monkeypatch):
    monkeypatch.delenv(SECRET_VARIABLE, raising=False)
    with pytest.raises(MailerError, match=f"sending needs {SECRET_VARIABLE}"):
        unsubscribe_secret(required=True)
    assert unsubscribe_secret(required=False) == DEVELOPMENT_SECRET  # preview, outbox


def test_a_short_secret_is_refused_for_sending(monkeypatch):
    monkeypatch.setenv(SECRET_VARIABLE, "short")
    with pytest.raises(MailerError, match="too short"):
        unsubscribe_secret(required=True)
