"""The sign-up form and the preference form, as HTML fragments in a reader's language.

``mailer serve`` puts them in its pages (:mod:`mailer.web.signup`); ``mailer subscribers
form`` prints the sign-up form for an organisation's own website. Plain HTML: labels tied to
their fields, errors tied to theirs (``aria-describedby``, ``aria-invalid``), fieldsets with
legends for the choices, no JavaScript, the language and direction on the form itself (right
to left for Arabic). The words come from the theme's labels (``signup_*``), the consent
sentence from ``[consent] wording`` in the same language: the form offers exactly the
languages that have one, the list's language first, and posts the version of the wording it
showed, so the record keeps the text the reader saw.

The honeypot is a field people never see nor reach with the keyboard (off screen, hidden from
assistive technology, no tab stop); a program filling every field fills it too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from jinja2 import Environment, select_autoescape
from markupsafe import Markup

from mailer.audience.signups import wording_version
from mailer.compose.theme import theme_for
from mailer.compose.wording import label_tables, labels_for, language_name
from mailer.errors import ConfigError, Location
from mailer.fields import direction_of, language_keys
from mailer.settings import LoadedSettings

HONEYPOT = "website"  # the honeypot field's name: one a form filler fills without thinking
Topic = tuple[str, str]  # (name, label in the form's language)

_ESCAPED = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
_SIGNUP = _ESCAPED.from_string(
    """<form class="mailer-signup" method="post" action="{{ action }}" lang="{{ language }}" \
dir="{{ direction }}" accept-charset="utf-8">
{% if note %}<p class="mailer-note" role="status">{{ note }}</p>
{% endif %}{% if csrf %}<input type="hidden" name="csrf" value="{{ csrf }}">
{% endif %}<input type="hidden" name="lang" value="{{ language }}">
<input type="hidden" name="wording_version" value="{{ version }}">
<div aria-hidden="true" style="position:absolute;left:-10000px;top:auto;width:1px;height:1px;\
overflow:hidden"><label for="mailer-{{ honeypot }}">{{ honeypot }}</label>\
<input type="text" id="mailer-{{ honeypot }}" name="{{ honeypot }}" value="" tabindex="-1" \
autocomplete="off"></div>
<p><label for="mailer-email">{{ labels.signup_email }}</label><br>
<input type="email" id="mailer-email" name="email" value="{{ values.email }}" required \
autocomplete="email" size="30"{% if errors.email %} aria-invalid="true" \
aria-describedby="mailer-email-error"{% endif %}>
{% if errors.email %}<br><span class="mailer-error" id="mailer-email-error">{{ errors.email }}\
</span>{% endif %}</p>
<p><label for="mailer-name">{{ labels.signup_name }}</label><br>
<input type="text" id="mailer-name" name="name" value="{{ values.name }}" autocomplete="name" \
size="30" maxlength="200"></p>
{% if languages | length > 1 %}<fieldset>
<legend>{{ labels.signup_language }}</legend>
{% for tag, shown in languages %}<label lang="{{ tag }}" dir="{{ direction_of(tag) }}">\
<input type="radio" name="language" value="{{ tag }}"\
{% if tag == values.language %} checked{% endif %}> {{ shown }}</label><br>
{% endfor %}</fieldset>
{% else %}<input type="hidden" name="language" value="{{ languages[0][0] }}">
{% endif %}{% if topics %}<fieldset>
<legend>{{ labels.signup_topics }}</legend>
{% for name, shown in topics %}<label><input type="checkbox" name="topics" value="{{ name }}"\
{% if name in values.topics %} checked{% endif %}> {{ shown }}</label><br>
{% endfor %}</fieldset>
{% endif %}<p><input type="checkbox" id="mailer-consent" name="consent" value="yes" required\
{% if errors.consent %} aria-invalid="true" aria-describedby="mailer-consent-error"{% endif %}>
<label for="mailer-consent">{{ wording }}</label>
{% if errors.consent %}<br><span class="mailer-error" id="mailer-consent-error">\
{{ errors.consent }}</span>{% endif %}</p>
<p><button type="submit">{{ labels.signup_button }}</button></p>
</form>
""")
_PREFERENCES = _ESCAPED.from_string(
    """<form class="mailer-preferences" method="post" action="{{ action }}" \
