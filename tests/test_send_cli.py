"""``mailer send`` and ``mailer status`` called in-process, in a throwaway project."""

from __future__ import annotations

import csv
import json
import mailbox
import shlex
from pathlib import Path

import pytest
from projects import mailer
from sending import Busy, Faults, Recorder, make_project, smtp_server, write_subscribers

from mailer.audience import subscribers
from mailer.audience.subscribers import SubscriberReader
from mailer.delivery.ledger import Ledger
from mailer.delivery.send import SendRequest


@pytest.fixture
def issue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = make_project(tmp_path / "news")
    write_subscribers(tmp_path / "news" / "subscribers.example.csv", 25)
    monkeypatch.chdir(tmp_path / "news")
    return path



def outbox(issue: Path, name: str = "outbox") -> mailbox.Maildir:
    return mailbox.Maildir(issue.parents[1] / name, create=False)


def test_send_fills_the_outbox_once_and_status_reports_it(issue: Path, tmp_path: Path) -> None:
    code, out = mailer("send", issue, "--yes")
    assert code == 0, out
    assert "Done: sent 25 now" in out and "25 sent, 0 failed" in out
    assert f"Outbox: {issue.parents[1] / 'outbox'}" in out
    assert len(outbox(issue)) == 25
    code, out = mailer("send", issue, "--yes")  # nothing left to do
    assert (code, len(outbox(issue))) == (0, 25)
    assert "sent 0 now" in out

    code, out = mailer("status", issue)
    assert code == 0
    assert out.startswith("send-test: 25 sent, 0 failed, 0 deferred, 0 queued, 0 in flight, of 25")
    code, out = mailer("status", issue, "--json", "--csv", tmp_path / "report.csv")
    report = json.loads(out.split("\nWrote")[0])
    assert report["counts"]["sent"] == 25 and report["failures"] == []
    rows = list(csv.DictReader((tmp_path / "report.csv").read_text("utf-8").splitlines()))
    assert len(rows) == 25 and {r["state"] for r in rows} == {"sent"}
    assert rows[0]["message_id"].startswith("send-test.")


def test_flags_beat_the_environment_which_beats_mailer_toml(issue, monkeypatch) -> None:
    monkeypatch.setenv("MAILER_TRANSPORT", "outbox://from-env")
    code, out = mailer("send", issue, "--yes", "--ledger", "env.sqlite3")
    assert code == 0, out
    assert len(outbox(issue, "from-env")) == 25
    code, out = mailer("send", issue, "--yes", "--transport", "outbox://from-flag",
                       "--ledger", "flag.sqlite3")
    assert len(outbox(issue, "from-flag")) == 25


def test_dry_run_builds_everything_and_sends_nothing(issue: Path) -> None:
    code, out = mailer("send", issue, "--dry-run")
    assert code == 0, out
    assert "Dry run: built 25 messages" in out and "nothing was sent" in out
    assert not (issue.parents[1] / "outbox").exists()
    assert not (issue.parents[1] / ".mailer" / "ledger.sqlite3").exists()


def test_to_sends_a_test_copy_outside_the_ledger(issue: Path) -> None:
    code, out = mailer("send", issue, "--to", "editor@example.org", "--to", "chief@example.org")
    assert code == 0, out
    assert "[TEST] editor@example.org: sent" in out
    box = outbox(issue)
    subjects = sorted(message["Subject"] for message in box)
    assert subjects == ["[TEST] News for friend"] * 2
    assert sorted(message["To"] for message in box) == ["chief@example.org", "editor@example.org"]
    assert not (issue.parents[1] / ".mailer" / "ledger.sqlite3").exists()
    code, out = mailer("send", issue, "--to", "not an address")
    assert code == 2 and "Error: --to: not a valid address" in out


def test_without_yes_and_no_terminal_it_refuses(issue: Path) -> None:
    code, out = mailer("send", issue, "--ledger", "my ledger.sqlite3")
    assert code == 2
    assert out.splitlines()[-1] == (
        "Error: not asking on a non-interactive input: add --yes to send: "
        f"mailer send {issue} --ledger 'my ledger.sqlite3' --yes"
    )
    assert not (issue.parents[1] / "outbox").exists()


