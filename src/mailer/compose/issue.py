"""The newsletter issue: its model and the YAML loader that validates it.

Every error names the YAML file, the line and column, and the field path, for example
``issues/2018-03.yaml:14:7: lead.image.alt: missing alt text ...``.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, ValidationError, model_validator

from mailer.compose.merge import validate
from mailer.compose.theme import ICONS_FOLDER, theme_for
from mailer.compose.yaml_source import FieldPath, YamlDocument, load_yaml
from mailer.errors import InputError, Location, MergeFieldError
from mailer.field_errors import describe_errors
from mailer.fields import (
    Language,
    Line,
    Strict,
    Text,
    TopicName,
    WebUrl,
    direction_of,
    is_remote,
    topic_key,
)
from mailer.settings import (
    Brand,
    BrandOverride,
    Footer,
    FooterOverride,
    LoadedSettings,
    Sender,
    SocialLink,
    settings_for,
    toml_location,
)


def _day(value: object) -> datetime.date:
    """A calendar day, written ``2018-03-31`` (YAML reads that as a date already)."""
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value.strip())
        except ValueError:
            pass
    elif isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        return value
    shown = str(value) if isinstance(value, datetime.date) else value  # a date with a time
    raise ValueError(f"not a day: {shown!r} (write it as YYYY-MM-DD, such as 2018-03-31)")


Day = Annotated[datetime.date, BeforeValidator(_day)]


def _moment(value: object) -> datetime.datetime:
    """A moment with its offset from UTC, written in ISO 8601: ``2026-01-15T09:00+03:00`` or
    ``2026-01-15T06:00Z``. A time without an offset is refused: it would mean another moment
    on a laptop in Ankara and on a CI runner in UTC."""
    moment: object = value
    if isinstance(value, str):
        try:
            moment = datetime.datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(
                f"not a time: {value!r} (write it in ISO 8601 with its offset from UTC, such "
                "as 2026-01-15T09:00+03:00)"
            ) from None
    if not isinstance(moment, datetime.datetime):
        raise ValueError(
            f"not a time: {value!r} (a day and a time with its offset from UTC, such as "
            "2026-01-15T09:00+03:00)"
        )
    if moment.utcoffset() is None:
        raise ValueError(
            f"{moment.isoformat()} has no offset from UTC, so it would mean another moment on "
            f"another machine: add one, such as {moment.isoformat()}+03:00 (or Z for UTC)"
        )
    return moment


Moment = Annotated[datetime.datetime, BeforeValidator(_moment)]


class Link(Strict):
    label: Line  # "Read more", "Watch here", "Share on", ...
    url: WebUrl


class Image(Strict):
    src: Line  # a path relative to the YAML file, or an https URL
    alt: str  # "" marks a purely decorative image
    caption: Text | None = None
    credit: Line | None = None  # the photo credit, such as "IOM / Lanna Walsh"
    link: WebUrl | None = None

    @property
    def is_remote(self) -> bool:
        return is_remote(self.src)


class Quote(Strict):
    text: Text
    attribution: Line | None = None


class Item(Strict):
    """One story, video, quote or press mention inside a section."""

    title: Line | None = None
    image: Image | None = None
    body: Text | None = None
    quote: Quote | None = None
    links: list[Link] = []

    @model_validator(mode="after")
    def _has_content(self) -> Item:
        if not (self.title or self.body or self.quote):
            raise ValueError("an item needs at least a title, a body or a quote")
        return self


class Lead(Item):
    title: Line


class Section(Strict):
    title: Line
    intro: Text | None = None
    items: list[Item] = Field(min_length=1)


class IssueAudience(Strict):
    """Which readers an issue goes to, by the topics of ``[list.topics]`` they follow:
    ``audience: {topics: [partners], exclude: [staff]}``. Without it, every reader."""

    topics: list[TopicName] = []  # a reader who follows one of these; none: every reader ...
    exclude: list[TopicName] = []  # ... but not one who follows one of these

    @model_validator(mode="after")
    def _names_someone(self) -> IssueAudience:
        if not (self.topics or self.exclude):
            raise ValueError(
                "name the topics the issue goes to (topics: [...]) or those it leaves out "
                "(exclude: [...]); without audience: it goes to every reader"
            )
        both = {topic_key(name) for name in self.topics} & {topic_key(n) for n in self.exclude}
        if both:
            raise ValueError(
                f"{', '.join(sorted(both))}: both in topics and in exclude, which would leave "
                "out every reader of it; keep it in one"
            )
        return self


class Issue(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,99}$")
    subject: Line
    preheader: Line | None = None
    period: Line | None = None
    language: Language = "en"
    direction: Literal["ltr", "rtl"] | None = None
    title: Line | None = None  # the newsletter's name in the header; defaults to the organisation
    # The day the issue is dated (the last day of its period): the archive's date for an issue
    # that was never sent; a sent one is dated by its first send.
    date: Day | None = None
    archive: bool = True  # false: mailer archive never publishes it (an internal issue)
    audience: IssueAudience | None = None  # the readers it goes to by topic; None: all
    # When mailer send may send it (mailer.delivery.schedule); None: whenever it is run.
    send_at: Moment | None = None
    sender: Sender | None = None
    brand: BrandOverride | None = None
    footer: FooterOverride | None = None
    social: list[SocialLink] | None = None
    lead: Lead | None = None
    sections: list[Section] = []

    @property
    def text_direction(self) -> str:
        return self.direction or direction_of(self.language)

    def all_items(self) -> list[Item]:
        items: list[Item] = [self.lead] if self.lead else []
        for section in self.sections:
            items.extend(section.items)
        return items


@dataclass(frozen=True)
class LoadedIssue:
    """An issue with everything the settings fill in, and where its text came from."""

    issue: Issue
    source: YamlDocument
    brand: Brand
    sender: Sender
    footer: Footer
    social: list[SocialLink]
    settings: LoadedSettings

    @property
    def path(self) -> Path:
        return self.source.path

    @property
    def base_dir(self) -> Path:
        return self.source.path.parent

    def setting_location(self, table: str, key: str) -> Location:
        """Where a brand, footer or sender value comes from: the issue if it overrides the
        value, else mailer.toml."""
        override = getattr(self.issue, table, None)
        if override is not None and getattr(override, key, None) is not None:
            return self.source.locate((table, key))
        return toml_location(self.settings.path, table, key)

    def image_path(self, image: Image) -> Path:
        """The local file of ``image``; ValueError if it is not inside the project folder."""
        return self.settings.project_file(image.src, self.base_dir)

    def logo_path(self, field: str = "logo") -> Path | None:
        """The local file of ``brand.logo`` (or ``brand.logo_dark``): a logo set in the issue
        is relative to the issue, else to the settings. None for none, or an https URL.

        ValueError if it is not inside the project folder.
        """
        value = getattr(self.brand, field)
        if not value or is_remote(value):
            return None
        named_in_issue = self.issue.brand is not None and getattr(self.issue.brand, field)
        folder = self.base_dir if named_in_issue else self.settings.base_dir
        return self.settings.project_file(value, folder)


def load(issue_path: Path, settings_path: Path | None = None) -> LoadedIssue:
    """The issue at ``issue_path`` with ``settings_path`` or the nearest ``mailer.toml``."""
    return load_issue(issue_path, settings_for(issue_path, settings_path))


def load_issue(path: Path, settings: LoadedSettings) -> LoadedIssue:
    """Load, validate and complete the issue at ``path``; raise :class:`InputError` if wrong."""
    return complete_issue(load_yaml(path), settings)


def complete_issue(document: YamlDocument, settings: LoadedSettings) -> LoadedIssue:
    """Validate the issue data of ``document`` and fill in what the settings give."""
    if not isinstance(document.data, dict):
        raise InputError(document.locate(()), "the issue must be a mapping of fields (key: value)")
    try:
        issue = Issue.model_validate(document.data)
    except ValidationError as exc:
        field_path, message = describe_errors(exc, Issue)[0]
        raise InputError(document.locate(field_path), message, dotted(field_path)) from None
    _check_merge_fields(document)
    _check_topics(document, issue, settings)
    loaded = LoadedIssue(
        issue=issue,
        source=document,
        brand=_merge(settings.settings.brand, issue.brand),
        sender=issue.sender or settings.settings.sender,
        footer=_merge(settings.settings.footer.for_language(issue.language), issue.footer),
        social=issue.social if issue.social is not None else settings.settings.social,
        settings=settings,
    )
    _check_local_images(loaded)
    _check_social_icons(loaded)
    return loaded


def _merge(base, override):
    if override is None:
        return base
    return base.model_copy(update=override.model_dump(exclude_none=True))


def dotted(field_path: FieldPath) -> str:
    text = ""
    for part in field_path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _check_merge_fields(document: YamlDocument) -> None:
    """Refuse unknown or unsafe merge fields now, not as blanks half-way through a send."""
    for field_path, text in strings_with_paths(document.data, ()):
        try:
            validate(text)
        except MergeFieldError as exc:
            raise InputError(document.locate(field_path), str(exc), dotted(field_path)) from None


def strings_with_paths(node: object, here: FieldPath) -> Iterator[tuple[FieldPath, str]]:
    """Every string in YAML data with its field path (for merge fields and link checks)."""
    if isinstance(node, str):
        yield here, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from strings_with_paths(value, (*here, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from strings_with_paths(value, (*here, index))


def _check_topics(document: YamlDocument, issue: Issue, settings: LoadedSettings) -> None:
    """Every topic the issue's ``audience:`` names is one of ``[list.topics]``: a misspelt
    topic would send the issue to nobody, or exclude nobody, without a word."""
    if issue.audience is None:
        return
    topics = settings.settings.list.topics
    known = {topic_key(name) for name in topics}
    for part in ("topics", "exclude"):
        for index, name in enumerate(getattr(issue.audience, part)):
            if topic_key(name) in known:
                continue
            field_path: FieldPath = ("audience", part, index)
            if topics:
                listed = ", ".join(sorted(topics, key=topic_key))
                why = (f"unknown topic {name!r} (the list's topics, [list.topics] in "
                       f"{settings.path.name}: {listed})")
            else:
                why = (f"unknown topic {name!r}: {settings.path.name} declares no topics; add "
                       f"one as [list.topics.{name}] with its label in each language")
            raise InputError(document.locate(field_path), why, dotted(field_path))


def _check_local_images(loaded: LoadedIssue) -> None:
    """Every local image and the logo exist inside the project folder (see project_file)."""
    for field_path, image in images_with_paths(loaded.issue):
        if image.is_remote:
            continue
        where, field = loaded.source.locate((*field_path, "src")), dotted((*field_path, "src"))
        try:
            path = loaded.image_path(image)
        except ValueError as exc:
            raise InputError(where, str(exc), field) from None
        if not path.is_file():
            raise InputError(
                where, f"image file not found: {image.src} (paths are relative to the YAML file)",
                field,
            )
    for name in ("logo", "logo_dark"):
        where = loaded.setting_location("brand", name)
        try:
            logo = loaded.logo_path(name)
        except ValueError as exc:
            raise InputError(where, str(exc), f"brand.{name}") from None
        if logo is not None and not logo.is_file():
            raise InputError(
                where, f"logo file not found: {getattr(loaded.brand, name)}", f"brand.{name}"
            )


def _check_social_icons(loaded: LoadedIssue) -> None:
    """Every social network needs its icon in the theme: adding one is a file, not code."""
    theme = theme_for(loaded.settings.base_dir)
    for index, link in enumerate(loaded.social):
        if theme.icon(link.network) is not None:
            continue
        if loaded.issue.social is not None:
            where = loaded.source.locate(("social", index, "network"))
        else:
            where = toml_location(loaded.settings.path, "social", "network", index)
        known = ", ".join(sorted(theme.network_names()))
        folder = theme.project_folder or loaded.settings.base_dir / "templates"
        raise InputError(
            where,
            f"the theme has no icon for '{link.network}' (it has: {known}); add one as "
            f"{folder / ICONS_FOLDER / link.network}.png",
            f"social[{index}].network",
        )


def images_with_paths(issue: Issue) -> Iterator[tuple[FieldPath, Image]]:
    """Every image of the issue with the field path of its ``image:`` mapping."""
    if issue.lead and issue.lead.image:
        yield ("lead", "image"), issue.lead.image
    for s, section in enumerate(issue.sections):
        for i, item in enumerate(section.items):
            if item.image:
                yield ("sections", s, "items", i, "image"), item.image