lang="{{ language }}" dir="{{ direction }}" accept-charset="utf-8">
<input type="hidden" name="lang" value="{{ language }}">
<fieldset>
<legend>{{ labels.signup_language }}</legend>
{% for tag, shown in languages %}<label lang="{{ tag }}" dir="{{ direction_of(tag) }}">\
<input type="radio" name="language" value="{{ tag }}"\
{% if tag == chosen_language %} checked{% endif %}> {{ shown }}</label><br>
{% endfor %}</fieldset>
{% if topics %}<fieldset>
<legend>{{ labels.signup_topics }}</legend>
<input type="hidden" name="topics_shown" value="yes">
{% for name, shown in topics %}<label><input type="checkbox" name="topics" value="{{ name }}"\
{% if name in chosen_topics %} checked{% endif %}> {{ shown }}</label><br>
{% endfor %}</fieldset>
{% endif %}<p><button type="submit" name="action" value="save">{{ labels.preferences_save }}\
</button></p>
<p><button type="submit" name="action" value="unsubscribe" class="mailer-secondary">\
{{ labels.preferences_unsubscribe }}</button></p>
</form>
""")


@dataclass(frozen=True)
class Choice:
    """What a form was filled in with (shown again with its errors)."""

    email: str = ""
    name: str = ""
    language: str = ""
    topics: tuple[str, ...] = ()


@dataclass(frozen=True)
class SignupForms:
    """The list's forms in every language it has consent wording for."""

    wording: dict[str, str]  # language tag -> the consent sentence, the list's language first
    labels: dict[str, dict[str, str]]  # language tag -> the theme's words
    names: dict[str, str]  # language tag -> its name in itself
    topics: Mapping[str, Sequence[Topic]] = field(default_factory=dict)  # per language tag

    @classmethod
    def for_settings(cls, loaded: LoadedSettings) -> SignupForms:
        """ConfigError when ``[consent]`` has no wording in the list's language."""
        settings = loaded.settings
        given = settings.consent.wording
        first = [tag for tag in given if language_keys(tag)[0] == language_keys(
            settings.list.language)[0]]
        if not first:
            raise ConfigError(
                Location(loaded.path), f"the sign-up form needs the consent sentence in the "
                f"list's language {settings.list.language!r}: add it to [consent.wording]",
                "consent.wording",
            )
        order = first + [tag for tag in given if tag not in first]
        theme = theme_for(loaded.base_dir)
        organisation = settings.brand.organisation
        label_tables(theme)  # a broken labels.toml is an error now, not at the first visitor
        return cls(
            wording={tag: given[tag] for tag in order},
            labels={tag: labels_for(theme, tag, organisation) for tag in order},
            names={tag: language_name(theme, tag) for tag in order},
            topics={tag: topic_choices(loaded, tag) for tag in order},
        )

    @property
    def languages(self) -> list[str]:
        return list(self.wording)

    @property
    def default(self) -> str:
        return self.languages[0]

    def language_of(self, wanted: str) -> str | None:
        """The form's language for ``wanted`` (a tag, any case), or None when none fits."""
        keys = {language_keys(tag)[0]: tag for tag in self.wording}
        for key in language_keys(wanted):
            if key in keys:
                return keys[key]
        return None

    def version(self, language: str) -> str:
        return wording_version(self.wording[language])

    def topic_names(self, language: str) -> set[str]:
        return {name for name, _ in self.topics.get(language, ())}

    def signup(
        self, language: str, action: str, *, csrf: str = "", values: Choice | None = None,
        errors: Mapping[str, str] | None = None, note: str = "",
    ) -> Markup:
        """The sign-up form in ``language`` (one of :attr:`languages`)."""
        values = values or Choice(language=language)
        return Markup(_SIGNUP.render(
            action=action, language=language, direction=direction_of(language),
            labels=self.labels[language], csrf=csrf, honeypot=HONEYPOT,
            version=self.version(language), wording=self.wording[language],
            languages=[(tag, self.names[tag]) for tag in self.languages],
            topics=self.topics.get(language, ()), values=values, errors=errors or {},
            note=note, direction_of=direction_of,
        ))

    def preferences(
        self, language: str, action: str, chosen_language: str,
        chosen_topics: Sequence[str] = (),
    ) -> Markup:
        """The preference form in ``language``: the edition language, the topics, and a
        button to unsubscribe."""
        return Markup(_PREFERENCES.render(
            action=action, language=language, direction=direction_of(language),
            labels=self.labels[language], chosen_language=chosen_language,
            chosen_topics=chosen_topics,
            languages=[(tag, self.names[tag]) for tag in self.languages],
            topics=self.topics.get(language, ()), direction_of=direction_of,
        ))


def topic_choices(loaded: LoadedSettings, language: str) -> list[Topic]:
    """The topics a reader may choose (``[list] topics``), as (name, label in ``language``);
    none when the list has no topics, and the forms then show no topic field."""
    listed = loaded.settings.list
    return [(name, listed.topic_label(name, language)) for name in listed.topics]
