"""Editions: one issue in several languages, each written by a translator in its own file.

``issues/X.yaml`` is the issue and its ``language`` the default edition; a sibling
``issues/X.<lang>.yaml`` (``X.tr.yaml``, ``X.pt-BR.yaml``) is the edition in that language.
An edition is a whole issue in its language, except for what does not change with the
language, which it may leave out and takes from the default file:

* ``id`` (an edition has the issue's id or none), ``brand``, ``sender``, ``social``, ``date``,
  ``archive``, ``audience`` and ``send_at`` (:data:`INHERITED`; an edition goes to its
  issue's audience, in the issue's one send, and may name no other audience or time);
  ``brand`` and ``sender`` key by key, so that an edition may give only what it words
  differently (``brand.logo_alt``, ``sender.name``) and keep the rest; and the issue's own
  ``footer.postal_address`` (its ``reason`` is the translator's);
* in the lead and in each item, matched by position (the lead with the lead, the n-th item of
  the m-th section with the n-th item of the m-th section): the image's ``src``, ``link`` and
  ``credit`` (unless the edition names a photo of its own; the whole image when the
  edition's item has none), each link's ``url``
  (matched by position among the item's links; all links, when the item has none).

Everything else (subject, preheader, period, titles, bodies, captions, alt texts, link labels,
quotes) is the translator's. A reader gets the edition of their ``language`` (see
:meth:`Editions.route`).
"""

from __future__ import annotations

import copy
import glob
import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from pathlib import Path

from mailer.compose.issue import LoadedIssue, complete_issue, dotted, load_issue
from mailer.compose.yaml_source import FieldPath, YamlDocument, load_yaml
from mailer.errors import InputError, Location, UsageError
from mailer.fields import language_keys
from mailer.settings import LoadedSettings, settings_for

# ``X.tr.yaml``: a BCP 47 tag (language, optional script, region, variants) before ``.yaml``.
_EDITION_FILE = re.compile(
    r"^(?P<issue>.+)\.(?P<tag>[A-Za-z]{2,3}(-[A-Za-z]{4})?(-([A-Za-z]{2}|[0-9]{3}))?"
    r"(-[A-Za-z0-9]{5,8})*)\.ya?ml$"
)
INHERITED = (  # and footer.postal_address
    "id", "brand", "sender", "social", "date", "archive", "audience", "send_at",
)
IMAGE_INHERITED = ("src", "link", "credit")


def normalise_tag(tag: str) -> str:
    """Tags compare case-insensitively, and ``pt_BR`` (a common CSV spelling) is ``pt-br``."""
    return language_keys(tag)[0]


def split_edition_path(path: Path) -> tuple[Path, str] | None:
    """``issues/X.tr.yaml`` -> (``issues/X.yaml``, ``tr``) when ``X.yaml`` is there, else None.

    A file whose name only looks like an edition's (``2021.v2.yaml`` with no ``2021.yaml``
    beside it) is an issue of its own.
    """
    match = _EDITION_FILE.match(path.name)
    if not match:
        return None
    for suffix in (".yaml", ".yml"):
        default = path.with_name(match["issue"] + suffix)
        if default.is_file():
            return default, match["tag"]
    return None


def edition_files(default: Path) -> dict[str, Path]:
    """The edition files beside the issue ``default``, by their file name's tag, sorted by tag.

    Two files for one language (``X.tr.yaml`` beside ``X.TR.yaml`` or ``X.tr.yml``) are an
    error: one of them would be left out without a word, and the translator's work with it.
    """
    found: dict[str, tuple[str, Path]] = {}  # the normalised tag -> (the tag, the file)
    for candidate in sorted(default.parent.glob(f"{glob.escape(default.stem)}.*.y*ml")):
        split = split_edition_path(candidate)
        if split is None or split[0].name != default.name:
            continue
        tag, key = split[1], normalise_tag(split[1])
        if key in found:
            raise _second_edition(candidate, tag, found[key][1])
        found[key] = (tag, candidate)
    return {tag: path for _, (tag, path) in sorted(found.items())}


def issue_files(folder: Path) -> dict[Path, tuple[Path, ...]]:
    """Every issue file in ``folder`` and its subfolders (not hidden ones), sorted, each with
    its edition files (``X.tr.yaml`` beside ``X.yaml``), in one pass over the folders."""
    found: dict[Path, list[Path]] = {}
    editions: list[tuple[Path, Path]] = []
    folder = folder.resolve()
    for path in sorted(folder.rglob("*")):
        if path.suffix not in (".yaml", ".yml") or any(
            part.startswith(".") for part in path.relative_to(folder).parts
        ):
            continue
        split = split_edition_path(path)
        if split is None:
            found[path] = []
        else:
            editions.append((split[0], path))
    for default, edition in editions:
        found[default].append(edition)
    return {path: tuple(found[path]) for path in found}


