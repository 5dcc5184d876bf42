"""One subscriber's message, checked by parsing the produced bytes as a mail client would.

Every message is parsed with ``email.message_from_bytes(data, policy=policy.default)``; the fast
hand-built bytes of :class:`MessageFactory` are proven equal, header by header and part by part,
to what :class:`ReferenceBuilder` builds with the standard library's ``EmailMessage``.
"""

from __future__ import annotations

import binascii
import dataclasses
import random
import re
import shutil
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from pathlib import Path

import dkim
import pytest
from dkim import dknewkey
from markupsafe import escape
from reference_message import ReferenceBuilder

from mailer.audience.subscribers import Subscriber
from mailer.audience.unsubscribe import Claims, UnsubscribeLinks
from mailer.compose.issue import LoadedIssue, load_issue
from mailer.compose.merge import UNSUBSCRIBE_KEY
from mailer.compose.render import RenderedIssue
from mailer.delivery.body import _quoted_printable
from mailer.delivery.message import TEST_PREFIX, MessageFactory, message_id_for
from mailer.delivery.message_ids import issue_of, message_id_for_test_copy
from mailer.delivery.prepare import Prepared, letterhead, prepare
from mailer.errors import HeaderInjection, InputError, InvalidRecipient
from mailer.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "issues" / "assets"
DATE = "Tue, 20 Mar 2018 09:00:00 +0000"
SECRET = "test-secret-0123456789abcdef"
LIST_ID = "newsletter.example.org"

SETTINGS = """\
[brand]
organisation = "Uluslararası Göç Örgütü"
logo = "iom-logo.png"
logo_alt = "Logo"
website = "https://example.org/"

[sender]
name = "{sender_name}"
address = "news@example.org"
{reply_to}

[footer]
postal_address = "Birlik Mahallesi 450. Sokak No:11, Çankaya, Ankara"
reason = "You subscribed to our news."

[list]
id = "{list_id}"
name = "Göç Haberleri"
unsubscribe_url = "https://example.org/unsubscribe?token={{token}}"
unsubscribe_mailto = "unsubscribe@example.org"

[[social]]
network = "facebook"
url = "https://www.facebook.com/IOM/"
"""

ISSUE = """\
id: {issue_id}
language: tr
subject: "Şanlıurfa’da yeni merkez, {{{{ subscriber.first_name | default('dostum') }}}}"
preheader: "Merhaba {{{{ subscriber.first_name | default('friend') }}}}, haberler burada."
lead:
  title: "Hello {{{{ subscriber.name | default('friend') }}}}"
  image:
    src: {image}
    alt: A placeholder photo
  body: >-
    Dear {{{{ subscriber.first_name | default("friend") }}}}, this issue is for you
    ({{{{ subscriber.email }}}}).
sections:
  - title: News
    items:
      - title: A second story
        body: "A constant: {{{{ 'just a constant' }}}}. Family: {{{{ subscriber.last_name }}}}."
"""

AYSE = Subscriber("ayse@example.org", "Ayşe Yılmaz", "Ayşe", "Yılmaz", "tr")
LAYLA = Subscriber("layla@example.net", "ليلى حداد", "ليلى", "حداد", "ar")
PLAIN = Subscriber("sean@example.com", "O'Brien, Sean \"Jr\"", "Sean", "O'Brien", "en")
NAMELESS = Subscriber("someone@example.com")
LONG = Subscriber("long@example.com", "Uzun", "  tabs\tand trailing  ", "=" * 90 + "\r\nx\r")
SUBSCRIBERS = [AYSE, LAYLA, PLAIN, NAMELESS, LONG]


