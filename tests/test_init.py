"""``mailer init``: a new newsletter project that previews, checks and sends to its outbox with
nothing but mailer installed (its templates are the package's own); on a terminal it asks for
the organisation's details, how to send and how readers unsubscribe, and flags answer for
scripts."""

from __future__ import annotations

import mailbox
import os
import re
import select
import subprocess
import sys
import time
import tomllib
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import pytest
from PIL import Image
from projects import mailer

from mailer.credentials import SECRET_VARIABLES
from mailer.settings import load_settings

ROOT = Path(__file__).resolve().parents[1]
FIRST_ISSUE = "issues/first-issue.yaml"
STARTER_SETTINGS = ROOT / "src" / "mailer" / "compose" / "starter" / "mailer.toml"
MAILER = [sys.executable, "-c", "from mailer.cli import main; main()"]

@pytest.fixture
def started(tmp_path, monkeypatch) -> Path:
    code, out = mailer("init", tmp_path / "news")
    assert code == 0, out
    monkeypatch.chdir(tmp_path / "news")
    return tmp_path / "news"


def test_init_writes_a_commented_project(started):
    files = sorted(str(p.relative_to(started)) for p in started.rglob("*") if p.is_file())
    assert files == [
        ".github/workflows/newsletter.yml", ".gitignore", "issues/assets/logo.png",
        "issues/assets/photo.png", FIRST_ISSUE, "mailer.toml", "subscribers.csv",
    ]
    ignored = (started / ".gitignore").read_text("utf-8").split()
    assert {".mailer/", "out/"} <= set(ignored)
    settings = (started / "mailer.toml").read_text("utf-8")
    assert settings.count("\n# ") > 10  # explained, line by line
    assert not (started / "templates").exists()  # the package's theme until the project adds one


def own_images(project: Path) -> None:
    """The organisation's own logo and photo in place of the samples, under the same names."""
    assets = project / "issues" / "assets"
    Image.new("RGBA", (320, 96), (255, 255, 255, 0)).save(assets / "logo.png")
    Image.new("RGB", (600, 400), "#6A8CAF").save(assets / "photo.png")


def test_the_sample_logo_and_photo_are_errors_until_replaced(started):
    code, out = mailer("check", FIRST_ISSUE, "--offline")
    assert code == 1, out
    assert f"{FIRST_ISSUE}: 2 errors, 4 warnings, 3 notes\n" in out, out
    photo_line = next(
        n for n, line in enumerate((started / FIRST_ISSUE).read_text("utf-8").splitlines(), 1)
        if "src: assets/photo.png" in line
    )
    assert f"{FIRST_ISSUE}:{photo_line}:5: error [images] photo.png is the sample photo" in out
    assert "mailer.toml:15: error [images] logo.png is the sample logo" in out
    assert "replace it with your organisation's logo" in out
    # The warnings are the example addresses left in mailer.toml, each at its line.
    assert out.count("warning [content]") == 4 and "mailer.toml:" in out
    code, out = mailer("send", FIRST_ISSUE, "--yes")
    assert code == 1 and "not sending" in out, out
    assert not (started / "outbox").exists()

    own_images(started)
    code, out = mailer("check", FIRST_ISSUE, "--offline")
    assert code == 0, out
    assert out.splitlines()[0].endswith(": 0 errors, 4 warnings, 3 notes"), out


def test_the_sample_issue_previews_and_sends_to_the_outbox(started):
    code, out = mailer("preview", FIRST_ISSUE, "--no-serve")
    assert code == 0, out
    html = (started / "out" / "first-issue" / "index.html").read_text("utf-8")
    assert "One file per issue, one look for every issue" in html and "m-masthead" in html
    own_images(started)
    code, out = mailer("send", FIRST_ISSUE, "--yes")
    assert code == 0, out
    messages = list(mailbox.Maildir(started / "outbox", create=False))
    assert len(messages) == 2
    texts = sorted(
        message_from_bytes(m.as_bytes(), policy=default_policy).get_body(("plain",)).get_content()
        for m in messages
    )
    assert [t.split("Hello ", 1)[1].split(",")[0] for t in texts] == ["Ada", "there"]


