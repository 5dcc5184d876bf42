"""Notices (a sign-up's confirmation email): each message made from the notice's kept
factory is a whole message of its own, with its link, its Message-ID, and the time it was
made."""

from __future__ import annotations

import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

from projects import new_project

from mailer.delivery.notices import Notice, Notices
from mailer.settings import settings_for

NOTICE = Notice("ar", "أكد اشتراكك", ("افتح هذا الرابط:",), ("إن لم تكن أنت، تجاهل هذه الرسالة.",))


def parsed(data: bytes) -> EmailMessage:
    return message_from_bytes(data, policy=policy.default)  # type: ignore[return-value]


def notices(tmp_path: Path) -> Notices:
    root = new_project(tmp_path / "news").root
    return Notices(settings_for(root, root / "mailer.toml"))


def test_two_notices_to_one_address_are_two_messages_with_their_own_links(
    tmp_path: Path,
) -> None:
    made = notices(tmp_path)
    links = [f"https://news.example.org/subscribe/confirm?token=T{n}&lang=ar" for n in (1, 2)]
    first, second = (parsed(made.message("ayse@example.org", "Ayşe", NOTICE, link).data)
                     for link in links)
    assert first["Message-ID"] != second["Message-ID"]  # not taken for a copy of the first
    for message, link in zip((first, second), links, strict=True):
        assert message["To"] == "Ayşe <ayse@example.org>"
        assert message["Subject"] == "أكد اشتراكك"
        assert message["Content-Language"] == "ar"
        assert "List-Unsubscribe" not in message  # not on the list yet
        text = message.get_body(("plain",))
        html = message.get_body(("html",))
        assert text is not None and html is not None
        assert text.get_content().replace("\r\n", "\n") == (
            f"افتح هذا الرابط:\n\n{link}\n\nإن لم تكن أنت، تجاهل هذه الرسالة.\n"
        )
        escaped = link.replace("&", "&amp;")
        assert f'<a href="{escaped}">{escaped}</a>' in html.get_content()
        assert 'dir="rtl"' in html.get_content()


def test_a_notice_is_dated_when_it_is_made_not_when_its_factory_was(tmp_path: Path) -> None:
    made = notices(tmp_path)
    made.message("ayse@example.org", "", NOTICE, "https://news.example.org/c?token=1")
    started = int(time.time())
    while int(time.time()) == started:  # the next second: the first factory's date is past
        time.sleep(0.05)
    before = int(time.time())
    later = parsed(made.message("ayse@example.org", "", NOTICE,
                                "https://news.example.org/c?token=2").data)
    assert parsedate_to_datetime(later["Date"]).timestamp() >= before
