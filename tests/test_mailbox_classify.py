"""Judging what comes back to the bounce mailbox: each real-world shape, with its evidence, and
the order in which a report is tied to a reader."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from bounces import FIXTURES, ISSUE, LINKS, MAILTO, OUR_ID, judge, nobody

from mailer.audience.unsubscribe import Claims
from mailer.feedback.mailbox.classify import parse

# The token of the Gmail fixture: of the old format, as in mail sent before issue #18.
OLD_TOKEN = "cXVpdHRlckBleGFtcGxlLm5ldA.Z2q0cPTZiZuAhLgmW4KeJVFW8iRIXHx0AT7GBstP2n0"

# --- every fixture ------------------------------------------------------------------------

CASES = [
    # file, verdict, address, detail, evidence the verdict must quote
    ("postfix-5.1.1-user-unknown.eml", "bounce", "nobody-here@example.net",
     "5.1.1 smtp; 550 5.1.1 <nobody-here@example.net>: Recipient address rejected: "
     "User unknown in virtual mailbox table",
     ["Delivered-To: bounces+goik6llguu6hnmid@example.org", "Action: failed", "Status: 5.1.1",
      "Final-Recipient: rfc822; nobody-here@example.net"]),
    ("postfix-4.2.2-mailbox-full-delayed.eml", "soft_bounce", "full-mailbox@example.net",
     "4.2.2 smtp; 452 4.2.2 <full-mailbox@example.net>: Mailbox full",
     ["Action: delayed", "Status: 4.2.2"]),
    ("exim-rfc3464-5.1.1.eml", "bounce", "gone@example.com",
     "5.0.0 smtp; 550 5.1.1 <gone@example.com>: Recipient address rejected: User unknown in "
     "local recipient table",
     ["Envelope-to: bounces+ygvs4vmmkv2gzvzz@example.org", "Status: 5.0.0",
      "Final-Recipient: rfc822;gone@example.com"]),
    ("exim-classic-text.eml", "bounce", "old-reader@example.net",
     "5.1.1 SMTP error from remote mail server after RCPT TO:<old-reader@example.net>: host "
     "mx.example.net [203.0.113.25]: 550 5.1.1 <old-reader@example.net>... User unknown",
     ["X-Failed-Recipients: old-reader@example.net", "old-reader@example.net",
      "recipients. This is a permanent error. The following address(es) failed:"]),
    ("microsoft365-ndr-5.1.10.eml", "bounce", "left-the-org@example.com",
     "5.1.10 smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP "
     "address lookup",
     ["Status: 5.1.10", "Diagnostic-Code: smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound; "
      "Recipient not found by SMTP address lookup"]),
    ("gmail-address-not-found.eml", "bounce", "no-such-user@example.com",
     "5.1.1 smtp; 550-5.1.1 The email account that you tried to reach does not exist. Please "
     "try 550-5.1.1 double-checking the recipient's email address for typos or 550-5.1.1 "
     "unnecessary spaces. Learn more at 550 5.1.1  https://support.google.com/mail/?p=NoSuchUser"
     " h4si5512345vkd.212 - gsmtp",
     ["Status: 5.1.1", "Final-Recipient: rfc822; no-such-user@example.com"]),
    ("microsoft-jmrp-abuse.eml", "complaint", "reader@example.com", "abuse",
     ["Feedback-Type: abuse", "User-Agent: JMRP/1.0"]),
    ("yahoo-arf-abuse.eml", "complaint", "yahoo-reader@example.net", "abuse",
     ["Feedback-Type: abuse", "Original-Mail-From: <bounces+6cllqwfk4c25w2jr@example.org>"]),
    ("unsubscribe-mailto.eml", "unsubscribe", "quitter@example.net", f"mail to {MAILTO}",
     ["To: unsubscribe@example.org"]),
    ("apple-mail-unsubscribe.eml", "unsubscribe", "mac.reader@example.net",
     f"mail to {MAILTO}", ["To: unsubscribe@example.org"]),
    ("gmail-vacation-auto-reply.eml", "auto_reply", None, None,
     ["Auto-Submitted: auto-replied"]),
    ("exchange-automatic-reply.eml", "auto_reply", None, None,
     ["X-MS-Exchange-Inbox-Rules-Loop: on-leave@example.com",
      "Subject: Automatic reply: IOM Turkey Newsletter: December 2017 – March 2018"]),
    ("reader-reply.eml", "unknown", None, None,
     ["From: Happy Reader <happy.reader@example.net>"]),
    ("postfix-backscatter.eml", "unknown", None, None,
     ["Final-Recipient: rfc822; random.person@example.com", "Status: 5.1.1"]),
]
EVENT_KINDS = {"bounce": "bounced", "soft_bounce": "soft_bounce", "complaint": "complained",
               "unsubscribe": "unsubscribed"}


@pytest.mark.parametrize(("name", "kind", "address", "detail", "evidence"), CASES,
                         ids=[case[0].removesuffix(".eml") for case in CASES])
def test_each_fixture_is_judged_with_its_evidence(
    name: str, kind: str, address: str | None, detail: str | None, evidence: list[str]
) -> None:
    verdict = judge(name)
    assert verdict.kind == kind, verdict.reason
    assert set(evidence) <= set(verdict.evidence), verdict.evidence
    own = parse((FIXTURES / name).read_bytes())["Message-ID"].strip().strip("<>")
    assert verdict.message_id == own
    if address is None:
        assert verdict.events == ()
        assert verdict.handled == (kind == "auto_reply")
        return
    [event] = verdict.events
    assert (event.kind, event.address, event.detail) == (EVENT_KINDS[kind], address, detail)
    assert (event.source, event.event_id) == ("mailbox", own)
    assert set(evidence) <= set(event.raw.splitlines())
    if kind != "unsubscribe":  # the fixtures' unsubscribe tokens are old ones, without issue
        assert (event.issue_id, event.message_id) == (ISSUE, OUR_ID)
    assert verdict.handled


def test_the_evidence_is_every_line_the_bounce_verdict_read() -> None:
    verdict = judge("postfix-5.1.1-user-unknown.eml")
    assert verdict.message_id == "20180313072158.4B7F71C0A3B@mail.example.org"
    assert verdict.evidence == (
        "Delivered-To: bounces+goik6llguu6hnmid@example.org",
        "Final-Recipient: rfc822; nobody-here@example.net",
        "Original-Recipient: rfc822;nobody-here@example.net",
        "Action: failed",
        "Status: 5.1.1",
        "Diagnostic-Code: smtp; 550 5.1.1 <nobody-here@example.net>: Recipient address "
        "rejected: User unknown in virtual mailbox table",
        f"Message-ID: <{OUR_ID}>",
    )
    assert verdict.reason == (
        "delivery report: bounced (5.1.1) for nobody-here@example.net (named by the return path)"
    )
    assert verdict.events[0].occurred_at == 1520925718.0  # its Date, 10:21:58 +0300


# --- who: the return path first, then what the report names, if we sent to it ----------------


def test_a_dsn_without_a_known_return_path_falls_back_to_the_addresses_it_names() -> None:
    asked: list[tuple[str | None, str]] = []
    verdict = judge("postfix-5.1.1-user-unknown.eml", verp=nobody, asked=asked)
    assert verdict.kind == "bounce"
    assert verdict.events[0].address == "nobody-here@example.net"
    assert asked == [(ISSUE, "nobody-here@example.net")]  # the issue from the returned Message-ID
    assert "named in the report; we sent to it" in verdict.reason


def test_a_dsn_about_an_address_we_never_sent_to_suppresses_no_one() -> None:
    verdict = judge("postfix-5.1.1-user-unknown.eml", verp=nobody, sent=set())
    assert (verdict.kind, verdict.events) == ("unknown", ())
    assert verdict.reason == (
        "a delivery report about nobody-here@example.net, to whom we did not send"
    )
    assert "Status: 5.1.1" in verdict.evidence  # a person can still see what it said
    backscatter = judge("postfix-backscatter.eml")
    assert (backscatter.kind, backscatter.events) == ("unknown", ())


def test_the_return_path_names_the_reader_even_when_the_failing_address_is_a_forward() -> None:
    def forwarded(token: str) -> tuple[str, str] | None:
        return (ISSUE, "alias@example.com") if token == "goik6llguu6hnmid" else None

    verdict = judge("postfix-5.1.1-user-unknown.eml", verp=forwarded)
    assert verdict.events[0].address == "alias@example.com"
    assert verdict.events[0].detail.startswith("5.1.1 ")


def test_a_return_path_lowercased_on_the_way_still_names_the_reader() -> None:
    data = (FIXTURES / "postfix-5.1.1-user-unknown.eml").read_bytes().replace(
        b"bounces+goik6llguu6hnmid@example.org", b"BOUNCES+GOIK6LLGUU6HNMID@EXAMPLE.ORG"
    )
    verdict = judge(data, sent=set())  # only the token can name the reader here
    assert verdict.events[0].address == "nobody-here@example.net"


def test_a_complaint_is_tied_by_return_path_then_unsubscribe_token_then_original_rcpt_to() -> None:
    name = "yahoo-arf-abuse.eml"

    def elsewhere(token: str) -> tuple[str, str] | None:
        return (ISSUE, "verp-reader@example.net") if token == "6cllqwfk4c25w2jr" else None

    def token_names(token: str) -> Claims | None:
        return Claims("token-reader@example.net", None) if LINKS.verify(token) else None

    first = judge(name, verp=elsewhere, unsubscribe=token_names)
    assert first.events[0].address == "verp-reader@example.net"
    assert "named by the return path" in first.reason
    second = judge(name, verp=nobody, unsubscribe=token_names)
    assert second.events[0].address == "token-reader@example.net"
    assert second.events[0].issue_id == ISSUE  # from our Message-ID in the returned headers
    assert "named by an unsubscribe token" in second.reason
    asked: list[tuple[str | None, str]] = []
    third = judge(name, verp=nobody, unsubscribe=nobody, asked=asked)
    assert third.events[0].address == "yahoo-reader@example.net"
    assert asked == [(ISSUE, "yahoo-reader@example.net")]
    assert "Original-Rcpt-To: yahoo-reader@example.net" in third.evidence
    none = judge(name, verp=nobody, unsubscribe=nobody, sent=set())
    assert (none.kind, none.events) == ("unknown", ())


def test_a_redacted_jmrp_complaint_is_tied_by_the_unsubscribe_token_alone() -> None:
    assert judge("microsoft-jmrp-abuse.eml", unsubscribe=nobody).kind == "unknown"
    verdict = judge("microsoft-jmrp-abuse.eml", sent=set())
    assert verdict.events[0].address == "reader@example.com"
    assert any(line.startswith("List-Unsubscribe: <https://") for line in verdict.evidence)


def test_a_complaint_tied_by_a_new_token_is_counted_for_the_token_s_issue() -> None:
    old = "cmVhZGVyQGV4YW1wbGUuY29t.tXrJBPkDQYQDXPwp455PsS5Fwc5A8Vxi88G6-MmTjow"
    data = (FIXTURES / "microsoft-jmrp-abuse.eml").read_bytes().replace(
        old.encode(), LINKS.token("reader@example.com").encode()
    ).replace(OUR_ID.encode(), b"redacted@example.org")
    [event] = judge(data, sent=set()).events
    assert (event.address, event.issue_id) == ("reader@example.com", ISSUE)


@pytest.mark.parametrize("feedback_type", ["not-spam", "auth-failure", "virus"])
def test_feedback_that_is_not_a_complaint_is_left_for_a_person(feedback_type: str) -> None:
    data = (FIXTURES / "yahoo-arf-abuse.eml").read_bytes().replace(
        b"Feedback-Type: abuse", f"Feedback-Type: {feedback_type}".encode()
    )
    verdict = judge(data)
    assert (verdict.kind, verdict.events) == ("unknown", ())
    assert f"Feedback-Type: {feedback_type}" in verdict.evidence


# --- reports of several recipients, or of no failure -----------------------------------------

TWO_BLOCKS = (FIXTURES / "postfix-5.1.1-user-unknown.eml").read_bytes().replace(
    b"    rejected: User unknown in virtual mailbox table\n\n--4B7F",
    b"    rejected: User unknown in virtual mailbox table\n\n"
    b"Final-Recipient: rfc822; full-mailbox@example.net\nAction: delayed\nStatus: 4.2.2\n\n--4B7F",
)


def test_one_report_about_several_readers_gives_one_event_each() -> None:
    verdict = judge(TWO_BLOCKS, verp=nobody)
    assert verdict.kind == "bounce"  # the worst of them
    own = "20180313072158.4B7F71C0A3B@mail.example.org"
    assert [(e.kind, e.address, e.event_id) for e in verdict.events] == [
        ("bounced", "nobody-here@example.net", f"{own}#nobody-here@example.net"),
        ("soft_bounce", "full-mailbox@example.net", f"{own}#full-mailbox@example.net"),
    ]


def test_a_return_path_with_several_other_addresses_in_the_report_is_ambiguous() -> None:
    def elsewhere(token: str) -> tuple[str, str] | None:
        return (ISSUE, "someone-else@example.net")

    verdict = judge(TWO_BLOCKS, verp=elsewhere)
    assert (verdict.kind, verdict.events) == ("unknown", ())


def test_a_report_of_delivery_is_not_a_bounce() -> None:
    data = (FIXTURES / "postfix-5.1.1-user-unknown.eml").read_bytes().replace(
        b"Action: failed\nStatus: 5.1.1", b"Action: delivered\nStatus: 2.0.0"
    )
    verdict = judge(data)
    assert verdict.kind == "unknown"
    assert verdict.reason == "a delivery report without a failure in it"


# --- Exim's classic text: exactly that form, or nothing --------------------------------------


def test_the_exim_text_bounce_falls_back_to_the_issue_of_the_copied_message() -> None:
    asked: list[tuple[str | None, str]] = []
    verdict = judge("exim-classic-text.eml", verp=nobody, asked=asked)
    assert verdict.kind == "bounce"
    assert asked == [(ISSUE, "old-reader@example.net")]


def test_the_exim_text_bounce_status_is_the_replys_never_a_piece_of_an_ip_address() -> None:
    original = (FIXTURES / "exim-classic-text.eml").read_bytes()
    at_odd_host = original.replace(b"[203.0.113.25]", b"[10.4.5.6]")
    assert judge(at_odd_host).events[0].detail.startswith("5.1.1 SMTP error")
    temporary = original.replace(b": 550 5.1.1 <", b": 452 <")
    [event] = judge(temporary).events
    assert (event.kind, event.detail[:6]) == ("soft_bounce", "4.0.0 ")


def test_an_exim_text_bounce_at_odds_with_its_x_failed_recipients_is_not_believed() -> None:
    data = (FIXTURES / "exim-classic-text.eml").read_bytes().replace(
        b"X-Failed-Recipients: old-reader@example.net",
        b"X-Failed-Recipients: someone@example.net",
    )
    assert judge(data).kind == "unknown"


def test_text_that_only_resembles_an_exim_bounce_is_not_one() -> None:
    data = (FIXTURES / "exim-classic-text.eml").read_bytes().replace(
        b"This is a permanent error. ", b""
    )
    verdict = judge(data)
    assert verdict.kind == "unknown"  # and not an auto-reply either: it is a mail system's
    assert "maybe a bounce" in verdict.reason


# --- auto-replies are never bounces ------------------------------------------------------------


@pytest.mark.parametrize("name", ["gmail-vacation-auto-reply.eml",
                                  "exchange-automatic-reply.eml"])
def test_auto_replies_to_the_return_path_never_bounce(name: str) -> None:
    verdict = judge(name)  # their return path names a reader we sent to
    assert (verdict.kind, verdict.events, verdict.handled) == ("auto_reply", (), True)


@pytest.mark.parametrize("header", ["X-Autoreply: yes", "X-Autorespond: on",
                                    "Precedence: auto_reply"])
def test_the_older_auto_reply_marks_are_known(header: str) -> None:
    data = (FIXTURES / "gmail-vacation-auto-reply.eml").read_bytes().replace(
        b"Auto-Submitted: auto-replied", header.encode()
    )
    assert judge(data).evidence == (header,)


# --- mail to the unsubscribe address -------------------------------------------------------


def test_the_unsubscribe_token_names_the_address_not_the_sender() -> None:
    verdict = judge("unsubscribe-mailto.eml")
    [event] = verdict.events
    assert event.address == "quitter@example.net"
    assert "q.itter.personal@example.com" not in event.raw


def mail_client_unsubscribe(mailto: str, client: str) -> bytes:
    """The message a mail client sends when its reader follows the mailto of List-Unsubscribe
    (RFC 2369): To the mailto's address, its subject as given, from the reader's own account
    (here another than the subscribed one)."""
    target = urlsplit(mailto)
    subject = parse_qs(target.query)["subject"][0]
    head = (f"From: Q Itter <q.itter.personal@example.com>\r\nTo: {unquote(target.path)}\r\n"
            f"Subject: {subject}\r\nDate: Tue, 17 Mar 2026 10:17:08 +0000\r\n"
            "MIME-Version: 1.0\r\n")
    if client == "gmail":
        return (head + "Message-ID: <CAGp3Jh8vR0yQ4kZ2tW6nB9xL1cF5mD7sE3aH0uJ@mail.gmail.com>\r\n"
                'Content-Type: text/plain; charset="UTF-8"\r\n\r\n'
                "This message was automatically generated by Gmail.\r\n").encode()
    return (head + "Message-ID: <DB9PR02MB7260A1B2C3D4E5F6@DB9PR02MB7260.eurprd02.prod.outlook."
            "com>\r\nContent-Type: text/plain; charset=\"us-ascii\"\r\n"
            "Content-Transfer-Encoding: quoted-printable\r\nX-MS-Has-Attach:\r\n"
            "X-MS-TNEF-Correlator:\r\n\r\n\r\n").encode()


@pytest.mark.parametrize("client", ["gmail", "outlook"])
def test_a_mailto_unsubscribe_is_counted_for_the_issue_its_token_names(client: str) -> None:
    _, mailto = LINKS.targets("Quitter@Example.net")
    assert mailto is not None
    verdict = judge(mail_client_unsubscribe(mailto, client))
    assert verdict.kind == "unsubscribe", verdict.reason
    [event] = verdict.events
    assert (event.kind, event.address, event.issue_id) == (
        "unsubscribed", "quitter@example.net", ISSUE
    )
    assert "q.itter.personal@example.com" not in event.raw


@pytest.mark.parametrize(
    ("token", "issue"), [(OLD_TOKEN, None), (LINKS.token("quitter@example.net"), ISSUE)],
    ids=["old token", "new token"],
)
def test_an_unsubscribe_token_in_the_to_address_or_the_body_counts(
    token: str, issue: str | None
) -> None:
    original = (FIXTURES / "unsubscribe-mailto.eml").read_bytes()
    in_to = original.replace(b"To: unsubscribe@example.org",
                             b"To: unsubscribe+" + token.encode() + b"@example.org")
    in_to = in_to.replace(b"Subject: unsubscribe " + OLD_TOKEN.encode(), b"Subject: unsubscribe")
    in_body = original.replace(b"Subject: unsubscribe " + OLD_TOKEN.encode(),
                               b"Subject: stop").replace(
        b"generated by Gmail.", b"generated by Gmail.\n\nunsubscribe " + token.encode()
    )
    for data in (in_to, in_body):
        assert OLD_TOKEN.encode() not in data or token == OLD_TOKEN
        [event] = judge(data).events
        assert (event.address, event.issue_id) == ("quitter@example.net", issue)


def test_apple_mails_unsubscribe_is_marked_auto_replied_and_still_unsubscribes() -> None:
    verdict = judge("apple-mail-unsubscribe.eml")
    assert verdict.kind == "unsubscribe"
    assert judge("apple-mail-unsubscribe.eml", mailto=None).kind == "auto_reply"


@pytest.mark.parametrize("token", [OLD_TOKEN, LINKS.token("quitter@example.net")],
                         ids=["old token", "new token"])
def test_mail_to_the_unsubscribe_address_without_a_genuine_token_is_left_for_a_person(
    token: str,
) -> None:
    gmail = (FIXTURES / "unsubscribe-mailto.eml").read_bytes().replace(
        OLD_TOKEN.encode(), token.encode()
    )
    assert judge(gmail).kind == "unsubscribe"
    forged = gmail.replace(token.encode(), token[:-4].encode() + b"AAAA")
    verdict = judge(forged)
    assert (verdict.kind, verdict.events) == ("unknown", ())
    assert "without a genuine unsubscribe token" in verdict.reason
    assert judge(gmail, mailto=None).kind == "unknown"


def test_a_readers_reply_quoting_their_unsubscribe_link_unsubscribes_no_one() -> None:
    verdict = judge("reader-reply.eml")
    assert (verdict.kind, verdict.events, verdict.handled) == ("unknown", (), False)


# --- whatever the message, a verdict -----------------------------------------------------------


def test_without_a_message_id_the_event_id_is_the_hash_of_the_bytes() -> None:
    data = (FIXTURES / "postfix-5.1.1-user-unknown.eml").read_bytes().replace(
        b"Message-Id: <20180313072158.4B7F71C0A3B@mail.example.org>\n", b""
    )
    first, again = judge(data), judge(data)
    assert first.message_id is None
    assert first.events[0].event_id.startswith("sha256:")
    assert first.events[0].event_id == again.events[0].event_id


@pytest.mark.parametrize("data", [
    b"", b"\x00\xff\xfe garbage", b"Content-Type: multipart/report; report-type=delivery-status"
    b"; boundary=x\n\n--x\nContent-Type: message/delivery-status\n\n\xff\n--x--\n",
    b"Content-Type: multipart/report; report-type=feedback-report\n\nno parts",
])
def test_anything_unreadable_is_unknown(data: bytes) -> None:
    verdict = judge(data)
    assert (verdict.kind, verdict.events) == ("unknown", ())