@pytest.mark.parametrize(("dsn", "message"), [
    ("pigeon://loft", "Error: transport pigeon://loft: unknown scheme 'pigeon'"),
    ("smtp://bob:hunter2@mail.example.org",
     "Error: transport 'smtp://bob:***@mail.example.org': put the password in the environment"),
    ("smtp://mail.example.org:port", "the port is not a number"),
    ("mailgun://mg.example.org?regoin=eu", "unknown option regoin (known: endpoint, region)"),
])
def test_a_bad_dsn_is_one_line_and_sends_nothing(issue: Path, dsn: str, message: str) -> None:
    code, out = mailer("send", issue, "--yes", "--transport", dsn)
    assert code == 2
    assert message in out
    assert "hunter2" not in out and len(out.splitlines()) == 1  # one Error: line, no traceback
    assert not (issue.parents[1] / ".mailer" / "ledger.sqlite3").exists()


def test_a_missing_api_key_is_named(issue: Path, monkeypatch) -> None:
    monkeypatch.delenv("SENDGRID_API_KEY", raising=False)
    monkeypatch.setenv("MAILER_UNSUBSCRIBE_SECRET", "s" * 40)
    code, out = mailer("send", issue, "--yes", "--transport", "sendgrid://")
    assert code == 2  # a missing secret is input that cannot be used
    assert "SENDGRID_API_KEY" in out


def test_status_before_any_send(issue: Path) -> None:
    code, out = mailer("status", issue)
    assert code == 2 and "has not been sent yet" in out


def test_offline_check_errors_stop_the_send_unless_forced(issue: Path) -> None:
    text = issue.read_text(encoding="utf-8")
    issue.write_text(text.replace('alt: "A photo"', 'alt: "photo.png"'), encoding="utf-8")
    code, out = mailer("send", issue, "--yes")
    assert code == 1
    assert "error [images] the alt text of photo.png is a file name" in out
    assert "not sending: the offline checks found 1 error(s)" in out
    assert "--force" in out
    assert not (issue.parents[1] / "outbox").exists() or len(outbox(issue)) == 0

    code, out = mailer("send", issue, "--yes", "--force")
    assert code == 0, out
    assert len(outbox(issue)) == 25


def test_an_image_outside_the_project_is_never_attached_even_with_force(issue: Path) -> None:
    text = issue.read_text(encoding="utf-8")
    issue.write_text(text.replace("assets/photo.png", "/etc/shadow"), encoding="utf-8")
    code, out = mailer("send", issue, "--yes", "--force")
    assert code == 2
    assert out.splitlines() == [
        f"Error: {issue}:6:11: lead.image.src: '/etc/shadow' is an absolute path; name a file "
        f"inside the project folder {issue.parents[1].resolve()}, relative to the file that "
        "names it"
    ]
    assert not (issue.parents[1] / "outbox").exists()
    assert not (issue.parents[1] / ".mailer" / "ledger.sqlite3").exists()


def test_bad_rows_are_skipped_and_named_or_stop_the_send_with_strict(issue: Path) -> None:
    csv_path = issue.parents[1] / "subscribers.example.csv"
    lines = csv_path.read_text(encoding="utf-8").splitlines()
    lines.insert(3, "not-an-address,Nobody,Nobody,X")  # physical line 4
    csv_path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    code, out = mailer("send", issue, "--yes", "--strict")
    assert code == 2
    assert f"Error: {csv_path}:4: email: not a valid address 'not-an-address'" in out
    assert not (issue.parents[1] / "outbox").exists() or len(outbox(issue)) == 0

    code, out = mailer("send", issue, "--yes")
    assert code == 0, out
    assert f"Warning: {csv_path}:4: email: not a valid address 'not-an-address'" in out
    assert len(outbox(issue)) == 25


def _subscribers_with(issue: Path, line: int, row: str, readers: int = 5) -> Path:
    """The project's subscriber file: ``readers`` good rows, and ``row`` on ``line``."""
    path = issue.parents[1] / "subscribers.example.csv"
    lines = ["email,name"] + [f"reader{n}@example.org,Reader {n}" for n in range(readers)]
    lines.insert(line - 1, row)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("line", "row", "reason"),
    [
        pytest.param(
            3, "huge@example.org," + "x" * 200_000,
            "cannot read the row: field larger than field limit (131072)",
            id="200-kB-field",
        ),
        pytest.param(
            2, 'open@example.org,"Open quote',
            "a double quote is left open: the row runs to the end of the file",
            id="unclosed-quote",
        ),
    ],
)
def test_a_row_the_csv_module_cannot_read_is_skipped_or_stops_the_send_with_strict(
    issue: Path, line: int, row: str, reason: str
) -> None:
    csv_path = _subscribers_with(issue, line, row)

    code, out = mailer("send", issue, "--yes", "--strict")
    assert code == 2
    assert out.splitlines() == [f"Error: {csv_path}:{line}: {reason}"]
    assert not (issue.parents[1] / "outbox").exists() or len(outbox(issue)) == 0

    code, out = mailer("send", issue, "--yes")
    assert code == 0, out
    assert f"Warning: {csv_path}:{line}: {reason}" in out
    assert sorted(message["To"] for message in outbox(issue)) == [
        f"Reader {n} <reader{n}@example.org>" for n in range(5)
    ]


