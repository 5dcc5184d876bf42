"""Issue #18, as a reader's privacy is checked from outside: send an issue through the real CLI
to the outbox, open every message written, and look at everything that carries an unsubscribe
token (the List-Unsubscribe header, both parts' links, the mailto subject) the way a proxy log
reader or a link scanner would: no reader's address, local part or domain in any base64 or hex
reading, no ``@`` in any reading of a token. Then write back as Gmail does from the mailto
link: ``mailer status`` counts the unsubscribe for the issue."""

from __future__ import annotations

import base64
import binascii
import csv
import email
import json
import mailbox
import re
from email import policy
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from projects import mailer
from sending import make_project

SECRET = "privacy-test-secret-0123456789abcdef"
MAILTO = "leave@lists.example.org"
READERS = [
    "reader0@example.net",
    "ayse.yilmaz+newsletter@example.net",  # a + in the local part
    "okur@bücher.example.com",  # a non-ASCII domain (IDNA in the headers)
    "a.very.long.name.of.a.colleague.in.the.field.office@partners.example.net",
    "Mixed.Case@Example.com",
]
BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{16,}")
HEX_RUN = re.compile(r"[0-9A-Fa-f]{8,}")


@pytest.fixture
def outbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The outbox after ``mailer send --yes`` of a small issue to READERS."""
    make_project(tmp_path / "news")
    monkeypatch.chdir(tmp_path / "news")
    monkeypatch.setenv("MAILER_UNSUBSCRIBE_SECRET", SECRET)
    settings = Path("mailer.toml")
    text = settings.read_text(encoding="utf-8")
    text = re.sub(r"(?m)^unsubscribe_mailto = .*$", f'unsubscribe_mailto = "{MAILTO}"', text)
    text = re.sub(
        r"(?m)^unsubscribe_url = .*$",
        'unsubscribe_url = "https://news.example.org/unsubscribe?token={token}&issue={issue}"',
        text,
    )
    settings.write_text(text, encoding="utf-8")
    with open("subscribers.example.csv", "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["email", "first_name"])
        writer.writerows([address, "Friend"] for address in READERS)
    code, out = mailer("send", "issues/send-test.yaml", "--yes")
    assert code == 0, out
    return tmp_path / "news" / "outbox"


def messages(outbox: Path) -> list[EmailMessage]:
    found = [
        email.message_from_bytes(path.read_bytes(), policy=policy.default)
        for path in sorted((outbox / "new").iterdir())
    ]
    assert len(found) == len(READERS)
    return found  # type: ignore[return-value]


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hrefs += [value for name, value in attrs if name == "href" and value]


def carriers(message: EmailMessage) -> list[str]:
    """Every string of ``message`` that carries its unsubscribe token: the List-Unsubscribe
    targets, every link of the HTML and the text part, and the mailto's subject."""
    found = re.findall(r"<([^>]+)>", str(message["List-Unsubscribe"]))
    for part in message.walk():
        if part.get_content_type() == "text/html":
            parser = _Links()
            parser.feed(part.get_content())
            found += parser.hrefs
        elif part.get_content_type() == "text/plain":
            found += re.findall(r"(?:https?|mailto):[^\s<>\"']+", part.get_content())
    found += [
        query["subject"][0] for url in found if url.startswith("mailto:")
        for query in [parse_qs(urlsplit(url).query)]
    ]
    return found


def token_of(url: str) -> str | None:
    query = parse_qs(urlsplit(url).query)
    if "token" in query:
        return query["token"][0]
    if "subject" in query:
        return query["subject"][0].removeprefix("unsubscribe ")
    return None


def readings(run: str) -> list[bytes]:
    """Every naive decoding of ``run``: base64 (either alphabet) at its 4 alignments (so of
    every part of it too); if it is hex, also as hex at both alignments."""
    found = []
    url_safe = run.replace("+", "-").replace("/", "_")
    for start in range(4):
        part = url_safe[start:]
        part = part[: len(part) - (len(part) % 4 == 1)]  # 2 or 3 characters left make bytes
        found.append(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    if HEX_RUN.fullmatch(run):
        found += [binascii.unhexlify(run[start:][: (len(run) - start) // 2 * 2])
                  for start in (0, 1)]
    return found


def secrets_of(address: str) -> set[bytes]:
    """What must not be readable of ``address``: itself, its local part, its domain (as it is,
    and as IDNA), each lower-cased."""
    local, _, domain = address.lower().rpartition("@")
    return {address.lower().encode(), local.encode(), domain.encode(),
            domain.encode("idna")}


def test_no_link_header_or_subject_shows_a_readers_address(outbox: Path) -> None:
    secrets = set().union(*(secrets_of(address) for address in READERS))
    tokens = set()
    for message in messages(outbox):
        strings = carriers(message)
        assert any(s.startswith("https://news.example.org/unsubscribe?") for s in strings)
        assert any(s.startswith(f"mailto:{MAILTO}?subject=") for s in strings)
        for text in strings:
            plain = unquote(text).lower()
            assert not any(secret.decode("utf-8", "replace") in plain for secret in secrets), text
            runs = [*BASE64_RUN.findall(text), *HEX_RUN.findall(text),
                    *BASE64_RUN.findall(plain), *HEX_RUN.findall(plain)]
            for run in runs:
                for reading in readings(run):
                    reading = reading.lower()
                    assert not any(secret in reading for secret in secrets), (text, run, reading)
            token = token_of(text)
            if token is not None:
                tokens.add(token)
    assert len(tokens) == len(READERS)  # one token a reader, in every place it is written
    for token in tokens:
        runs = [*BASE64_RUN.findall(token), *HEX_RUN.findall(token), "20" + token]  # %20TOKEN
        for run in runs:
            for reading in readings(run):
                assert b"@" not in reading, (token, run, reading)


def test_an_unsubscribe_by_mail_counts_for_the_issue(outbox: Path) -> None:
    """The reader's mail client follows the mailto of List-Unsubscribe, from another account;
    ``mailer bounces`` reads it; ``mailer status`` counts the unsubscribe for the issue."""
    leaving = next(m for m in messages(outbox) if m["To"].addresses[0].addr_spec == READERS[1])
    mailto = re.findall(r"<(mailto:[^>]+)>", str(leaving["List-Unsubscribe"]))[0]
    target = urlsplit(mailto)
    subject = parse_qs(target.query)["subject"][0]
    gmail = (
        "From: Ayse <ayse.personal@example.com>\r\n"
        f"To: {unquote(target.path)}\r\n"
        f"Subject: {subject}\r\n"
        "Date: Tue, 17 Mar 2026 10:17:08 +0000\r\n"
        "Message-ID: <CAGp3Jh8vR0yQ4kZ2tW6nB9xL1cF5mD7sE3aH0uJ@mail.gmail.com>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: text/plain; charset="UTF-8"\r\n\r\n'
        "This message was automatically generated by Gmail.\r\n"
    )
    box = mailbox.Maildir(outbox.parent / "bounces", create=True)
    box.add(gmail.encode())
    code, out = mailer("bounces", "--maildir", outbox.parent / "bounces")
    assert code == 0, out
    assert "1 unsubscribes" in out
    code, out = mailer("status", "issues/send-test.yaml", "--json")
    assert code == 0, out
    report = json.loads(out[out.index("{"):])
    assert report["feedback"]["unsubscribed"]["addresses"] == 1
    code, out = mailer("suppressions", "list")
    assert READERS[1] in out
