"""``mailer init``'s answers written into the sample mailer.toml, in place.

The sample is a commented file for people to read and edit, so it is not rebuilt from data:
each answer replaces the value of the line that sets its key (or of the commented-out line, then
set), and that line keeps its place and its own comment. Values are TOML basic strings: quotes,
backslashes and control characters escaped, any other character (Çankaya, العربية) as it is.
"""

from __future__ import annotations

import re

from mailer.compose.answers import Answers
from mailer.fields import domain_of, language_keys

# Why readers get the newsletter, in the languages of the theme's labels: the [footer] reason
# in the list's language, and a [footer.<tag>] table's for each other language.
REASONS = {
    "en": "You are receiving this newsletter because you subscribed to it on our website.",
    "tr": "Bu bülteni, web sitemizden abone olduğunuz için alıyorsunuz.",
    "ar": "تصلك هذه النشرة لأنك اشتركت فيها عبر موقعنا الإلكتروني.",
}
FALLBACK = "en"

# The sample's commented-out [footer.<tag>] table, replaced by a table per other language.
FOOTER_EXAMPLE = (
    '# [footer.tr]\n# reason = "Bu bülteni, web sitemizden abone olduğunuz için alıyorsunuz."\n'
)

# How readers unsubscribe: the comment over the [list] unsubscribe keys, and for the answers
# other than the sample's "web", the `unsubscribe` key itself (see docs/unsubscribe-modes.md).
UNSUBSCRIBE_COMMENTS = {
    "web": '# Readers unsubscribe on the web ("web"): at unsubscribe_url, a page `mailer serve` '
           "answers.",
    "esp": '# Readers unsubscribe through the sending service ("esp"), with its own unsubscribe\n'
           "# handling: mailer adds no link of its own.\n"
           'unsubscribe = "esp"',
    "mailto": '# Readers unsubscribe by email ("mailto"): they write to unsubscribe_mailto, and\n'
              "# `mailer bounces` reads their messages from its mailbox.\n"
              'unsubscribe = "mailto"',
}


def settings_text(sample: str, answers: Answers) -> str:
    """The sample mailer.toml ``sample`` with ``answers`` in it."""
    main, *others = answers.languages
    text = sample
    for table, key, value in (
        ("brand", "organisation", answers.organisation),
        ("brand", "logo_alt", answers.organisation),
        ("brand", "website", answers.website),
        ("sender", "name", answers.sender_name),
        ("sender", "address", answers.sender),
        ("footer", "postal_address", answers.postal_address),
        ("list", "id", f"newsletter.{domain_of(answers.sender).lower()}"),
        ("list", "name", f"{answers.organisation} Newsletter"),
        ("list", "language", main),
        ("list", "unsubscribe_url", answers.unsubscribe_url),
        ("social", "url", answers.website),
        ("send", "transport", answers.transport),
    ):
        text = assign(text, table, key, value)
    reason = _reason(main)
    note = None if reason is not None else f"in English: say it in {main}"
    text = assign(text, "footer", "reason", reason or REASONS[FALLBACK], note=note)
    if answers.unsubscribe_mailto is not None:
        text = assign(text, "list", "unsubscribe_mailto", answers.unsubscribe_mailto)
    text = _replace(text, UNSUBSCRIBE_COMMENTS["web"], UNSUBSCRIBE_COMMENTS[answers.unsubscribe])
    if others:
        text = _replace(text, FOOTER_EXAMPLE, "\n".join(_footer_table(tag) for tag in others))
    return text


def _reason(language: str) -> str | None:
    for key in language_keys(language):
        if key in REASONS:
            return REASONS[key]
    return None


def _footer_table(tag: str) -> str:
    reason = _reason(tag)
    if reason is not None:
        return f"[footer.{tag}]\nreason = {toml_string(reason)}\n"
    return (
        f"[footer.{tag}]\n# Why readers get the newsletter, said in {tag} (until then `mailer "
        f"check` warns):\n# reason = {toml_string(REASONS[FALLBACK])}\n"
    )


def assign(text: str, table: str, key: str, value: str, *, note: str | None = None) -> str:
    """``text`` with ``key = value`` in its first ``[table]`` (or ``[[table]]``): on the line
    that sets the key, or that sets it commented out, keeping that line's own comment (or
    putting ``note`` there instead)."""
    setting = re.compile(rf'^(?:#\s*)?{re.escape(key)}(\s*=\s*)"(?:[^"\\]|\\.)*"(.*)$')
    lines = text.split("\n")
    inside = False
    for number, line in enumerate(lines):
        header = re.match(r"^\[\[?\s*([^\]\s]+)\s*\]\]?", line)
        if header:
            inside = header.group(1) == table
            continue
        match = setting.match(line) if inside else None
        if match:
            comment = match.group(2) if note is None else f"   # {note}"
            lines[number] = f"{key}{match.group(1)}{toml_string(value)}{comment}"
            return "\n".join(lines)
    raise LookupError(f"the sample mailer.toml has no {key} in [{table}]")


def _replace(text: str, old: str, new: str) -> str:
    if text.count(old) != 1:
        raise LookupError(f"the sample mailer.toml does not have this once: {old!r}")
    return text.replace(old, new)


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f",
            "\r": "\\r"}


def toml_string(value: str) -> str:
    """``value`` as a TOML basic string (``"..."``)."""
    escaped = "".join(
        _ESCAPES.get(ch) or (f"\\u{ord(ch):04X}" if ord(ch) < 0x20 or ord(ch) == 0x7F else ch)
        for ch in value
    )
    return f'"{escaped}"'