def test_init_never_touches_a_folder_with_files(tmp_path):
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine", "utf-8")
    code, out = mailer("init", folder)
    assert code == 1
    assert "is not empty" in out and "nothing was changed" in out
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]


def test_new_names_the_preview_to_run_quoted_for_a_shell(started):
    code, out = mailer("new", "issues/next issue.yaml")
    assert code == 0, out
    assert out.strip().endswith("Edit it, then run: mailer preview 'issues/next issue.yaml'")
    code, out = mailer("preview", "issues/next issue.yaml", "--no-serve")  # runs as printed
    assert code == 0, out


def test_without_a_terminal_nothing_is_asked_and_the_sample_settings_stay(tmp_path):
    code, out = mailer("init", tmp_path / "news")  # CliRunner's input is not a terminal
    assert code == 0, out
    assert "?" not in out.split("Started", 1)[0]  # no question before the report
    written = (tmp_path / "news" / "mailer.toml").read_bytes()
    assert written == STARTER_SETTINGS.read_bytes()


# One organisation's answers, with what a TOML writer must escape (quotes, a backslash) and
# what it must keep as it is (Turkish letters).
ANSWERS = {
    "organisation": 'Göç "Derneği" \\ Çankaya',
    "website": "https://www.example.net/",
    "sender": "haber@example.net",
    "sender_name": "Göç Derneği",
    "postal_address": "Birlik Mahallesi 450. Sokak No:11, 06610 Çankaya, Ankara, Türkiye",
    "languages": "tr, en, ar",
    "transport": "smtp://haber@mail.example.net:587",
    "unsubscribe": "web",
    "unsubscribe_url": "https://www.example.net/abonelik/iptal?t={token}&lang={lang}",
}


def flags(answers: dict[str, str]) -> list[str]:
    return [arg for name, value in answers.items() for arg in (f"--{name.replace('_', '-')}",
                                                              value)]


def test_flags_alone_write_the_answers_into_settings_that_load(tmp_path, monkeypatch):
    code, out = mailer("init", tmp_path / "news", *flags(ANSWERS))
    assert code == 0, out
    path = tmp_path / "news" / "mailer.toml"
    settings = load_settings(path).settings
    assert settings.brand.organisation == 'Göç "Derneği" \\ Çankaya'
    assert settings.brand.logo_alt == 'Göç "Derneği" \\ Çankaya'
    assert str(settings.brand.website) == "https://www.example.net/"
    assert settings.social[0].url == "https://www.example.net/"
    assert (settings.sender.name, settings.sender.address) == ("Göç Derneği", "haber@example.net")
    assert settings.footer.postal_address == ANSWERS["postal_address"]
    assert settings.list.id == "newsletter.example.net"
    assert settings.list.language == "tr"
    assert settings.list.unsubscribe_url == ANSWERS["unsubscribe_url"]
    assert settings.list.unsubscribe_mailto is None
    assert settings.send.transport == "smtp://haber@mail.example.net:587"
    # The footer says why readers get it in the list's language, and in each other one.
    assert settings.footer.reason.startswith("Bu bülteni")
    assert settings.footer.for_language("en").reason.startswith("You are receiving")
    assert settings.footer.for_language("ar").reason.startswith("تصلك")
    # The sample's comments are all still there, around the answers.
    text = path.read_text("utf-8")
    comments = [line for line in STARTER_SETTINGS.read_text("utf-8").splitlines()
                if line.startswith("# ") and "[footer.tr]" not in line and "reason =" not in line
                and "Readers unsubscribe" not in line]
    assert [line for line in comments if line not in text.splitlines()] == []
    assert '# Readers unsubscribe on the web ("web")' in text
    # The project loads for check: only the sample images (errors by design) and the example
    # domains of this test (warnings) stand between it and a send.
    monkeypatch.chdir(tmp_path / "news")
    own_images(tmp_path / "news")
    code, out = mailer("check", FIRST_ISSUE, "--offline")
    assert code == 0, out
    assert "0 errors" in out.splitlines()[0], out