def make_project(
    root: Path,
    *,
    sender_name: str = "IOM Türkiye",
    reply_to: str | None = "replies@example.org",
    issue_id: str = "2026-01-test",
    issue_text: str = ISSUE,
) -> Path:
    """A project folder with settings, the real templates and one issue; returns the issue."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "templates").symlink_to(ROOT / "templates")
    (root / "mailer.toml").write_text(
        SETTINGS.format(
            sender_name=sender_name,
            reply_to=f'reply_to = "{reply_to}"' if reply_to else "",
            list_id=LIST_ID,
        ),
        encoding="utf-8",
    )
    issue = root / "issue.yaml"
    shutil.copy(ASSETS / "iom-logo.png", root / "iom-logo.png")
    shutil.copy(ASSETS / "2018-03-lead-gaziantep.png", root / "photo.png")
    issue.write_text(issue_text.format(issue_id=issue_id, image="photo.png"), encoding="utf-8")
    return issue


def load(issue: Path) -> LoadedIssue:
    return load_issue(issue, load_settings(issue.parent / "mailer.toml"))


def links() -> UnsubscribeLinks:
    return UnsubscribeLinks(
        SECRET, LIST_ID, "https://example.org/unsubscribe?token={token}", "unsubscribe@example.org",
        issue="2026-01-test",
    )


def factory_for(loaded: LoadedIssue, prepared: Prepared | None = None) -> MessageFactory:
    """The factory ``send`` uses, with a fixed date and secret."""
    prepared = prepared or prepare(loaded, real_send=False)
    images = prepared.factory.content.images
    return MessageFactory(letterhead(loaded), prepared.rendered, images, links(), date=DATE)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> LoadedIssue:
    return load(make_project(tmp_path_factory.mktemp("project")))


@pytest.fixture(scope="module")
def prepared(project) -> Prepared:
    return prepare(project, real_send=False)


@pytest.fixture(scope="module")
def rendered(prepared) -> RenderedIssue:
    return prepared.rendered


@pytest.fixture(scope="module")
def factory(project, prepared) -> MessageFactory:
    return factory_for(project, prepared)


def parse(data: bytes) -> EmailMessage:
    return message_from_bytes(data, policy=policy.default)


# --- Headers --------------------------------------------------------------------------------


@pytest.mark.parametrize("subscriber", [AYSE, LAYLA, PLAIN], ids=["turkish", "arabic", "quotes"])
def test_every_header(factory, subscriber):
    message = factory.build(subscriber)
    parsed = parse(message.data)

    sender = parsed["From"].addresses[0]
    assert (sender.display_name, sender.addr_spec) == ("IOM Türkiye", "news@example.org")
    assert b"From: =?utf-8?" in message.data  # a non-ASCII display name is encoded

    to = parsed["To"].addresses[0]
    assert (to.display_name, to.addr_spec) == (subscriber.name, subscriber.email)

    first = subscriber.first_name
    assert parsed["Subject"] == f"Şanlıurfa’da yeni merkez, {first}"
    assert parsed["Date"].datetime == datetime(2018, 3, 20, 9, 0, tzinfo=UTC)
    assert parsed["Reply-To"].addresses[0].addr_spec == "replies@example.org"
    assert parsed["List-Id"] == f"Göç Haberleri <{LIST_ID}>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed["MIME-Version"] == "1.0"
    assert parsed["Content-Language"] == "tr"

    message_id = parsed["Message-ID"]
    assert message_id == f"<{message.message_id}>"
    assert message_id.endswith("@example.org>")
    assert message.message_id == message_id_for("2026-01-test", subscriber.email, "example.org")

    https, mailto = re.findall(r"<([^>]+)>", parsed["List-Unsubscribe"])
    assert https.startswith("https://example.org/unsubscribe?token=")
    assert mailto.startswith("mailto:unsubscribe@example.org?subject=unsubscribe%20")
    assert https.split("token=")[1] == mailto.split("%20")[1]
    token = https.split("token=")[1]
    assert links().read(token) == Claims(subscriber.email, "2026-01-test")


def test_message_id_is_deterministic_per_issue_and_subscriber(project, factory, tmp_path):
    first = factory.build(AYSE).message_id
    assert factory.build(AYSE).message_id == first
    assert factory_for(project).build(AYSE).message_id == first  # a new run, the same id
    assert factory.build(LAYLA).message_id != first
    other_issue = load(make_project(tmp_path / "other", issue_id="2026-02-other"))
    assert factory_for(other_issue).build(AYSE).message_id != first
    assert re.fullmatch(r"[a-z0-9.-]+@example\.org", first)



@pytest.mark.parametrize("issue_id", ["2018-03-iom-turkey", "a", "v1.2_x", "x.test"])
def test_issue_of_reads_back_the_issue_of_our_message_ids(issue_id):
    ours = message_id_for(issue_id, "Ayse@Example.org", "iom.int")
    assert issue_of(ours) == issue_id
    assert issue_of(f"<{ours}>") == issue_id  # as the header writes it
    assert issue_of(f" {ours}\n") == issue_id
    assert issue_of(message_id_for_test_copy(issue_id, "iom.int")) == issue_id


@pytest.mark.parametrize("other", [
    "20260212174255.58bbb7ce85a423e5@mailgun.com",  # a provider's own
    "883953f4-6105-42a2-a16a-77a8eac79483",  # Postmark's MessageID: no domain
    "2018-03-iom-turkey.abcdef@iom.int",  # too few hex digits
    "2018-03-iom-turkey.ABCDEF0123456789ABCDEF01@iom.int",  # upper case: not ours
    "Issue.0123456789abcdef01234567@iom.int",  # not an issue id
    "x.0123456789abcdef01234567@a@b",
    "",
])
def test_issue_of_is_none_for_other_message_ids(other):
    assert issue_of(other) is None

def test_reply_to_only_when_set(tmp_path):
    parsed = parse(factory_for(load(make_project(tmp_path, reply_to=None))).build(AYSE).data)
    assert "Reply-To" not in parsed


def test_ascii_sender_name_stays_readable(tmp_path):
    data = factory_for(load(make_project(tmp_path, sender_name="IOM Turkey"))).build(AYSE).data
    assert data.startswith(b"From: IOM Turkey <news@example.org>\r\n")


@pytest.mark.parametrize(
    "subject",
    [
        "Şanlıurfa’da yeni merkez",
        "افتتاح مركز جديد في شانلي أورفا لدعم المهاجرين واللاجئين",
        ("A plain ASCII subject that is long enough to be folded somewhere " * 3).strip(),
        "One very long word: " + "y" * 950,
        "Looks like =?utf-8?q?an_encoded_word?= but is text",
        "Tabs\tand  double  spaces " + "x" * 950,
    ],
)
def test_subject_round_trips(project, rendered, subject):
    rendered = dataclasses.replace(rendered, subject=subject)
    data = MessageFactory(letterhead(project), rendered, (), links(), date=DATE).build(AYSE).data
    assert parse(data)["Subject"] == subject
    assert_line_lengths(data)
    assert max(map(len, header_lines(data, "Subject"))) <= 78


def header_lines(data: bytes, name: str) -> list[str]:
    """The lines of header ``name`` as written (first line and continuation lines)."""
    head = data.split(b"\r\n\r\n", 1)[0].decode("ascii")
    return re.search(rf"(?:^|\r\n)({name}:.*?)\r\n(?=\S)", head, re.S).group(1).split("\r\n")


# --- Body -----------------------------------------------------------------------------------


def test_mime_structure_with_embedded_images(factory):
    parsed = parse(factory.build(AYSE).data)
    assert parsed.get_content_type() == "multipart/related"
    assert parsed.get_param("type") == "multipart/alternative"
    alternative, *images = parsed.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in alternative.iter_parts()] == ["text/plain", "text/html"]
    assert images and all(p.get_content_maintype() == "image" for p in images)
    assert all(p.get_content_disposition() == "inline" for p in images)

    html = alternative.get_payload()[1].get_content()
    content_ids = {p["Content-ID"].strip("<>") for p in images}
    referenced = set(re.findall(r'src="cid:([^"]+)"', html))
    assert referenced == content_ids  # each part is used, each cid: has its part
    for part, image in zip(images, factory.content.images, strict=True):
        assert part.get_content() == image.path.read_bytes()
        assert part.get_filename() == image.filename


def test_linked_images_make_plain_alternative(tmp_path, monkeypatch):
    monkeypatch.setenv("MAILER_IMAGE_BASE_URL", "https://cdn.example.org/2026-01/")
    factory = prepare(load(make_project(tmp_path)), real_send=False).factory
    parsed = parse(factory.build(AYSE).data)
    assert parsed.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]
    html = parsed.get_payload()[1].get_content()
    sources = re.findall(r'<img[^>]* src="([^"]+)"', html)
    assert sources and all(s.startswith("https://cdn.example.org/2026-01/") for s in sources)
    assert "cid:" not in html


@pytest.mark.parametrize("subscriber", SUBSCRIBERS, ids=lambda s: s.email)
def test_parts_decode_to_the_rendered_text_filled_in(rendered, factory, subscriber):
    message = factory.build(subscriber)
    parsed = parse(message.data)
    text, html = parsed.get_payload()[0].iter_parts()
    values = message.personalisation.values

    expected_text = rendered.text
    expected_html = rendered.html if rendered.html.endswith("\n") else rendered.html + "\n"
    for key, value in values.items():
        token = f"MFQX{key}XQMF"
        expected_text = expected_text.replace(token, value)
        expected_html = expected_html.replace(token, escape(value))
    assert text.get_content().replace("\r\n", "\n") == expected_text
    assert html.get_content().replace("\r\n", "\n") == expected_html
    assert values[UNSUBSCRIBE_KEY] in expected_text
    if subscriber.first_name.strip():
        assert f"Dear {subscriber.first_name}," in expected_text
    else:
        assert "Dear friend," in expected_text


def test_copies_differ_only_where_personalised(factory):
    a, b = factory.build(AYSE).data, factory.build(LAYLA).data
    assert a != b
    assert factory.build(AYSE).data == a  # nothing random per copy


@pytest.mark.parametrize("subscriber", SUBSCRIBERS, ids=lambda s: s.email)
def test_no_line_too_long(factory, subscriber):
    data = factory.build(subscriber).data
    assert_line_lengths(data)
    for part in parse(data).walk():  # RFC 2045: encoded lines at most 76 characters
        if part["Content-Transfer-Encoding"] in ("quoted-printable", "base64"):
            raw = part.get_payload(decode=False).encode("ascii")
            assert max(len(line) for line in raw.split(b"\r\n")) <= 76


def assert_line_lengths(data: bytes) -> None:
    """CRLF line ends only, no line over 998 octets (RFC 5322 2.1.1)."""
    bare = data.replace(b"\r\n", b"")
    assert b"\r" not in bare and b"\n" not in bare
    assert max(len(line) for line in data.split(b"\r\n")) <= 998


@pytest.mark.parametrize("alphabet", [
    ["a", "b", " ", "\t", "\n", "=", ".", "ç", "ل", "😀", "\r\n", "-"],
    ["a", "B", "7", "=", "&", "?", "/", ".", "_", "-", "%", ";"],  # links: the quick way
])
def test_quoted_printable_pieces_join_into_a_valid_body(alphabet: list[str]) -> None:
    """Pieces encoded on their own, each ending in a soft break, decode to the whole text.

    (A lone CR never reaches the encoder: merge values and rendered text use LF line ends.)
    """
    rng = random.Random(2018)
    for _ in range(300):
        pieces = [
            "".join(rng.choices(alphabet, k=rng.randrange(200)))
            for _ in range(rng.randrange(1, 6))
        ]
        encoded = b"".join(
            _quoted_printable(piece, open_end=index < len(pieces) - 1)
            for index, piece in enumerate(pieces)
        )
        lines = encoded.split(b"\r\n")
        assert max(len(line) for line in lines) <= 76
        assert not any(line.endswith((b" ", b"\t")) for line in lines)
        assert_line_lengths(encoded + b"\r\n")
        expected = "".join(pieces).replace("\r\n", "\n")
        decoded = binascii.a2b_qp(encoded).replace(b"\r\n", b"\n").decode("utf-8")
        assert decoded == expected


# --- Proven equal to the standard library's EmailMessage ------------------------------------


@pytest.mark.parametrize("linked_images", [False, True], ids=["embedded", "linked"])
def test_fast_path_equals_reference(tmp_path, monkeypatch, linked_images):
    if linked_images:
        monkeypatch.setenv("MAILER_IMAGE_BASE_URL", "https://cdn.example.org/")
    factory = factory_for(load(make_project(tmp_path)))
    assert bool(factory.content.images) is not linked_images
    reference = ReferenceBuilder(factory.content)
    for subscriber in SUBSCRIBERS:
        for test in (False, True):
            p = factory.personalise(subscriber, test=test)
            fast = parse(factory.to_bytes(p, test=test))
            slow = parse(reference.to_bytes(p, TEST_PREFIX if test else ""))
            assert sorted(fast.keys()) == sorted(slow.keys())
            for name in fast:
                if name != "Content-Type":
                    assert str(fast[name]) == str(slow[name]), name
                    assert rfc2047(fast, name) == rfc2047(slow, name), name
            fast_parts, slow_parts = list(fast.walk()), list(slow.walk())
            assert len(fast_parts) == len(slow_parts)
            for ours, theirs in zip(fast_parts, slow_parts, strict=True):
                assert ours.get_content_type() == theirs.get_content_type()
                assert without_boundary(ours) == without_boundary(theirs)
                for name in ("Content-Disposition", "Content-ID"):
                    assert str(ours.get(name)) == str(theirs.get(name))
                assert ours.get_filename() == theirs.get_filename()
                if not ours.is_multipart():
                    assert ours.get_content() == theirs.get_content()


def rfc2047(message: EmailMessage, name: str) -> str:
    """The header decoded by the letter of RFC 2047, with ``email.header.decode_header``."""
    raw = next(value for key, value in message.raw_items() if key.lower() == name.lower())
    return str(make_header(decode_header(re.sub(r"\r?\n", "", raw))))


def test_long_display_name_folds_into_encoded_words(factory):
    """Each encoded word holds whole characters and fits a 78-column line.

    policy.default's address parser puts a space between adjacent encoded words in a display
    name (RFC 2047 6.2 says to drop it), so the name is checked with the RFC's own rule.
    """
    name = "عبد الرحمن بن محمد بن عبد الله الحسيني " * 3 + "Çağrı"
    data = factory.build(Subscriber("long@example.org", name)).data
    parsed = parse(data)
    assert parsed["To"].addresses[0].addr_spec == "long@example.org"
    assert rfc2047(parsed, "To") == f"{name} <long@example.org>"
    to = header_lines(data, "To")
    assert len(to) > 1 and max(map(len, to)) <= 78


def without_boundary(part: EmailMessage) -> dict[str, str]:
    return {k: v for k, v in part["Content-Type"].params.items() if k != "boundary"}


# --- Injection ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "subscriber",
    [
        Subscriber("a@example.org", "Ayşe\r\nBcc: victim@example.com"),
        Subscriber("a@example.org", "Ayşe\nBcc: victim@example.com"),
        Subscriber("a@example.org", "Ayşe\rX"),
        Subscriber("a@example.org\r\nBcc: victim@example.com", "Ayşe"),
        Subscriber("a@example.org\n", "Ayşe"),
        # A merge value that goes into the subject.
        Subscriber("a@example.org", "Ayşe", "Ayşe\r\nBcc: victim@example.com"),
    ],
)
def test_line_breaks_in_headers_are_refused(factory, subscriber):
    with pytest.raises(HeaderInjection):
        factory.build(subscriber)


def test_a_test_copy_has_its_own_message_id_and_a_test_subject(factory):
    real, test, again = factory.build(AYSE), factory.build(AYSE, test=True), factory.build(
        AYSE, test=True
    )
    assert len({real.message_id, test.message_id, again.message_id}) == 3  # never deduplicated
    assert test.message_id.startswith(f"{factory.content.issue_id}.test.")
    assert test.message_id.rpartition("@")[2] == real.message_id.rpartition("@")[2]
    real_parsed, test_parsed = parse(real.data), parse(test.data)
    assert test_parsed["Subject"] == "[TEST] " + real_parsed["Subject"]
    assert test_parsed["Message-ID"] == f"<{test.message_id}>"
    assert not real_parsed["Subject"].startswith("[TEST]")
    # Without MIME (an ESP transport fills in the parts): the same subject and id.
    parts = factory.build(AYSE, test=True, mime=False)
    assert parts.data == b""
    assert parts.message_id.startswith(f"{factory.content.issue_id}.test.")
    assert parts.content.subject.fill(parts.personalisation.values) == test_parsed["Subject"]
    assert factory.build(AYSE, mime=False).content is factory.content


def test_line_break_in_sender_name_is_refused(project, rendered):
    sender = project.sender.model_copy(update={"name": "IOM\r\nBcc: victim@example.com"})
    with pytest.raises(HeaderInjection):
        hijacked = letterhead(dataclasses.replace(project, sender=sender))
        MessageFactory(hijacked, rendered, (), links())


@pytest.mark.parametrize(
    "address",
    ["a@example.org>, victim@example.com", "a b@example.org", "<a@example.org>", "noatsign",
     "üser@example.org"],
)
def test_unusable_addresses_are_refused(factory, address):
    with pytest.raises(InvalidRecipient):
        factory.build(Subscriber(address, "A"))


def test_international_domain_goes_out_in_ascii(factory):
    parsed = parse(factory.build(Subscriber("user@müller.de", "Jürgen Müller")).data)
    assert parsed["To"].addresses[0].addr_spec == "user@xn--mller-kva.de"
    assert parsed["To"].addresses[0].display_name == "Jürgen Müller"


def test_merge_syntax_in_subscriber_data_is_never_evaluated(factory):
    evil = "{{ ''.__class__ }}"
    message = factory.build(Subscriber("evil@example.org", evil, evil, "{{ 7*7 }}"))
    parsed = parse(message.data)
    text, html = (p.get_content() for p in parsed.get_payload()[0].iter_parts())
    assert parsed["To"].addresses[0].display_name == evil
    assert parsed["Subject"] == f"Şanlıurfa’da yeni merkez, {evil}"
    assert f"Dear {evil}," in text
    assert "Dear {{ &#39;&#39;.__class__ }}," in html
    assert "<class" not in text + html and "49" not in parsed["Subject"]


@pytest.mark.parametrize(
    ("field", "problem"),
    [
        ("''.__class__.__mro__", r"only subscriber\.FIELD"),
        ("subscriber.frist_name", r"did you mean 'first_name'"),
    ],
)
def test_bad_merge_field_in_yaml_fails_to_load(tmp_path, field, problem):
    """At load time, with the place in the YAML: not as a blank half-way through a send."""
    title = f'"{{{{{{{{ {field} }}}}}}}}"'  # ISSUE is a format string: braces doubled
    issue = make_project(tmp_path, issue_text=ISSUE.replace("A second story", title))
    with pytest.raises(InputError, match=rf"issue\.yaml:\d+:\d+: sections\[0\].*{problem}"):
        load(issue)


# --- DKIM -----------------------------------------------------------------------------------


def test_dkim_signature_verifies(tmp_path, monkeypatch):
    """The key file named in settings signs each message; dkimpy verifies it."""
    if not Path(dknewkey.OPENSSL_BINARY).exists():
        pytest.skip("dkimpy's key helper needs openssl")
    key_file, dns_file = tmp_path / "dkim.key", tmp_path / "dkim.dns"
    dknewkey.GenRSAKeys(str(key_file), verbose=False)
    dknewkey.ExtractRSADnsPublicKey(str(key_file), str(dns_file), verbose=False)
    record = dns_file.read_bytes().strip()

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes:
        return record if name == b"news2026._domainkey.example.org." else b""

    monkeypatch.setenv("MAILER_DKIM_KEY_FILE", str(key_file))  # send.dkim_key_file
    monkeypatch.setenv("MAILER_DKIM_SELECTOR", "news2026")
    factory = prepare(load(make_project(tmp_path / "project")), real_send=False).factory
    data = factory.build(LAYLA).data
    assert data.startswith(b"DKIM-Signature: ")
    assert dkim.verify(data, dnsfunc=dnsfunc)
    assert_line_lengths(data)

    signature = parse(data)["DKIM-Signature"]
    signed = re.search(r"\bh=([^;]+)", signature).group(1)
    signed_headers = {re.sub(r"\s", "", h).lower() for h in signed.split(":")}
    assert {
        "from", "subject", "date", "message-id", "to", "list-unsubscribe", "list-unsubscribe-post",
    } <= signed_headers

    tampered = data.replace(b"List-Unsubscribe-Post: List-Unsubscribe=One-Click",
                            b"List-Unsubscribe-Post: List-Unsubscribe=Two-Click")
    assert not dkim.verify(tampered, dnsfunc=dnsfunc)
