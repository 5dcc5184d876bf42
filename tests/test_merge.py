"""Merge fields: what an issue may write, and what a subscriber's data can (not) do."""

from __future__ import annotations

import pytest

from mailer.compose.merge import FillIn, MergeFields, token, validate
from mailer.errors import MergeFieldError

AYSE = {"email": "ayse@example.org", "name": "Ayşe Yılmaz", "first_name": "Ayşe",
        "last_name": "Yılmaz", "language": "tr"}


def evaluate(text: str, subscriber: dict[str, str]) -> str:
    """``text`` as one subscriber reads it: tokenised once, then filled in."""
    validate(text)
    fields = MergeFields()
    return FillIn.of(fields.tokenize(text), escape_html=False).fill(fields.values(subscriber))


@pytest.mark.parametrize(
    ("text", "subscriber", "expected"),
    [
        ("Dear {{ subscriber.first_name }},", AYSE, "Dear Ayşe,"),
        ('Dear {{ subscriber.first_name | default("friend") }},', AYSE, "Dear Ayşe,"),
        ('Dear {{ subscriber.first_name | default("friend") }},', {"first_name": ""},
         "Dear friend,"),
        ('Dear {{ subscriber.first_name | default("friend") }},', {}, "Dear friend,"),
        ("Dear {{ subscriber.first_name }},", {}, "Dear ,"),  # a known field left empty
        ("{{ subscriber.name | upper }} / {{ subscriber.last_name|lower }}", AYSE,
         "AYŞE YILMAZ / yılmaz"),
        ("{{ subscriber.name | title }}", {"name": "ayşe yılmaz"}, "Ayşe Yılmaz"),
        ("{{ subscriber.first_name | trim | capitalize }}", {"first_name": "  ayşe "}, "Ayşe"),
        ("{{subscriber.email}}", AYSE, "ayse@example.org"),
        ("no fields at all", AYSE, "no fields at all"),
    ],
)
def test_fields_fill_in(text, subscriber, expected):
    assert evaluate(text, subscriber) == expected


def test_same_expression_same_token_and_many_fields_at_once():
    fields = MergeFields()
    text = fields.tokenize("{{ subscriber.name }} {{ subscriber.email }} {{subscriber.name}}")
    assert text == f"{token('0')} {token('1')} {token('0')}"
    assert fields.values(AYSE) == {"0": "Ayşe Yılmaz", "1": "ayse@example.org"}
    # A field found after the first evaluation is evaluated too.
    assert fields.tokenize("{{ subscriber.language }}") == token("2")
    assert fields.values(AYSE)["2"] == "tr"


def test_unknown_field_is_an_error_with_a_suggestion():
    with pytest.raises(MergeFieldError, match=r"unknown merge field 'subscriber\.frist_name' "
                                              r"\(did you mean 'first_name'\?\)"):
        validate("Dear {{ subscriber.frist_name }},")
    with pytest.raises(MergeFieldError, match="known: email, name, first_name"):
        validate("{{ subscriber.password }}")


@pytest.mark.parametrize(
    "text",
    [
        "{% for x in range(3) %}x{% endfor %}",
        "{% set x = 1 %}",
        "{# a comment #}",
        "{%- if subscriber.name %}hi{% endif %}",
    ],
)
def test_statements_are_refused(text):
    with pytest.raises(MergeFieldError, match="only merge fields"):
        validate(text)


@pytest.mark.parametrize("name", ["attr", "safe", "format", "map", "join", "replace", "pprint"])
def test_other_filters_are_refused(name):
    with pytest.raises(MergeFieldError, match=f"filter '{name}' is not allowed"):
        validate(f"{{{{ subscriber.name | {name}('x') }}}}")


@pytest.mark.parametrize(
    "text",
    [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__ }}",
        "{{ subscriber.__class__ }}",
        "{{ subscriber.name.__class__ }}",
        "{{ subscriber.items() }}",
        "{{ subscriber['first_name'] }}",
        "{{ subscriber | attr('__class__') }}",
        "{{ subscriber }}",  # would print every field, the address included
        "{{ cycler.__init__.__globals__ }}",
        "{{ range(10) }}",
        "{{ config }}",
        "{{ subscriber.name ~ subscriber.email }}",
        "{{ 7 * 7 }}",
        "{{ subscriber.first_name | default(subscriber.__class__) }}",
        "{{ subscriber.name }",
        "{{ subscriber.name ",
    ],
)
def test_anything_but_a_field_is_refused(text):
    with pytest.raises(MergeFieldError):
        validate(text)


@pytest.mark.parametrize(
    "value", ["{{ 7*7 }}", "{{ ''.__class__ }}", "{% for x in y %}", token("0"), "<b>&amp;</b>"]
)
def test_subscriber_data_is_only_ever_text(value):
    """Values are filled in after rendering, in one pass: nothing in them is evaluated."""
    subscriber = {"name": value}
    assert evaluate("Hi {{ subscriber.name }}!", subscriber) == f"Hi {value}!"
    fields = MergeFields()
    html = FillIn.of(fields.tokenize("<p>{{ subscriber.name }}</p>"), escape_html=True)
    filled = html.fill(fields.values(subscriber))
    assert filled == "<p>" + value.replace("&", "&amp;").replace("<", "&lt;").replace(
        ">", "&gt;").replace("'", "&#39;").replace('"', "&#34;") + "</p>"


def test_values_use_lf_line_ends():
    assert evaluate("{{ subscriber.name }}", {"name": "a\r\nb\rc"}) == "a\nb\nc"
