"""The few pages ``mailer serve`` shows a person: the unsubscribe page and its answers.

Plain HTML with a little inline CSS, no JavaScript, no outside resources: it works in a text
browser and on any phone. The words come from the theme's labels in the reader's language: the
``lang`` of the link (``{lang}`` in ``[list] unsubscribe_url``: the language of the edition
the reader got), else the browser's ``Accept-Language``, else the list's ``[list] language``;
written right to left for Arabic, Hebrew, Persian and Urdu.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Response, request
from jinja2 import Environment, select_autoescape
from markupsafe import Markup

from mailer.compose.theme import theme_for
from mailer.compose.wording import label_tables, labels_for
from mailer.fields import direction_of, language_keys
from mailer.settings import LoadedSettings

_ESCAPED = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
_PAGE = _ESCAPED.from_string(
    """<!DOCTYPE html>
<html lang="{{ language }}" dir="{{ direction }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<meta name="color-scheme" content="light dark">
<title>{{ title }}</title>
<style>
body { font-family: {{ font }}; max-width: 34rem; margin: 3rem auto; padding: 0 1.25rem;
       line-height: 1.5; color: #1a1a1a; background: #fff; }
h1 { font-size: 1.4rem; color: {{ colour }}; }
.address { font-weight: bold; overflow-wrap: anywhere; }
button { font: inherit; font-size: 1.05rem; padding: .7rem 1.4rem; border: 0; border-radius: 4px;
         background: {{ colour }}; color: #fff; cursor: pointer; }
button:focus { outline: 3px solid #1a1a1a; outline-offset: 2px; }
input, fieldset { font: inherit; margin-bottom: .5rem; }
fieldset { border: 1px solid #999; border-radius: 4px; }
.mailer-error, .mailer-note { font-weight: bold; color: #a4000f; }
button.mailer-secondary { background: transparent; color: inherit; text-decoration: underline;
                          padding: .3rem 0; }
@media (prefers-color-scheme: dark) {
  body { color: #f0f0f0; background: #121212; } h1 { color: #9fc3ff; }
  button { background: #9fc3ff; color: #121212; } button:focus { outline-color: #f0f0f0; }
}
</style>
</head>
<body>
<main>
<h1>{{ title }}</h1>
{% if address %}<p class="address">{{ address }}</p>{% endif %}
{% if text %}<p>{{ text }}</p>{% endif %}
{% if action %}
<form method="post" action="{{ action }}">
<button type="submit">{{ button }}</button>
</form>
{% endif %}
{{ body }}
</main>
</body>
</html>
""")


@dataclass(frozen=True)
class Pages:
    """The pages for one list, in each language the theme has words for."""

    list_name: str
    labels: dict[str, dict[str, str]]  # language -> the theme's words in it
    language: str  # the list's: when neither the link nor the browser names one we have
    colour: str
    font: str

    @classmethod
    def for_settings(cls, loaded: LoadedSettings) -> Pages:
        settings = loaded.settings
        organisation = settings.brand.organisation
        theme = theme_for(loaded.base_dir)
        languages = {settings.list.language, *label_tables(theme)}
        return cls(
            list_name=settings.list.name or organisation,
            labels={
                language: labels_for(theme, language, organisation) for language in languages
            },
            language=settings.list.language,
            colour=settings.brand.primary_color,
            font=settings.brand.font_family,
        )

    def _language(self) -> str:
        """The language of the page for this request (see the module's docstring)."""
        for candidate in language_keys(request.args.get("lang", "")):
            if candidate in self.labels:
                return candidate
        found = request.accept_languages.best_match(sorted(self.labels))
        return found or self.language

    def _page(
        self, status: int, *, label: str = "", text: str = "", address: str = "",
        action: str = "",
    ) -> Response:
        """A page saying the theme's words ``label``, or ``text`` as it is."""
        language = self._language()
        labels = self.labels[language]
        return self.page(status, language, labels[label] if label else text, address=address,
                         action=action, button=labels["page_button"])

    def page(
        self, status: int, language: str, text: str, *, address: str = "", action: str = "",
        button: str = "", body: Markup | str = "",
    ) -> Response:
        """A page in ``language`` saying ``text``; with a button posting to ``action``, and
        ``body`` (a form) under it."""
        return self.respond(self.html(language, text, address=address, action=action,
                                      button=button, body=body), status)

    def html(
        self, language: str, text: str, *, address: str = "", action: str = "",
        button: str = "", body: Markup | str = "",
    ) -> str:
        """The HTML of :meth:`page`, for a page that is the same for everyone to be kept."""
        return _PAGE.render(
            language=language, direction=direction_of(language), title=self.list_name,
            address=address, text=text, action=action, button=button, body=body,
            colour=self.colour, font=self.font,
        )

    @staticmethod
    def respond(html: str, status: int) -> Response:
        """``html`` (made by :meth:`html`) as the answer, never kept by a cache or framed."""
        response = Response(html, status, mimetype="text/html")
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"  # the token is in the URL
        response.headers["X-Frame-Options"] = "DENY"
        return response

    def confirm(self, address: str, action: str) -> Response:
        """The page a reader's "Unsubscribe" link opens: one button, nothing done yet."""
        return self._page(200, label="page_question", address=address, action=action)

    def done(self, address: str) -> Response:
        return self._page(200, label="page_done", address=address)

    def already(self, address: str) -> Response:
        """The link of a reader who has unsubscribed: nothing to ask, no button."""
        return self._page(200, label="page_already", address=address)

    def invalid(self) -> Response:
        return self._page(400, label="page_invalid")

    def failed(self) -> Response:
        return self._page(500, label="page_failed")

    def message(self, text: str, status: int) -> Response:
        return self._page(status, text=text)