def _nothing_sent(issue: Path) -> bool:
    project = issue.parents[1]
    return not (project / "outbox").exists() and not (project / ".mailer/ledger.sqlite3").exists()


@pytest.mark.parametrize("how", [["--yes"], ["--dry-run"]], ids=["send", "dry-run"])
def test_a_list_without_a_valid_row_is_an_error_and_sends_nothing(issue: Path, how) -> None:
    csv_path = issue.parents[1] / "subscribers.example.csv"
    csv_path.write_text("email,name\nnobody,A\nbad@@example.org,B\n,C\n", encoding="utf-8")
    code, out = mailer("send", issue, *how)
    assert code == 2
    assert out.splitlines()[-1] == (
        f"Error: {csv_path}: no one to send to: 0 valid rows of 3 (3 skipped, see the warnings "
        "above)"
    )
    assert [line.split(": email:")[0] for line in out.splitlines()[:-1]] == [
        f"Warning: {csv_path}:{line}" for line in (2, 3, 4)
    ]
    assert _nothing_sent(issue)


def test_a_list_with_only_a_header_line_is_an_error(issue: Path) -> None:
    csv_path = issue.parents[1] / "subscribers.example.csv"
    csv_path.write_text("email,name\n", encoding="utf-8")
    code, out = mailer("send", issue, "--yes")
    assert code == 2
    assert out.splitlines() == [
        f"Error: {csv_path}: no one to send to: the file has no rows below its header line"
    ]
    assert _nothing_sent(issue)


def test_a_list_whose_readers_all_left_sends_nothing_and_says_so(issue: Path) -> None:
    project = issue.parents[1]
    csv_path = project / "subscribers.example.csv"
    csv_path.write_text(
        "email,name,status\n"
        "gone@example.org,A,unsubscribed\n"
        "bounced@example.org,B,\n"
        "not an address,C,\n",
        encoding="utf-8",
    )
    (project / ".mailer").mkdir()
    (project / ".mailer" / "suppression.csv").write_text(
        "email,reason,date\nbounced@example.org,bounced,2026-01-01\n", encoding="utf-8"
    )
    code, out = mailer("send", issue, "--yes")
    assert code == 0, out  # a correct list and a finished send: nobody is left to write to
    assert out.splitlines()[-1] == (
        f"Warning: {csv_path}: no one to send to: every reader in it has unsubscribed or is on "
        "the suppression list (1 unsubscribed, 1 suppressed, 1 row skipped); nothing was sent"
    )
    assert _nothing_sent(issue)


