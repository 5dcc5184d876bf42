"""Merge fields: ``{{ subscriber.first_name | default("there") }}`` in issue text.

The issue is rendered once; every merge field is first replaced by an inert token (letters and
digits only, so Markdown, escaping, MJML and premailer all leave it alone). Per subscriber only
the tokens are swapped for values, which is what makes personalised sending fast.

Expressions run in Jinja2's sandbox and may only read known subscriber fields through a few
string filters; anything else is rejected when the issue is loaded, with its location.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

from jinja2 import Template, TemplateSyntaxError, Undefined, nodes
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import escape

from mailer.errors import MergeFieldError
from mailer.fields import MERGE_FIELD, SUBSCRIBER_FIELDS

ALLOWED_FILTERS = frozenset({"default", "upper", "lower", "title", "capitalize", "trim"})
UNSUBSCRIBE_KEY = "unsub"
PREFERENCES_KEY = "prefs"  # the reader's preference page, with [list] subscribe_url

_STATEMENT = re.compile(r"{%|%}|{#|#}")
_TOKEN = re.compile(r"MFQX([a-z0-9]+)XQMF")
_WHOLE_TOKEN = re.compile(r"(MFQX[a-z0-9]+XQMF)")


def token(key: str) -> str:
    """The inert stand-in for merge field ``key`` in rendered text."""
    return f"MFQX{key}XQMF"


def outside_tokens(text: str, change: Callable[[str], str]) -> str:
    """``text`` with ``change`` applied to everything but its merge-field tokens."""
    parts = _WHOLE_TOKEN.split(text)  # text, token, text, token, ..., text
    return "".join(part if n % 2 else change(part) for n, part in enumerate(parts))


def validate(text: str) -> None:
    """Raise :class:`MergeFieldError` if ``text`` holds anything but allowed merge fields."""
    if _STATEMENT.search(text):
        raise MergeFieldError(
            "only merge fields like {{ subscriber.first_name }} are allowed, not {% ... %} or {# #}"
        )
    for match in MERGE_FIELD.finditer(text):
        _check_expression(match.group(1).strip())
    if "{{" in MERGE_FIELD.sub("", text):
        raise MergeFieldError("a merge field is not closed: '{{' without '}}'")


def _check_expression(source: str) -> None:
    env = _environment()
    try:
        tree = env.parse("{{ " + source + " }}")
    except TemplateSyntaxError as exc:
        raise MergeFieldError(
            f"merge field {{{{ {source} }}}} is not valid: {exc.message}"
        ) from None
    field_bases: set[int] = set()  # the `subscriber` of each `subscriber.FIELD`
    for node in tree.find_all(nodes.Expr):
        if isinstance(node, nodes.Getattr):
            if not (isinstance(node.node, nodes.Name) and node.node.name == "subscriber"):
                raise MergeFieldError(f"merge field {{{{ {source} }}}}: only subscriber.FIELD")
            if node.attr not in SUBSCRIBER_FIELDS:
                guess = difflib.get_close_matches(node.attr, SUBSCRIBER_FIELDS, n=1)
                hint = f" (did you mean '{guess[0]}'?)" if guess else ""
                raise MergeFieldError(
                    f"unknown merge field 'subscriber.{node.attr}'{hint}; "
                    f"known: {', '.join(SUBSCRIBER_FIELDS)}"
                )
            field_bases.add(id(node.node))
        elif isinstance(node, nodes.Filter):
            if node.name not in ALLOWED_FILTERS:
                raise MergeFieldError(
                    f"merge field {{{{ {source} }}}}: filter '{node.name}' is not allowed "
                    f"(allowed: {', '.join(sorted(ALLOWED_FILTERS))})"
                )
        elif isinstance(node, nodes.Name):
            # find_all() visits a Getattr before its Name, so a bare `subscriber` (which would
            # print every field, the address included) is not in field_bases.
            if node.name != "subscriber" or id(node) not in field_bases:
                raise MergeFieldError(
                    f"merge field {{{{ {source} }}}}: '{node.name}' is unknown; "
                    "write subscriber.first_name and the like"
                )
        elif not isinstance(node, nodes.Const):
            raise MergeFieldError(f"merge field {{{{ {source} }}}} is too complex")


def _environment() -> SandboxedEnvironment:
    # Unknown fields are refused by validate() at load time; a known field that one subscriber
    # lacks renders empty (or its default), never an error half-way through a send.
    return SandboxedEnvironment(undefined=Undefined, autoescape=False)


class MergeFields:
    """Collects the merge fields of one rendered issue and evaluates them per subscriber.

    All fields are evaluated at once by one compiled template,
    ``{% set result = [(field 0), (field 1), ...] %}``, as Jinja2's ``compile_expression`` does
    for one expression: setting up an evaluation costs far more than the fields themselves. The
    context is made with ``shared=True`` (without Jinja2's globals such as ``range``, which
    validate() refuses anyway), which halves that cost again.
    """

    def __init__(self) -> None:
        self._env = _environment()
        self._keys: dict[str, str] = {}  # expression source -> key (its index, as text)
        self._template: Template | None = None

    def tokenize(self, text: str) -> str:
        """``text`` with each merge field replaced by its token (same expression, same token)."""
        if "{{" not in text:
            return text
        return MERGE_FIELD.sub(lambda m: token(self._key_for(m.group(1).strip())), text)

    def _key_for(self, source: str) -> str:
        key = self._keys.get(source)
        if key is None:
            key = str(len(self._keys))
            self._keys[source] = key
            self._template = None  # compiled again, with this field, on next use
        return key

    def values(self, subscriber: Mapping[str, str]) -> dict[str, str]:
        """Each merge field's value for ``subscriber`` (a mapping of SUBSCRIBER_FIELDS)."""
        if not self._keys:
            return {}
        if self._template is None:
            fields = ", ".join(f"({source})" for source in self._keys)
            self._template = self._env.from_string(f"{{% set result = [{fields}] %}}")
        # Empty fields are left out so that `default(...)` applies to them.
        present = {name: value for name, value in subscriber.items() if value}
        context = self._template.new_context({"subscriber": present}, shared=True)
        for _ in self._template.root_render_func(context):
            pass  # the template only sets `result`
        results = context.vars["result"]
        # str() as `{{ }}` would: a field the subscriber lacks (Undefined) becomes "".
        # Line ends as in the rendered text, though a CSV cell may hold "\r\n".
        return {str(index): lf_line_ends(str(value)) for index, value in enumerate(results)}


