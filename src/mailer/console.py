"""Where the commands talk to the person running them: lines, warnings, a question, progress.

The library reports through a :class:`Console` and never prints by itself, so the same send or
check can run under the CLI, in a test (``CliRunner`` captures it) or in another program.
Progress is a bar with rate and ETA on a terminal, and one plain line every few seconds
otherwise (a CI log, a file), so a long send is never silent.
"""

from __future__ import annotations

import shlex
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import typer

from mailer.credentials import environment_redactor
from mailer.errors import UsageError

PROGRESS_EVERY = 5.0  # seconds between progress lines when the output is not a terminal


def plural(number: int, singular: str, plural_form: str | None = None) -> str:
    """``singular`` when ``number`` is 1, else ``plural_form`` (``singular`` + "s" unless
    given): ``plural(n, "was", "were")``."""
    return singular if number == 1 else plural_form or f"{singular}s"


def count(number: int, singular: str, plural_form: str | None = None) -> str:
    """``1 recipient``, ``0 messages``, ``1,200 rows``: a number and its noun as English has
    them."""
    return f"{number:,} {plural(number, singular, plural_form)}"


def command_line(*words: object, **options: object) -> str:
    """``mailer WORDS --name VALUE ...``, every part quoted for a shell: a hint that does what
    it says when pasted. An option that is None or False is left out, True is a bare flag, and
    ``name_like_this`` is written ``--name-like-this``."""
    parts = ["mailer", *map(str, words)]
    for name, value in options.items():
        if value is None or value is False:
            continue
        parts.append(f"--{name.replace('_', '-')}")
        if value is not True:
            parts.append(str(value))
    return shlex.join(parts)


Update = Callable[..., None]  # update(done, deferred=0)


class Console:
    """Plain text to standard output, warnings and questions to the terminal.

    Everything said passes through a redactor of the secrets in the environment: a last net
    under the transports' own care, so that no secret reaches a terminal or a log.
    """

    def __init__(self) -> None:
        self.redact = environment_redactor()

    def say(self, text: str, *, err: bool = False) -> None:
        typer.echo(self.redact(text), err=err)

    def warn(self, text: str) -> None:
        typer.echo(self.redact(f"Warning: {text}"), err=True)

    @property
    def interactive(self) -> bool:
        """Whether there is someone to ask: standard input is a terminal (not CI, not a pipe)."""
        return sys.stdin.isatty()

    def confirm(self, question: str, *, otherwise: str) -> None:
        """Ask ``question``; only a yes goes on. Without a terminal to ask on, UsageError
        with ``otherwise`` (what to add to the command instead)."""
        if not self.interactive:
            raise UsageError(f"not asking on a non-interactive input: {otherwise}")
        typer.confirm(question, abort=True)

    def ask(self, question: str, default: str | None = None) -> str:
        """The answer typed to ``question``; an empty one is ``default``, shown in brackets
        (without a default the question is asked again). Only when :attr:`interactive`."""
        if not self.interactive:
            raise UsageError(f"not asking on a non-interactive input: {question}")
        return str(typer.prompt(question, default=default))

    @contextmanager
    def progress(self, label: str, total: int, done: int = 0) -> Iterator[Update]:
        """A progress report for ``total`` items of which ``done`` are done; yields the
        function to call with the new number done (and how many wait to be retried)."""
        if sys.stdout.isatty():
            with _bar(label, total, done) as update:
                yield update
        else:
            yield _Lines(self, label, total, done)


@contextmanager
def _bar(label: str, total: int, done: int) -> Iterator[Update]:
    from rich.progress import (  # only a terminal needs rich: keeps other runs quick
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    began, start = time.monotonic(), done
    columns = (
        TextColumn(label), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
        TextColumn("{task.fields[rate]}"), TextColumn("{task.fields[deferred]}"),
        TimeRemainingColumn(),
    )
    with Progress(*columns) as bar:
        task = bar.add_task(label, total=total, completed=done, rate="", deferred="")

        def update(now_done: int, deferred: int = 0) -> None:
            per_second = (now_done - start) / max(time.monotonic() - began, 1e-3)
            bar.update(
                task, completed=now_done, rate=f"{per_second:,.0f}/s",
                deferred=f"{deferred:,} deferred" if deferred else "",
            )

        yield update


class _Lines:
    """``Sending: 1,200 of 20,000 (6%), 850/s, 3 deferred, about 20 s left`` every few
    seconds, and once at the end."""

    def __init__(self, console: Console, label: str, total: int, done: int) -> None:
        self._console = console
        self._label = label
        self._total = total
        self._start = done
        self._began = self._last = time.monotonic()
        self._reported = -1  # the ``done`` of the last line written

    def __call__(self, done: int, deferred: int = 0) -> None:
        now = time.monotonic()
        if (now - self._last < PROGRESS_EVERY and done < self._total) or done == self._reported:
            return  # the last line once, not again while the workers wind down
        self._last, self._reported = now, done
        rate = (done - self._start) / max(now - self._began, 1e-3)
        share = f" ({done / self._total:.0%})" if self._total else ""
        line = f"{self._label}: {done:,} of {self._total:,}{share}, {rate:,.0f}/s"
        if deferred:
            line += f", {deferred:,} deferred"
        if rate > 0 and done < self._total:
            line += f", about {_duration((self._total - done) / rate)} left"
        self._console.say(line)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