@dataclass(frozen=True)
class Editions:
    """An issue with its editions: ``chosen`` are the ones a command acts on, loaded.

    ``tags`` holds every edition's language tag (the default's first): routing always sees
    them all, so narrowing a send to one edition never hands its readers another.
    """

    default: LoadedIssue
    tags: tuple[str, ...]
    chosen: tuple[LoadedIssue, ...]

    @property
    def issue_id(self) -> str:
        return self.default.issue.id

    @property
    def default_tag(self) -> str:
        return self.tags[0]

    @property
    def several(self) -> bool:
        return len(self.tags) > 1

    def route(self, language: str) -> str:
        """The edition for a reader whose language is ``language``: the exact tag (``pt-BR``),
        else its primary language (``pt``), else the issue's default."""
        return _route(self.tags, language) if language.strip() else self.default_tag

    def get(self, tag: str) -> LoadedIssue:
        for loaded in self.chosen:
            if normalise_tag(loaded.issue.language) == normalise_tag(tag):
                return loaded
        raise KeyError(tag)


@lru_cache(maxsize=1024)  # a list has few distinct languages: routing a reader is a lookup
def _route(tags: tuple[str, ...], wanted: str) -> str:
    by_key = {normalise_tag(tag): tag for tag in tags}
    return next((by_key[key] for key in language_keys(wanted) if key in by_key), tags[0])


def load_default(path: Path, settings_path: Path | None = None) -> LoadedIssue:
    """The issue's default file alone, given it or one of its editions: what a command that
    speaks of the whole issue (its id, its settings) needs, whatever state the editions are in.
    """
    split = split_edition_path(path)
    default_path = split[0] if split else path
    return load_issue(default_path, settings_for(default_path, settings_path))


def load_editions(
    path: Path, settings_path: Path | None = None, *, edition: str | None = None
) -> Editions:
    """The issue at ``path`` with every edition, or only ``edition`` (``--edition``).

    Given an edition file, the command acts on that edition alone (loaded with what it takes
    from the default file). UsageError for an edition the issue does not have.
    """
    split = split_edition_path(path)
    default_path, own_tag = split if split else (path, None)
    default = load_default(path, settings_path)
    settings = default.settings
    files = edition_files(default_path)
    tags = _tags(default, files)
    wanted = own_tag if own_tag is not None else edition
    if own_tag is not None and edition is not None and normalise_tag(edition) != normalise_tag(
        own_tag
    ):
        raise UsageError(f"{path} is the '{own_tag}' edition; --edition {edition} contradicts it")
    if wanted is None:
        chosen = (default, *(load_edition(default, files[tag], settings) for tag in tags[1:]))
    elif normalise_tag(wanted) == normalise_tag(tags[0]):
        chosen = (default,)
    else:
        tag = next((t for t in tags[1:] if normalise_tag(t) == normalise_tag(wanted)), None)
        if tag is None:
            raise UsageError(
                f"{default_path} has no '{wanted}' edition (it has: {', '.join(tags)})"
            )
        chosen = (load_edition(default, files[tag], settings),)
    return Editions(default, tags, chosen)


def _tags(default: LoadedIssue, files: dict[str, Path]) -> tuple[str, ...]:
    """The default's language, then each edition file's tag; an edition file in the default's
    language is an error (:func:`edition_files` refuses two files for one language)."""
    for tag, path in files.items():
        if normalise_tag(tag) == normalise_tag(default.issue.language):
            raise _second_edition(path, tag, default.path)
    return (default.issue.language, *files)


def _second_edition(path: Path, tag: str, first: Path) -> InputError:
    return InputError(
        Location(path, 1), f"a second '{tag}' edition: {first.name} is already the '{tag}' edition"
    )


def load_edition(default: LoadedIssue, path: Path, settings: LoadedSettings) -> LoadedIssue:
    """The edition at ``path``, completed with what it takes from ``default``."""
    return edition_from(default, load_yaml(path), settings)


def edition_from(
    default: LoadedIssue, document: YamlDocument, settings: LoadedSettings
) -> LoadedIssue:
    """The edition read as ``document`` (named for its edition file), completed from
    ``default``."""
    path = document.path
    if not isinstance(document.data, dict):
        raise InputError(document.locate(()), "the issue must be a mapping of fields (key: value)")
    named = _EDITION_FILE.match(path.name)
    assert named is not None, path  # the callers pass only the files split_edition_path matched
    tag = named["tag"]
    data = inherit(document, default.source.data, default.path)
    language = data.setdefault("language", tag)
    if isinstance(language, str) and normalise_tag(language) != normalise_tag(tag):
        raise InputError(
            document.locate(("language",)),
            f"language '{language}' does not match the file name, which names the '{tag}' "
            "edition",
            "language",
        )
    return complete_issue(YamlDocument(document.path, data, document.positions), settings)


