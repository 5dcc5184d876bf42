"""The few pages ``mailer serve`` shows a person: the unsubscribe page and its answers.

Plain HTML with a little inline CSS, no JavaScript, no outside resources: it works in a text
browser and on any phone. The words come from the theme's labels in the list's language
(``[list] language``), written right to left for Arabic, Hebrew, Persian and Urdu.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Response
from jinja2 import Environment, select_autoescape

from mailer.compose.theme import theme_for
from mailer.compose.wording import labels_for
from mailer.fields import direction_of
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
<p>{{ text }}</p>
{% if action %}
<form method="post" action="{{ action }}">
<button type="submit">{{ button }}</button>
</form>
{% endif %}
</main>
</body>
</html>
""")


@dataclass(frozen=True)
class Pages:
    """The pages in one language, for one list."""

    list_name: str
    labels: dict[str, str]
    language: str
    colour: str
    font: str

    @classmethod
    def for_settings(cls, loaded: LoadedSettings) -> Pages:
        settings = loaded.settings
        language = settings.list.language
        organisation = settings.brand.organisation
        return cls(
            list_name=settings.list.name or organisation,
            labels=labels_for(theme_for(loaded.base_dir), language, organisation),
            language=language,
            colour=settings.brand.primary_color,
            font=settings.brand.font_family,
        )

    def _page(self, status: int, *, text: str, address: str = "", action: str = "") -> Response:
        html = _PAGE.render(
            language=self.language, direction=direction_of(self.language), title=self.list_name,
            address=address, text=text, action=action, button=self.labels["page_button"],
            colour=self.colour, font=self.font,
        )
        response = Response(html, status, mimetype="text/html")
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"  # the token is in the URL
        response.headers["X-Frame-Options"] = "DENY"
        return response

    def confirm(self, address: str, action: str) -> Response:
        """The page a reader's "Unsubscribe" link opens: one button, nothing done yet."""
        return self._page(200, text=self.labels["page_question"], address=address, action=action)

    def done(self, address: str) -> Response:
        return self._page(200, text=self.labels["page_done"], address=address)

    def invalid(self) -> Response:
        return self._page(400, text=self.labels["page_invalid"])

    def failed(self) -> Response:
        return self._page(500, text=self.labels["page_failed"])

    def message(self, text: str, status: int) -> Response:
        return self._page(status, text=text)
