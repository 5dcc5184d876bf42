"""Validated value types shared by the issue model, the settings and the subscriber list.

Also the few facts several stages share: a subscriber's fields (which the audience reads and
merge fields may name), the shape of a merge field, and the domain of an address.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, StringConstraints


class Strict(BaseModel):
    """Base for every user-written model: unknown keys are errors, values are immutable.

    The docstring under a field is its description, which the settings reference of the user
    guide is generated from (docs/hooks/reference.py reads it from the source; pydantic's
    ``use_attribute_docstrings`` would parse every model's source at each start-up).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)


def _single_line(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError("must be a single line (no line breaks)")
    return value


# ``{{ subscriber.first_name | default("there") }}``: the expression is group 1.
MERGE_FIELD = re.compile(r"{{(.*?)}}", re.S)

# A subscriber's fields, as the CSV gives them and as ``{{ subscriber.<field> }}`` names them.
SUBSCRIBER_FIELDS = ("email", "name", "first_name", "last_name", "language")


# The characters that separate the tags of a subscribers CSV row (``partners|ankara``, or
# Mailchimp's ``"partners, ankara"``): a topic's name cannot hold them.
TAG_SEPARATORS = "|,"
MAX_TOPIC_NAME = 100


def topic_key(name: str) -> str:
    """How topic names and tags compare: case and runs of white space aside, so that the tag
    ``Partners`` of a CSV row (or ``partner  news`` of a spreadsheet) is the topic
    ``partners`` (``Partner news``)."""
    return " ".join(name.split()).casefold()


def _topic_name(value: str) -> str:
    name = " ".join(value.split())
    if not name:
        raise ValueError("a topic's name cannot be empty")
    if len(name) > MAX_TOPIC_NAME or not name.isprintable():
        raise ValueError(
            f"not a topic name: {value!r} (at most {MAX_TOPIC_NAME} characters on one line)"
        )
    if any(separator in name for separator in TAG_SEPARATORS):
        raise ValueError(
            f"not a topic name: {value!r} (| and , separate the tags of a subscribers CSV "
            "row, so a topic's name cannot hold them)"
        )
    return name


def is_remote(source: str) -> bool:
    """Whether an image or logo ``source`` is a web address rather than a local file."""
    return source.startswith(("http://", "https://"))


def domain_of(address: str) -> str:
    """The part after the last ``@`` of an email address."""
    return address.rpartition("@")[2]


def _web_url(value: str) -> str:
    """An absolute http(s) or mailto URL, as a reader's mail client can open it.

    Merge fields (``?ref={{ subscriber.email }}``) are allowed; they are checked elsewhere.
    """
    value = value.strip()
    if not value:
        raise ValueError("the URL is empty")
    bare = MERGE_FIELD.sub("x", value)
    if any(ch.isspace() for ch in bare):
        raise ValueError(f"not a valid URL: {value!r} contains white space")
    parts = urlsplit(bare)
    scheme = parts.scheme.lower()
    if scheme == "mailto":
        if "@" not in parts.path:
            raise ValueError(f"not a valid mailto URL: {value!r}")
        return value
    if scheme not in ("http", "https"):
        raise ValueError(f"not a valid URL: {value!r} (expected one starting with https://)")
    if not parts.hostname or "." not in parts.hostname:
        raise ValueError(f"not a valid URL: {value!r} has no host name")
    return value


_HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


def _colour(value: str) -> str:
    if not _HEX_COLOUR.match(value):
        raise ValueError(f"not a colour: {value!r} (expected #RRGGBB)")
    return value.upper()


# Settings name a handful of addresses the organisation owns; a syntax check is enough here.
# Subscriber lists, typed by many hands, get the full email-validator treatment instead.
_ADDRESS = re.compile(r"^[^@\s<>()\[\],;:\"]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")


def _address(value: str) -> str:
    value = value.strip()
    if not _ADDRESS.match(value):
        raise ValueError(f"not an email address: {value!r}")
    return value


# BCP 47 in the shape mail clients use: a language, then optional script/region/variants.
_BCP47 = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z]{4})?(-([A-Za-z]{2}|[0-9]{3}))?(-[A-Za-z0-9]{5,8})*$")


def is_language_tag(value: str) -> bool:
    """Whether ``value`` is a BCP 47 language tag in the shape mail clients use."""
    return bool(_BCP47.match(value))


def _language(value: str) -> str:
    if not is_language_tag(value):
        raise ValueError(f"not a BCP 47 language tag: {value!r} (for example 'en', 'tr', 'ar')")
    return value


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|seconds?|m|min|minutes?|h|hours?)?\s*$", re.I)
_UNITS = {"s": 1, "m": 60, "h": 3600}


def _duration(value: object) -> float:
    """Seconds from a number of seconds or a text such as ``"90s"``, ``"15 min"``, ``"1h"``."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"not a duration: {value!r} (for example 900, \"15m\" or \"1h\")")
        seconds = float(match.group(1)) * _UNITS[(match.group(2) or "s")[0].lower()]
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Line = Annotated[Text, AfterValidator(_single_line)]
WebUrl = Annotated[str, AfterValidator(_web_url)]
Colour = Annotated[str, AfterValidator(_colour)]
Language = Annotated[str, AfterValidator(_language)]
EmailAddress = Annotated[str, AfterValidator(_address)]
Duration = Annotated[float, BeforeValidator(_duration)]
TopicName = Annotated[str, AfterValidator(_topic_name)]

RTL_LANGUAGES = frozenset({"ar", "he", "fa", "ur", "ps", "sd", "ug", "yi", "dv", "ckb"})


def direction_of(language: str) -> str:
    """The text direction a language is written in: 'rtl' or 'ltr'."""
    return "rtl" if language.split("-")[0].lower() in RTL_LANGUAGES else "ltr"


def language_keys(tag: str) -> tuple[str, ...]:
    """The keys a per-language table is looked up by for ``tag``, most specific first: the
    whole tag, then its primary language (``pt_BR`` -> ``("pt-br", "pt")``). Tags are compared
    in lower case, with ``_`` read as ``-``."""
    exact = tag.strip().replace("_", "-").lower()
    primary = exact.split("-")[0]
    return (exact,) if exact == primary else (exact, primary)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine (``localhost``, 127.0.0.0/8, ::1): the one place a
    server may be reached without TLS."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