class Terminal:
    """``mailer ARGS`` on a pseudo-terminal: what it writes, and answers typed to it."""

    def __init__(self, *args: object, cwd: Path) -> None:
        import pty  # POSIX only: the tests that use it are skipped on Windows

        env = {k: v for k, v in os.environ.items() if k not in SECRET_VARIABLES}
        env.update(PYTHONUTF8="1", TERM="dumb")
        controller, terminal = pty.openpty()
        self.process = subprocess.Popen(
            [*MAILER, *map(str, args)], stdin=terminal, stdout=terminal, stderr=terminal,
            cwd=cwd, env=env, close_fds=True,
        )
        os.close(terminal)
        self.controller = controller
        self.output = ""
        self.read_to = 0  # what expect() has gone past

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.controller], [], [], timeout)
        if not ready:
            return True
        try:
            data = os.read(self.controller, 4096)
        except OSError:  # the process has gone: Linux says EIO
            return False
        self.output += data.decode("utf-8", errors="replace")
        return bool(data)

    def expect(self, text: str, timeout: float = 30) -> str:
        """Wait until ``text`` is written after what was expected before; what came between."""
        deadline = time.monotonic() + timeout
        while (found := self.output.find(text, self.read_to)) < 0:
            if time.monotonic() > deadline or not self._read(0.2):
                raise AssertionError(f"no {text!r} in:\n{self.output}")
        between = self.output[self.read_to:found]
        self.read_to = found + len(text)
        return between

    def type(self, line: str) -> None:
        os.write(self.controller, (line + "\n").encode("utf-8"))

    def finish(self, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while self._read(0.2) and time.monotonic() < deadline:
            if self.process.poll() is not None and not select.select(
                [self.controller], [], [], 0
            )[0]:
                break
        os.close(self.controller)
        return self.process.wait(timeout=5)


posix_terminal = pytest.mark.skipif(
    sys.platform == "win32", reason="the pty module (a pseudo-terminal) is POSIX-only"
)


@posix_terminal
def test_a_terminal_is_asked_each_question_again_after_a_bad_answer(tmp_path):
    term = Terminal("init", "news", cwd=tmp_path)
    term.expect("Your organisation's name [Your Organisation]: ")
    term.type(ANSWERS["organisation"])
    term.expect("Its website [https://www.example.org/]: ")
    term.type("http://www.example.net/")
    term.expect("Not accepted: 'http://www.example.net/' does not start with https://")
    term.expect("Its website [https://www.example.org/]: ")
    term.type(ANSWERS["website"])
    # The defaults follow from the answers before them.
    term.expect("The address the newsletter comes from (at your own domain) "
                "[newsletter@example.net]: ")
    term.type("haber(at)example.net")
    term.expect("Not accepted: not an email address: 'haber(at)example.net'")
    term.expect("[newsletter@example.net]: ")
    term.type(ANSWERS["sender"])
    term.expect(f"The sender's name, as readers see it [{ANSWERS['organisation']}]: ")
    term.type(ANSWERS["sender_name"])
    # The postal address has no default to take: an empty answer is asked again.
    question = term.expect("CAN-SPAM")
    term.expect("GDPR practice expects it): ")
    assert "[" not in question
    term.type("")
    term.expect("GDPR practice expects it): ")
    term.type(ANSWERS["postal_address"])
    term.expect("(BCP 47 tags, such as en, tr, ar) [en]: ")
    term.type("tr, en, english")
    term.expect("Not accepted: not a BCP 47 language tag: 'english'")
    term.expect("[en]: ")
    term.type(ANSWERS["languages"])
    term.expect("sendgrid or postmark [outbox]: ")
    term.type("smtp://haber:secret@mail.example.net:587")
    term.expect("Not accepted: transport 'smtp://haber:***@mail.example.net:587': put the "
                "password in the environment (MAILER_SMTP_PASSWORD), never in the DSN")
    term.expect("[outbox]: ")
    term.type(ANSWERS["transport"])
    # An SMTP server has no unsubscribe handling of its own: esp is not offered.
    question = term.expect("[web]: ")
    assert "mailto" in question and "esp" not in question
    term.type("esp")
    term.expect("Not accepted: esp is the sending service's own unsubscribe handling")
    term.expect("[web]: ")
    term.type("web")
    term.expect("The unsubscribe page ({token} names the reader) "
                "[https://www.example.net/newsletter/unsubscribe?token={token}&issue={issue}"
                "&lang={lang}]: ")
    term.type(ANSWERS["unsubscribe_url"])
    term.expect("Started a newsletter project in news")
    assert term.finish() == 0, term.output

    # The same answers as flags, without a terminal, write the very same file.
    code, out = mailer("init", tmp_path / "scripted", *flags(ANSWERS))
    assert code == 0, out
    asked = (tmp_path / "news" / "mailer.toml").read_text("utf-8")
    assert asked == (tmp_path / "scripted" / "mailer.toml").read_text("utf-8")
    assert load_settings(tmp_path / "news" / "mailer.toml").settings.brand.organisation == (
        ANSWERS["organisation"]
    )


@posix_terminal
def test_flags_are_not_asked_and_yes_asks_nothing(tmp_path):
    term = Terminal("init", "news", "--organisation", "Göç Derneği", "--website",
                    "https://www.example.net/", "--postal-address", "Kızılay Cd. 5, Ankara",
                    "--transport", "sendgrid", cwd=tmp_path)
    between = term.expect("The address the newsletter comes from")
    assert "organisation" not in between and "website" not in between.lower()
    term.type("")  # newsletter@example.net
    term.expect("[Göç Derneği]: ")
    term.type("")
    term.expect("[en]: ")
    term.type("")
    # With a sending service, its own unsubscribe handling is offered, and is the default.
    question = term.expect("[esp]: ")
    assert "esp (SendGrid's own unsubscribe handling)" in question
    term.type("")
    term.expect("Next, in news: mailer doctor")
    assert term.finish() == 0, term.output
    settings = load_settings(tmp_path / "news" / "mailer.toml").settings
    assert settings.sender.address == "newsletter@example.net"
    assert settings.send.transport == "sendgrid://"
    assert '("esp")' in (tmp_path / "news" / "mailer.toml").read_text("utf-8")

    term = Terminal("init", "quiet", "--yes", cwd=tmp_path)
    term.expect("Started a newsletter project in quiet")
    assert term.finish() == 0, term.output
    assert "[" not in term.output.split("Started")[0]
    assert (tmp_path / "quiet" / "mailer.toml").read_bytes() == STARTER_SETTINGS.read_bytes()


@pytest.mark.parametrize(("given", "error"), [
    (["--sender", "news at example.org"], "--sender: not an email address: 'news at example.org'"),
    (["--website", "http://www.example.org/"], "--website: 'http://www.example.org/' does not "
                                                "start with https://"),
    (["--unsubscribe-url", "https://www.example.org/u?t={token}&e={email}"],
     "--unsubscribe-url: must not contain {email}"),
    (["--languages", "English"], "--languages: not a BCP 47 language tag: 'English'"),
    (["--website", "https://www.bücher.example.org/"],  # a default that does not fit
     "give --sender: the default 'newsletter@bücher.example.org' does not fit (not an email "
     "address"),
    (["--transport", "smtp://news:hunter2@mail.example.org"],
     "put the password in the environment (MAILER_SMTP_PASSWORD), never in the DSN"),
    (["--transport", "mailgun"], "--transport: name your Mailgun sending domain, such as "
                                 "mailgun://mg.example.org"),
    (["--transport", "ftp://example.org"], "unknown scheme 'ftp'"),
    (["--unsubscribe", "esp"], "--unsubscribe: esp is the sending service's own unsubscribe "
                               "handling: it needs mailgun, sendgrid, postmark as the transport"),
    (["--unsubscribe", "mailto", "--unsubscribe-url", "https://www.example.org/u?t={token}"],
     "--unsubscribe-url does not go with --unsubscribe mailto"),
    (["--transport", "postmark", "--unsubscribe", "esp", "--unsubscribe-mailto",
      "unsubscribe@example.org"], "--unsubscribe-mailto does not go with --unsubscribe esp"),
])
def test_a_bad_flag_is_refused_and_nothing_is_written(tmp_path, given, error):
    code, out = mailer("init", tmp_path / "news", *given)
    assert code == 2, out
    assert out.startswith("Error: ") and error in out, out
    assert "hunter2" not in out
    assert not (tmp_path / "news").exists()


@pytest.mark.parametrize(("given", "secrets"), [
    ([], {"MAILER_UNSUBSCRIBE_SECRET"}),
    (["--transport", "smtp://news@mail.example.org:587"],
     {"MAILER_SMTP_PASSWORD", "MAILER_UNSUBSCRIBE_SECRET"}),
    (["--transport", "smtp://localhost:25?tls=none", "--unsubscribe", "mailto"],
     {"MAILER_UNSUBSCRIBE_SECRET"}),
    (["--transport", "mailgun://mg.example.org?region=eu"], {"MAILGUN_API_KEY"}),
    (["--transport", "sendgrid", "--unsubscribe", "web"],
     {"SENDGRID_API_KEY", "MAILER_UNSUBSCRIBE_SECRET"}),
    (["--transport", "postmark://?stream=broadcast", "--unsubscribe", "esp"],
     {"POSTMARK_SERVER_TOKEN"}),
])
def test_the_next_steps_name_exactly_the_secrets_a_real_send_needs(tmp_path, given, secrets):
    code, out = mailer("init", tmp_path / "news", *given)
    assert code == 0, out
    named = {name for name in SECRET_VARIABLES if name in out}
    assert named == secrets, out
    for name in secrets:  # how to set each, in PowerShell and in a POSIX shell
        assert re.search(rf"^  \$env:{name} = '<[^>]+>'$", out, re.M), out
        assert re.search(rf"^  export {name}='<[^>]+>'$", out, re.M), out
    assert ("secrets.token_urlsafe" in out) == ("MAILER_UNSUBSCRIBE_SECRET" in secrets)
    assert out.rstrip().splitlines()[-1].startswith("Next, in ")
    assert "mailer doctor" in out.rstrip().splitlines()[-1]
    load_settings(tmp_path / "news" / "mailer.toml")


def test_a_language_without_a_footer_sentence_gets_a_table_to_fill_in(tmp_path):
    code, out = mailer("init", tmp_path / "news", "--languages", "en fr-CA, EN",
                       "--unsubscribe", "mailto")
    assert code == 0, out
    path = tmp_path / "news" / "mailer.toml"
    data = tomllib.loads(path.read_text("utf-8"))
    assert data["footer"]["fr-CA"] == {}  # said as [footer] says it until filled in
    assert "en" not in data["footer"]  # each language once
    assert "said in fr-CA" in path.read_text("utf-8")
    settings = load_settings(path).settings
    assert settings.list.unsubscribe_mailto == "unsubscribe@example.org"
    assert '("mailto")' in path.read_text("utf-8")


def test_a_website_without_its_scheme_is_taken_for_https(tmp_path):
    code, out = mailer("init", tmp_path / "news", "--website", "www.example.net", "--yes")
    assert code == 0, out
    settings = load_settings(tmp_path / "news" / "mailer.toml").settings
    assert settings.brand.website == "https://www.example.net"
    assert settings.sender.address == "newsletter@example.net"
    assert settings.list.unsubscribe_url.startswith("https://www.example.net/newsletter/")