def for_nobody(text: str) -> str:
    """``text`` as a reader the list knows nothing about reads it: each merge field its
    default, or nothing (the site's pages and feeds, which no one reader gets)."""
    merge = MergeFields()
    return FillIn.of(merge.tokenize(text), escape_html=False).fill(merge.values({}))


def lf_line_ends(text: str) -> str:
    """``text`` with CRLF and lone CR line ends as LF (as ``str.splitlines`` would split)."""
    if "\r" in text:
        return text.replace("\r\n", "\n").replace("\r", "\n")
    return text


@dataclass(frozen=True)
class FillIn:
    """A rendered text split at its tokens, so filling it in is one join."""

    parts: tuple[str, ...]  # literal, key, literal, key, ..., literal
    escape_html: bool

    @classmethod
    def of(cls, text: str, escape_html: bool) -> FillIn:
        return cls(tuple(_TOKEN.split(text)), escape_html)

    @property
    def keys(self) -> Iterable[str]:
        return self.parts[1::2]

    def filled_values(self, values: Mapping[str, str]) -> Iterator[str]:
        """The value of each token in turn, as it goes into the text (HTML-escaped if HTML)."""
        if self.escape_html:
            return (str(escape(values[key])) for key in self.parts[1::2])
        return (values[key] for key in self.parts[1::2])

    def fill(self, values: Mapping[str, str]) -> str:
        parts = list(self.parts)
        parts[1::2] = self.filled_values(values)
        return "".join(parts)