def inherit(edition: YamlDocument, default: dict, default_path: Path) -> dict:
    """The edition's data with what it leaves out taken from the default issue's data."""
    data = copy.deepcopy(edition.data)
    own_id = data.get("id")
    if own_id is not None and own_id != default.get("id"):
        raise InputError(
            edition.locate(("id",)),
            f"an edition has its issue's id ({default.get('id')}) or none, not {own_id!r}",
            "id",
        )
    own_audience = data.get("audience")
    if own_audience is not None and own_audience != default.get("audience"):
        raise InputError(
            edition.locate(("audience",)),
            f"an edition goes to its issue's readers: say audience: in {default_path.name} "
            "only (the send reads it there)",
            "audience",
        )
    own_time = data.get("send_at")
    if own_time is not None and own_time != default.get("send_at"):
        raise InputError(
            edition.locate(("send_at",)),
            f"every edition is sent at the issue's send_at ({default.get('send_at')}); set it "
            f"in {default_path.name} alone",
            "send_at",
        )
    for key in INHERITED:
        theirs = copy.deepcopy(default.get(key))
        if key not in data and key in default:
            data[key] = theirs
        elif isinstance(data.get(key), dict) and isinstance(theirs, dict):
            data[key] = {**theirs, **data[key]}
    # The issue's own postal address is the same in every language (its reason is not).
    address = (default.get("footer") or {}).get("postal_address")
    if address is not None and isinstance(data.setdefault("footer", {}), dict):
        data["footer"].setdefault("postal_address", address)
    matcher = _Matcher(edition, default_path)
    if isinstance(data.get("lead"), dict):
        matcher.item(data["lead"], default.get("lead"), ("lead",))
    sections, theirs = data.get("sections"), default.get("sections")
    if isinstance(sections, list):
        for s, section in enumerate(sections):
            if not isinstance(section, dict) or not isinstance(section.get("items"), list):
                continue
            their_section = _at(theirs, s)
            their_items = their_section.get("items") if isinstance(their_section, dict) else None
            for i, item in enumerate(section["items"]):
                if isinstance(item, dict):
                    matcher.item(item, _at(their_items, i), ("sections", s, "items", i))
    return data


def _at(items: object, index: int) -> object:
    return items[index] if isinstance(items, list) and index < len(items) else None


@dataclass(frozen=True)
class _Matcher:
    """Fills an edition's item from the default's item in the same place."""

    edition: YamlDocument
    default_path: Path

    def item(self, item: dict, theirs: object, where: FieldPath) -> None:
        theirs = theirs if isinstance(theirs, dict) else None
        self._image(item, theirs, where)
        self._links(item, theirs, where)

    def _image(self, item: dict, theirs: dict | None, where: FieldPath) -> None:
        their_image = theirs.get("image") if theirs else None
        if "image" not in item:
            if isinstance(their_image, dict):
                item["image"] = copy.deepcopy(their_image)
            return
        image = item["image"]
        if not isinstance(image, dict):
            return
        if isinstance(their_image, dict):
            if image.get("src", their_image.get("src")) != their_image.get("src"):
                return  # a photo of its own: the default photo's credit and link are not its
            for key in IMAGE_INHERITED:
                if key not in image and key in their_image:
                    image[key] = copy.deepcopy(their_image[key])
        elif "src" not in image:
            self._unmatched((*where, "image"), "an image without src")

    def _links(self, item: dict, theirs: dict | None, where: FieldPath) -> None:
        their_links = theirs.get("links") if theirs else None
        if "links" not in item:
            if isinstance(their_links, list):
                item["links"] = copy.deepcopy(their_links)
            return
        links = item["links"]
        if not isinstance(links, list):
            return
        for n, link in enumerate(links):
            if not isinstance(link, dict) or "url" in link:
                continue
            their_link = _at(their_links, n)
            if isinstance(their_link, dict) and "url" in their_link:
                link["url"] = their_link["url"]
            else:
                self._unmatched((*where, "links", n), "a link without url")

    def _unmatched(self, field_path: FieldPath, what: str) -> None:
        """An edition value that should come from the default, which has none in that place."""
        raise InputError(
            self.edition.locate(field_path),
            f"{what}, and {self.default_path.name} has no {describe(field_path)} to take it "
            f"from (items are matched by position within each section)",
            dotted(field_path),
        )


def describe(field_path: FieldPath) -> str:
    """``("sections", 1, "items", 3, "links", 0)`` -> ``link 1 of item 4 of section 2``."""
    words = {"sections": "section", "items": "item", "links": "link"}
    parts = ["the lead"] if field_path[0] == "lead" else []
    for key, index in pairwise(field_path):
        if isinstance(key, str) and isinstance(index, int) and key in words:
            parts.append(f"{words[key]} {index + 1}")
    if field_path[-1] == "image":
        parts.append("image")
    return " of ".join(reversed(parts))
