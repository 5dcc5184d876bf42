"""``send_at:``: an issue that goes out at a set time, whoever runs ``mailer send`` when.

Before the time, a send says when it is scheduled and sends nothing (exit 0), so a cron job or
a CI schedule can run the same command every few minutes and the first run at or after the
time sends; ``--wait`` sleeps until then instead (a systemd timer, a long CI job). The time is
read from a :class:`Clock`, which tests replace.
"""

from __future__ import annotations

import datetime
import time
from typing import Protocol

from mailer.console import Console

NAP = 60.0  # seconds: the longest sleep before the clock is read again (a laptop that slept)


class Clock(Protocol):
    """Where a send reads the time and waits."""

    def now(self) -> datetime.datetime:
        """The current time, with its offset from UTC."""
        ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The computer's clock."""

    def now(self) -> datetime.datetime:
        return datetime.datetime.now(datetime.UTC)

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def in_words(seconds: float) -> str:
    """``3 h 20 min``, ``2 d 4 h``, ``45 s``: how long until a time, to the unit that matters."""
    whole = max(0, round(seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {secs} s" if secs and minutes < 10 else f"{minutes} min"
    return f"{secs} s"


def shown(moment: datetime.datetime) -> str:
    """The time as the issue wrote it (its own offset), to the minute unless it has seconds."""
    return moment.isoformat(sep=" ", timespec="seconds" if moment.second else "minutes")


def seconds_until(moment: datetime.datetime, clock: Clock) -> float:
    return (moment - clock.now()).total_seconds()


def scheduled(moment: datetime.datetime, clock: Clock) -> str | None:
    """"scheduled for ... (in 3 h 20 min)" while ``moment`` is ahead; None once it is due."""
    left = seconds_until(moment, clock)
    if left <= 0:
        return None
    return f"scheduled for {shown(moment)} (in {in_words(left)})"


def wait_until(moment: datetime.datetime, clock: Clock, console: Console) -> None:
    """Sleep until ``moment`` (Ctrl-C stops), saying once what it waits for. The clock is read
    again at least every :data:`NAP` seconds, so a computer that slept does not send late by
    the length of its sleep."""
    left = seconds_until(moment, clock)
    if left <= 0:
        return
    console.say(f"Waiting to send: {scheduled(moment, clock) or shown(moment)}")
    while left > 0:
        clock.sleep(min(left, NAP))
        left = seconds_until(moment, clock)
