"""Unsubscribe tokens: genuine for one address, issue and list, unforgeable for any other, and
opaque: nothing of the address can be read from one without the secret."""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import string

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from projects import mailer
from sending import make_project

from mailer.audience.confirm_tokens import Confirmation, ConfirmTokens
from mailer.audience.sealed import SAFE
from mailer.audience.unsubscribe import (
    DEVELOPMENT_SECRET,
    SECRET_VARIABLE,
    Claims,
    UnsubscribeLinks,
    unsubscribe_secret,
)
from mailer.errors import ConfigError, MailerError
from mailer.settings import load_settings

SECRET = "0123456789abcdef0123456789abcdef"
LIST_ID = "news.example.org"
ISSUE = "2026-03-news"
TEMPLATE = "https://example.org/unsubscribe?token={token}&issue={issue}"


def links(secret: str = SECRET, list_id: str = LIST_ID, issue: str = ISSUE) -> UnsubscribeLinks:
    return UnsubscribeLinks(secret, list_id, TEMPLATE, "unsubscribe@example.org", issue=issue)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def old_token(address: str, secret: str = SECRET, list_id: str = LIST_ID) -> str:
    """A token as mail sent before issue #18 carries it: base64url(address) "." base64url(HMAC)."""
    data = address.encode("utf-8")
    mac = hmac.digest(secret.encode(), list_id.encode() + b"\0" + data, "sha256")
    return f"{b64(data)}.{b64(mac)}"