def test_a_dry_run_reports_the_rows_exactly_as_a_send(
    issue: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(subscribers, "MAX_RECORDED", 2)  # to see the "... and N more" lines
    csv_path = issue.parents[1] / "subscribers.example.csv"
    lines = csv_path.read_text(encoding="utf-8").splitlines()
    lines[0] += ",Created"  # an ignored column
    lines[1:] = [f"{line}," for line in lines[1:]]
    lines[3:3] = [f"bad{n}@@example.org,,,," for n in range(4)] + ['open,"quote,,,,']
    lines.append(lines[1])  # a repeated reader
    lines.append(lines[2])
    csv_path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    code, rehearsal = mailer("send", issue, "--dry-run")
    assert code == 0, rehearsal
    code, sent = mailer("send", issue, "--yes")
    assert code == 0, sent
    warnings = [line for line in rehearsal.splitlines() if line.startswith("Warning:")]
    assert warnings == [line for line in sent.splitlines() if line.startswith("Warning:")]
    assert warnings[2:] == [
        "Warning: ... and 3 more rows skipped",
        f"Warning: {csv_path}:1: ignoring columns 'Created'",
        f"Warning: {csv_path}:32: email: 'reader0@example.org' is already on line 2; row left "
        "out",
        "Warning: ... and 1 more warning",
    ]
    assert "Dry run: built 25 messages" in rehearsal
    assert "Done: sent 25 now" in sent


def test_a_smaller_list_holds_the_other_readers_for_a_later_send(issue: Path) -> None:
    project = issue.parents[1]
    everyone = project / "subscribers.example.csv"
    with Ledger(project / ".mailer" / "ledger.sqlite3") as book:  # 25 queued, none sent yet
        book.fill("send-test", SubscriberReader(everyone))
    small = project / "small.csv"
    write_subscribers(small, 10)

    code, out = mailer("send", issue, "--yes", "--subscribers", small)
    assert code == 0, out
    assert "15 readers in the ledger are not in this subscriber list" in out
    assert len(outbox(issue)) == 10

    code, out = mailer("send", issue, "--yes")  # the full list again: the other 15, once
    assert code == 0, out
    assert "in all 25 sent, 0 failed" in out
    assert len(outbox(issue)) == 25


@pytest.mark.parametrize("userinfo", ["u:{key}@", "{key}@"], ids=["user-and-password", "user"])
def test_an_esp_endpoint_with_a_user_or_password_is_refused_unread(
    issue: Path, monkeypatch: pytest.MonkeyPatch, httpserver, userinfo: str
) -> None:
    key = "SG.abc+def/ghi"
    monkeypatch.setenv("SENDGRID_API_KEY", key)
    monkeypatch.setenv("MAILER_UNSUBSCRIBE_SECRET", "s" * 40)
    endpoint = f"http://{userinfo.format(key=key)}127.0.0.1:{httpserver.port}"
    code, out = mailer("send", issue, "--yes", "--transport", f"sendgrid://?endpoint={endpoint}")
    assert code == 2
    assert out.splitlines() == [
        "Error: transport sendgrid://: ?endpoint= must not hold a user name or password (an @ "
        "in it); the key comes from SENDGRID_API_KEY only"
    ]
    assert httpserver.log == []  # nothing was posted
    assert _nothing_sent(issue)


@pytest.mark.parametrize("transport", ["outbox", "smtp"])
def test_a_reader_the_transport_cannot_carry_is_a_skipped_row_in_a_dry_run_and_a_send(
    issue: Path, monkeypatch: pytest.MonkeyPatch, transport: str
) -> None:
    monkeypatch.setenv("MAILER_UNSUBSCRIBE_SECRET", "s" * 40)
    csv_path = _subscribers_with(issue, 4, "ünï@example.org,Ünï")
    skipped = (
        f"Warning: {csv_path}:4: email: 'ünï@example.org' has characters other than ASCII before "
        "the @, which this send's transport cannot carry (it would need SMTPUTF8)"
    )
    recorder = Recorder()
    server = smtp_server(recorder) if transport == "smtp" else None  # aiosmtpd offers SMTPUTF8
    dsn = f"smtp://127.0.0.1:{server.port}" if server else "outbox://outbox"
    try:
        code, rehearsal = mailer("send", issue, "--dry-run", "--transport", dsn)
        assert code == 0, rehearsal
        code, sent = mailer("send", issue, "--yes", "--transport", dsn)
        assert code == 0, sent
    finally:
        if server:
            server.stop()
    for out in (rehearsal, sent):
        assert [line for line in out.splitlines() if line.startswith("Warning:")] == [skipped]
    assert "Dry run: built 5 messages" in rehearsal
    assert "in all 5 sent, 0 failed, 0 waiting, of 5" in sent
    received = [rcpt for rcpt, _ in recorder.messages] if server else [
        message["To"].split("<")[1].rstrip(">") for message in outbox(issue)
    ]
    assert sorted(received) == [f"reader{n}@example.org" for n in range(5)]


def test_a_test_copy_to_an_address_the_transport_cannot_carry_is_refused(issue: Path) -> None:
    code, out = mailer("send", issue, "--to", "ünï@example.org")
    assert code == 2
    assert out.splitlines() == [
        "Error: --to: 'ünï@example.org' has characters other than ASCII before the @, which "
        "this send's transport cannot carry (it would need SMTPUTF8)"
    ]
    assert not (issue.parents[1] / "outbox").exists()


def test_counts_of_one_read_as_english(issue: Path) -> None:
    csv_path = _subscribers_with(issue, 3, "not-an-address,Nobody", readers=1)
    code, out = mailer("send", issue, "--dry-run")
    assert code == 0, out
    assert "Dry run: built 1 message (" in out
    csv_path.write_text("email,name,status\nreader0@example.org,A,unsubscribed\nbad,B,\n")
    code, out = mailer("send", issue, "--yes")
    assert code == 0, out
    assert "(1 unsubscribed, 0 suppressed, 1 row skipped); nothing was sent" in out


def test_a_send_with_yes_logs_the_audience_as_the_question_shows_it(issue: Path) -> None:
    project = issue.parents[1]
    (project / "subscribers.example.csv").write_text(
        "email,name,status\n"
        "ayse@example.org,A,\n"
        "gone@example.org,B,unsubscribed\n"
        "bounced@example.org,C,\n"
        "not an address,D,\n"
        "omar@example.org,E,\n",
        encoding="utf-8",
    )
    (project / ".mailer").mkdir()
    (project / ".mailer" / "suppression.csv").write_text(
        "email,reason,date\nbounced@example.org,bounced,2026-01-01\n", encoding="utf-8"
    )
    code, out = mailer("send", issue, "--yes")  # as cron or CI run it
    assert code == 0, out
    lines = out.splitlines()
    audience = ("Audience:  2 subscribers (2 from the CSV, 0 signed up; 1 suppressed, "
                "1 unsubscribed, 1 row skipped)")
    assert f"Issue:     send-test ({issue})" in lines and "Transport: outbox://outbox" in lines
    done = next(line for line in lines if line.startswith("Done:"))
    assert lines.index(audience) < lines.index(done)  # said before the send, as the question


def hint(out: str, lead: str) -> list[str]:
    """The command a line of ``out`` starting with ``lead`` tells to run, as a shell splits it."""
    (line,) = [line for line in out.splitlines() if line.startswith(lead)]
    words = shlex.split(line.removeprefix(lead))
    assert words[0] == "mailer"
    return words[1:]


def test_the_hints_after_a_send_repeat_its_options_and_run_as_printed(
    issue: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILER_UNSUBSCRIBE_SECRET", "s" * 40)
    project = issue.parents[1]
    other = project / "other list.csv"  # the list of this send, not mailer.toml's 25 readers
    addresses = write_subscribers(other, 5, start=100)
    settings = project / "mailer test.toml"
    settings.write_text((project / "mailer.toml").read_text(encoding="utf-8").replace(
        "[send]\n", "[send]\nretry_for = \"1s\"\n"
    ), encoding="utf-8")
    busy = Busy(addresses[2], times=1000, faults=Faults(reject={addresses[0]}))
    server = smtp_server(busy)
    transport = f"smtp://127.0.0.1:{server.port}"
    options = ["--subscribers", "other list.csv", "--transport", transport,
               "--ledger", "my ledger.sqlite3", "--settings", "mailer test.toml"]
    try:
        code, out = mailer("send", issue, "--yes", *options)
        assert code == 3, out  # one reader deferred for later, one failed for good
        resume = hint(out, "To resume, run: ")
        failures = hint(out, "See the failures with: ")
        busy.left = 0  # the mailbox takes mail again
        code, out = mailer(*resume)
    finally:
        server.stop()
    assert resume == [
        "send", str(issue), "--subscribers", "other list.csv", "--transport", transport,
        "--ledger", "my ledger.sqlite3", "--settings", "mailer test.toml", "--yes",
    ]
    assert code == 1, out  # finished: the deferred reader got it, the failed one stays failed
    assert "in all 4 sent, 1 failed, 0 waiting, of 5." in out  # the same list and ledger
    assert not (project / ".mailer" / "ledger.sqlite3").exists()

    assert failures == [
        "status", str(issue), "--ledger", "my ledger.sqlite3", "--settings", "mailer test.toml"
    ]
    code, out = mailer(*failures)
    assert code == 0, out
    assert out.startswith("send-test: 4 sent, 1 failed")
    assert f"failed {addresses[0]}: 550 5.1.1" in out


def test_a_resume_hint_names_every_option_the_send_was_given() -> None:
    request = SendRequest(
        Path("issues/news letter.yaml"), settings=Path("conf/mailer.toml"),
        subscribers=Path("lists/it's.csv"), transport="smtp://alice@mail.example.org:587",
        ledger=Path("l.sqlite3"), concurrency=2, rate=5.0, strict=True, force=True,
        edition="tr", assume_yes=False,
    )
    assert request.again() == (
        "mailer send 'issues/news letter.yaml' --subscribers 'lists/it'\"'\"'s.csv' "
        "--transport smtp://alice@mail.example.org:587 --concurrency 2 --rate 5.0 "
        "--ledger l.sqlite3 --strict --force --edition tr --settings conf/mailer.toml --yes"
    )
    assert request.status() == (
        "mailer status 'issues/news letter.yaml' --ledger l.sqlite3 --settings conf/mailer.toml"
    )


def test_the_hint_to_pull_suppressions_names_the_settings_the_send_read(
    issue: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = issue.parents[1] / "mailer.toml"
    settings.write_text(settings.read_text(encoding="utf-8").replace(
        "[list]\n", '[list]\nserve_url = "https://news.example.org/"\n'
    ), encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # cron runs it from elsewhere: pull would not find mailer.toml
    code, out = mailer("send", issue, "--yes")
    assert code == 0, out
    assert shlex.join(["mailer", "suppressions", "pull", "--settings", str(settings)]) in out
