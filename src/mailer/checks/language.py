"""Language: the email speaks its readers' language, in their direction.

A right-to-left issue (Arabic, Hebrew, Persian, Urdu) must not tell any element to run left to
right: MJML writes ``direction:ltr`` on every column unless the template says otherwise, and
the text in such a column is merely aligned right, its words and full stops in the wrong order.
(That every text really runs right to left is seen in Chromium, by the rendering check.)

The words the issue's writer did not write, the theme's labels and the footer, should be in the
issue's language too: each one that falls back to another language is a warning naming the
setting to add.
"""

from __future__ import annotations

import html
import re

from mailer.checks.base import CheckOptions, Finding, finding_maker, template_location
from mailer.compose.issue import LoadedIssue
from mailer.compose.render import theme_of
from mailer.compose.theme import LABELS_FILE
from mailer.compose.wording import Untranslated, untranslated
from mailer.delivery.prepare import Prepared
from mailer.fields import language_keys
from mailer.settings import toml_location

CHECK = "language"
_finding = finding_maker(CHECK)

_LEFT_TO_RIGHT = re.compile(r"direction\s*:\s*ltr\b", re.IGNORECASE)


def check(loaded: LoadedIssue, prepared: Prepared, *, options: CheckOptions) -> list[Finding]:
    return [
        *_left_to_right_styles(loaded, prepared.rendered.html),
        *(
            _untranslated(loaded, word) for word in untranslated(loaded)
            if _shown(word, loaded, prepared)
        ),
    ]


def _shown(word: Untranslated, loaded: LoadedIssue, prepared: Prepared) -> bool:
    """Whether readers see ``word`` in this issue: a template word only some issues show
    ("Photo" before a credit, "View in browser" once the site has an address) is no concern
    of an issue that does not."""
    if word.source != "labels":
        return True
    text = word.text.format(organisation=loaded.brand.organisation)
    rendered = prepared.rendered
    return text in rendered.text or html.escape(text, quote=False) in rendered.html


def _left_to_right_styles(loaded: LoadedIssue, html: str) -> list[Finding]:
    if loaded.issue.text_direction != "rtl":
        return []
    count = len(_LEFT_TO_RIGHT.findall(html))
    if not count:
        return []
    return [_finding(
        "error", f"the HTML of this right-to-left issue says direction:ltr {count} time(s): "
        "the text in those elements runs left to right, merely aligned right",
        template_location(loaded, "<mj-attributes"),
        'give <mj-section> and <mj-column> direction="{{ direction }}" in <mj-attributes>, '
        'and drop any direction:ltr from the template; put only a run written left to right, '
        'such as a URL, in <span dir="ltr">',
    )]


def _untranslated(loaded: LoadedIssue, word: Untranslated) -> Finding:
    language = loaded.issue.language
    table = language_keys(language)[-1]
    shown = f"'{word.text}'"
    if word.source == "labels":
        theme = theme_of(loaded)
        labels = theme.path(LABELS_FILE)
        copy = "" if theme.project_folder and labels.is_relative_to(theme.project_folder) else (
            f" (copy {labels} into the project's templates/ folder first)"
        )
        return _finding(
            "warning", f"readers of this '{language}' issue see the template word "
            f"{word.key} in '{word.shown_in}': {shown}", toml_location(labels, table),
            f"add {word.key} = \"...\" to the [{table}] table of labels.toml{copy}",
        )
    return _finding(
        "warning", f"readers of this '{language}' issue see the footer's {word.key} in "
        f"'{word.shown_in}': {shown}", toml_location(loaded.settings.path, "footer", word.key),
        f"add [footer.{table}] {word.key} to mailer.toml (or footer: {word.key}: in the issue)",
    )