def readings(token: str) -> list[bytes]:
    """What a naive reader gets from a token: base64url at its 4 alignments, hex at both."""
    found = []
    for start in range(4):
        part = token[start:]
        found.append(unb64(part[: len(part) - (len(part) % 4 == 1)]))  # a last byte of 2 or 3
    for run in re.findall(r"[0-9a-fA-F]{8,}", token):
        for start in (0, 1):
            found.append(binascii.unhexlify(run[start:][: (len(run) - start) // 2 * 2]))
    return found


def test_a_token_names_its_address_and_issue() -> None:
    token = links().token("Ayse@Example.org")
    assert links().read(token) == Claims("ayse@example.org", ISSUE)  # addresses lower-cased
    assert links().verify(token) == "ayse@example.org"  # what the web page asks
    assert links().read(links().token("other@example.org")) == Claims("other@example.org", ISSUE)
    assert links().token("ayse@example.org") != links().token("other@example.org")
    assert links(issue="2026-04-news").read(token) == Claims("ayse@example.org", ISSUE)
    assert links(issue="").read(links(issue="").token("a@example.org")) == Claims(
        "a@example.org", None
    )


def test_a_token_is_the_same_in_every_run_of_a_send() -> None:
    """A resumed send rebuilds each message byte for byte: the same token for the same reader."""
    assert links().token("ayse@example.org") == links().token("ayse@example.org")
    assert links().token("ayse@example.org") != links(issue="2026-04-news").token(
        "ayse@example.org"
    )


@pytest.mark.parametrize("address", [
    "ayse@example.org",
    "ayse.yilmaz+newsletter@example.net",
    "okur@bücher.example.com",
    "a.very.long.name.of.a.colleague.in.the.field.office@partners.example.net",
])
def test_nothing_of_the_address_can_be_read_from_the_token(address: str) -> None:
    token = links().token(address)
    local, _, domain = address.rpartition("@")
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token)
    for reading in readings(token):
        for secret in (address, local, domain, domain.encode("idna").decode()):
            assert secret.encode() not in reading.lower()


def test_no_naive_reading_of_a_token_shows_an_at_sign() -> None:
    """Ciphertext is random, so some reading would show an ``@`` in most tokens by chance: for
    five hundred readers, one would (nearly) always; tokens are written so that none does."""
    for n in range(500):
        token = links().token(f"reader{n}.{string.ascii_lowercase[n % 26] * (n % 40)}@example.net")
        for reading in readings(token):
            assert b"@" not in reading, token
        assert token[0] not in "ABCD"  # nor with the "20" of "%20" before it, in the mailto
        assert links().read(token) is not None


def test_a_token_for_a_forty_character_address_is_at_most_110_characters() -> None:
    address = "firstname.lastname.department@example.org"[:28] + "@example.org"
    assert len(address) == 40
    assert len(links().token(address)) <= 110


def test_no_two_characters_of_a_token_decode_to_an_at_sign() -> None:
    """Every byte a base64 reading gives is made of two neighbouring characters, and a hex
    reading's too: so if no pair of the characters tokens are made of gives an ``@`` in any
    place of a base64 quantum, as either alphabet, or as hex, no reading of any token does."""
    assert len(SAFE) == 58 and set(string.ascii_letters + string.digits + "-_") >= SAFE
    filler = "z"
    for first in SAFE:
        for second in SAFE:
            for place in range(3):
                quantum = filler * place + first + second + filler * (2 - place)
                standard = quantum.replace("-", "+").replace("_", "/")
                for reading in (base64.urlsafe_b64decode(quantum), base64.b64decode(standard)):
                    assert b"@" not in reading, quantum
            pair = first + second
            if all(c in string.hexdigits for c in pair):
                assert binascii.unhexlify(pair) != b"@", pair
    for n in range(200):
        assert SAFE.issuperset(links().token(f"reader{n}@example.net"))


def first_format_token(info: bytes, plain: bytes) -> str:
    """A token as mail sent before this format carries it: base64url(marker + AES-SIV), the
    marker 0x80 + the attempts it took until no reading of the token showed an ``@``."""
    key = HKDF(algorithm=hashes.SHA256(), length=64, salt=None, info=info).derive(SECRET.encode())
    for marker in range(0x80, 0x100):
        data = bytes([marker]) + AESSIV(key).encrypt(plain, [bytes([marker])])
        if all(b"@" not in reading for reading in readings(b64(data))):
            return b64(data)
    raise AssertionError("no marker gave a token without an @")


def test_a_token_of_the_first_sealed_format_still_opens_and_is_never_made() -> None:
    token = first_format_token(b"mailer unsubscribe token v2\0" + LIST_ID.encode(),
                               ISSUE.encode() + b"\0ayse@example.org")
    assert token[0] in "ghijklmnopqrstuvwxyz0123456789-_"
    assert links().read(token) == Claims("ayse@example.org", ISSUE)
    assert links(secret="another-secret-0123456789").read(token) is None
    made = links().token("ayse@example.org")
    assert made != token and made.startswith("e")
    # A sign-up's confirmation link of that format, sent a day ago, confirms too.
    confirmation = first_format_token(
        b"mailer sign-up confirmation token v1\0" + LIST_ID.encode(),
        (1_800_000_000).to_bytes(8, "big") + b"omar@example.net",
    )
    assert ConfirmTokens(SECRET, LIST_ID).read(confirmation) == Confirmation(
        "omar@example.net", 1_800_000_000
    )
    assert links().read(token[:-1]) is None


def test_a_token_of_the_old_format_still_verifies_and_is_never_made() -> None:
    token = old_token("ayse@example.org")
    assert links().read(token) == Claims("ayse@example.org", None)
    assert links().verify(token) == "ayse@example.org"
    assert "." not in links().token("ayse@example.org")
    assert not links().token("ayse@example.org").startswith(b64(b"ayse@example.org"))
    assert links(secret="another-secret-0123456789").read(token) is None
    assert links(list_id="other-list.example.org").read(token) is None


def test_an_old_token_forged_for_another_address_fails() -> None:
    mac = old_token("ayse@example.org").split(".")[1]
    assert links().verify(f"{b64(b'victim@example.org')}.{mac}") is None
    assert links().verify(old_token("Ayse@example.org")) is None  # they were lower-case


@pytest.mark.parametrize(
    "token",
    ["", ".", "no-dot", "!!!.???", "YQ.", f"{b64(b'a@b.org')}.AAAA", "\xff.\xff", "A" * 90,
     "g" * 90, "gAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "g" * 5000, "gé" * 40],
)
def test_garbage_fails(token: str) -> None:
    assert links().read(token) is None
    assert links().verify(token) is None


def test_any_change_to_a_token_fails() -> None:
    token = links().token("ayse@example.org")
    for position in range(len(token)):
        for other in "Ag_":
            changed = token[:position] + other + token[position + 1:]
            if changed != token:
                assert links().read(changed) is None, (position, other)
    assert links().read(token[:-1]) is None
    assert links().read(token + "A") is None


def test_a_token_made_of_parts_of_two_fails() -> None:
    one, two = links().token("ayse@example.org"), links().token("zeynep@example.org")
    assert links().read(one[:30] + two[30:]) is None
    assert links().read(two[:30] + one[30:]) is None


def test_another_secret_or_list_does_not_verify() -> None:
    token = links().token("ayse@example.org")
    assert links(secret="another-secret-0123456789").read(token) is None
    assert links(list_id="other-list.example.org").read(token) is None


def test_targets_share_one_token() -> None:
    url, mailto = links().targets("ayşe+news@example.org")
    token = url.split("token=")[1].split("&")[0]
    assert url == f"https://example.org/unsubscribe?token={token}&issue={ISSUE}"
    assert mailto == f"mailto:unsubscribe@example.org?subject=unsubscribe%20{token}"
    assert links().read(token) == Claims("ayşe+news@example.org", ISSUE)


def test_no_mailto_unless_configured() -> None:
    no_mailto = UnsubscribeLinks(SECRET, LIST_ID, TEMPLATE, None)
    assert no_mailto.targets("a@example.org")[1] is None


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("https://example.org/unsubscribe", "{token}"),
        ("https://example.org/u?t={token}&x={other}", "only {token}, {issue} and {lang}"),
        ("https://example.org/u?t={token}{", "only {token}, {issue} and {lang}"),
        ("https://example.org/u?t={token}&who={email}", "must not contain {email}"),
        ("https://example.org/u/{email!s}?t={token}", "must not contain {email}"),
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
    with pytest.raises(MailerError, match=f"{SECRET_VARIABLE} \\(it is not set\\)"):
        unsubscribe_secret(required=True)
    assert unsubscribe_secret(required=False) == DEVELOPMENT_SECRET  # preview, outbox


def test_a_short_secret_is_refused_for_sending(monkeypatch):
    monkeypatch.setenv(SECRET_VARIABLE, "x7Qz9pL")
    with pytest.raises(MailerError, match="too short"):
        unsubscribe_secret(required=True)


def test_a_url_with_the_address_in_it_stops_the_send(tmp_path) -> None:
    issue = make_project(tmp_path / "news")
    settings = tmp_path / "news" / "mailer.toml"
    text = settings.read_text(encoding="utf-8")
    settings.write_text(re.sub(
        r'(?m)^unsubscribe_url = .*$',
        'unsubscribe_url = "https://example.org/unsubscribe?token={token}&email={email}"', text,
    ), encoding="utf-8")
    code, out = mailer("send", issue, "--yes")
    assert code == 2
    assert "list.unsubscribe_url: must not contain {email}" in out
    assert "{token} already tells the unsubscribe page who the reader is" in out
    assert not (tmp_path / "news" / "outbox").exists()
