"""Render an issue once: model -> MJML (Jinja2) -> HTML (MRML) -> inlined HTML; model -> text.

The output still holds merge-field tokens (see :mod:`mailer.compose.merge`); personalising it per
subscriber is a cheap string join done later, never a second render.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import textwrap
import threading
from dataclasses import dataclass
from functools import lru_cache
from hashlib import sha1, sha256
from pathlib import Path
from typing import ClassVar

import mjml
from jinja2 import (
    BytecodeCache,
    Environment,
    FileSystemBytecodeCache,
    FileSystemLoader,
    StrictUndefined,
    Template,
    select_autoescape,
)
from jinja2.bccache import Bucket
from markupsafe import Markup

from mailer.compose import bidi, markdown
from mailer.compose.images import ImageLinker
from mailer.compose.issue import Image, Item, LoadedIssue
from mailer.compose.merge import (
    PREFERENCES_KEY,
    UNSUBSCRIBE_KEY,
    FillIn,
    MergeFields,
    outside_tokens,
    token,
)
from mailer.compose.palette import palettes
from mailer.compose.site import view_url
from mailer.compose.theme import HTML_TEMPLATE, ICONS_FOLDER, TEXT_TEMPLATE, Theme, theme_for
from mailer.compose.wording import labels_for
from mailer.errors import ThemeError
from mailer.fields import language_keys

TEXT_WIDTH = 72
CONTENTS_OVER = 12  # an issue with more stories than this opens with "In this issue"
# After the preheader: invisible characters that fill the inbox's preview line, so that it does
# not run on into the first words of the email.
PREHEADER_SPACER = Markup("&#847;&zwnj;&nbsp;" * 60)

_DOCTYPE = "<!DOCTYPE html>"
_MJML_TAG = re.compile(r"<(mj-[a-z-]+)")
_STYLE_ATTRIBUTE = re.compile(r'style="([^"]*)"')
_STYLE_SPACES = re.compile(r"\s*([:;])\s*")
_MJML_RESETS = re.compile(r'<style type="text/css">(\s*#outlook a)')


@dataclass(frozen=True)
class RenderedIssue:
    """The finished newsletter, with merge-field tokens still in place."""

    subject: str
    preheader: str
    html: str
    text: str
    merge_fields: MergeFields


def theme_of(loaded: LoadedIssue) -> Theme:
    """The issue's theme: the project's ``templates/`` over the one mailer ships."""
    return theme_for(loaded.settings.base_dir)


def render_issue(loaded: LoadedIssue, images: ImageLinker) -> RenderedIssue:
    merge = MergeFields()
    html_env, text_env, context = _prepare(loaded, images, merge, web_page=False)
    mjml_source = html_env.get_template(HTML_TEMPLATE).render(context)
    html = _inlined(compile_mjml(mjml_source, loaded.issue.text_direction),
                    loaded.settings.base_dir)
    text = text_env.get_template(TEXT_TEMPLATE).render(context)
    issue = loaded.issue
    return RenderedIssue(
        subject=merge.tokenize(issue.subject),
        preheader=merge.tokenize(issue.preheader or ""),
        html=html,
        text=bidi.mark_lines(_tidy_text(text), issue.text_direction),
        merge_fields=merge,
    )


def render_page(loaded: LoadedIssue, images: ImageLinker) -> str:
    """The issue as a page of the newsletter's site: the email's design, for nobody in
    particular. Merge fields take their defaults (``Hello there``); there is no preheader, no
    unsubscribe link and no reason for receiving it, and nothing to track a reader by.

    A browser reads the ``<style>`` blocks, so the page is not inlined (premailer is most of
    the cost of a render).
    """
    merge = MergeFields()
    html_env, _, context = _prepare(loaded, images, merge, web_page=True)
    source = html_env.get_template(HTML_TEMPLATE).render(context)
    html = compile_mjml(source, loaded.issue.text_direction)
    return FillIn.of(html, escape_html=True).fill(merge.values({}))


def _prepare(
    loaded: LoadedIssue, images: ImageLinker, merge: MergeFields, *, web_page: bool
) -> tuple[Environment, Environment, dict]:
    """The template environments with filters that tokenize into ``merge``, and the context."""
    theme = theme_of(loaded)
    for name in (HTML_TEMPLATE, TEXT_TEMPLATE):
        theme.path(name)  # a missing template is one error line, not Jinja's traceback
    html_env, text_env = _environments(theme.folders, loaded.settings.base_dir)
    for env in (html_env, text_env):
        env.filters["t"] = merge.tokenize
    # Right to left, the URLs in the issue's text are isolated in the HTML and stand on lines
    # of their own in the text part (see mailer.compose.bidi); left to right, nothing changes.
    direction = loaded.issue.text_direction
    html_env.filters["md"] = lambda text: bidi.isolate_urls(
        markdown.to_html(merge.tokenize(text)), direction
    )
    html_env.filters["md_inline"] = lambda text: bidi.isolate_urls(
        markdown.to_inline_html(merge.tokenize(text)), direction
    )
    html_env.filters["isolate"] = lambda text: bidi.isolate(text, direction)
    html_env.filters["excerpt"] = lambda text: excerpt(merge.tokenize(text))
    text_env.filters["md"] = lambda text: bidi.urls_apart(
        markdown.to_text(merge.tokenize(text)), direction
    )
    text_env.filters["upper"] = lambda text: upper(text, loaded.issue.language)
    return html_env, text_env, _context(loaded, images, theme, web_page=web_page)


def theme_template(theme: Theme, project: Path, name: str) -> Template:
    """The theme's HTML template ``name`` (autoescaped), such as the site's ``site.html.j2``."""
    theme.path(name)
    return _environments(theme.folders, project)[0].get_template(name)


class _CompiledTemplates(BytecodeCache):
    """Compiled templates, found by their name and source wherever the file is: in memory for
    this process (the live preview re-renders on each save; the tests render hundreds of
    projects with the same theme) and in ``.mailer/template-cache`` beside mailer.toml, which
    takes ~30 ms off each command. An edited template has another key, and is compiled anew.

    ``flavour`` tells the HTML environment's code from the text one's (other options).
    """

    _memory: ClassVar[dict[str, bytes]] = {}
    _memory_lock: ClassVar[threading.Lock] = threading.Lock()  # the live preview's threads
    _MEMORY_ENTRIES = 64

    def __init__(self, flavour: str, disk: FileSystemBytecodeCache | None) -> None:
        self._flavour = flavour
        self._disk = disk

    def get_bucket(
        self, environment: Environment, name: str, filename: str | None, source: str
    ) -> Bucket:
        key = sha1(f"{self._flavour}\0{name}\0{source}".encode()).hexdigest()
        bucket = Bucket(environment, key, self.get_source_checksum(source))
        self.load_bytecode(bucket)
        return bucket

    def load_bytecode(self, bucket: Bucket) -> None:
        with self._memory_lock:
            kept = self._memory.get(bucket.key)
        if kept is not None:
            bucket.bytecode_from_string(kept)
            return
        if self._disk is not None:
            self._disk.load_bytecode(bucket)
            if bucket.code is not None:
                self._remember(bucket)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._remember(bucket)
        if self._disk is not None:
            self._disk.dump_bytecode(bucket)

    def _remember(self, bucket: Bucket) -> None:
        code = bucket.bytecode_to_string()
        with self._memory_lock:
            if len(self._memory) >= self._MEMORY_ENTRIES:
                self._memory.pop(next(iter(self._memory)))  # the oldest
            self._memory[bucket.key] = code


def _cache_folder(project: Path) -> Path | None:
    """``.mailer/template-cache`` beside mailer.toml, where it can be written."""
    cache = project / ".mailer" / "template-cache"
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return cache if os.access(cache, os.W_OK) else None


def _template_folder(project: Path) -> FileSystemBytecodeCache | None:
    cache = _cache_folder(project)
    return None if cache is None else FileSystemBytecodeCache(str(cache))


# The inlined HTML is kept on disk by what went in and the code that inlined it: this module
# and the inliner's packages, each known by its file's time (an upgrade writes them anew).
_INLINING_CODE = ("premailer", "cssutils", "lxml")
_INLINED_KEPT = 32  # files: the newest are kept, as the live preview writes one a save


@lru_cache(maxsize=1)
def _inliner() -> str | None:
    """A fingerprint of the inlining code; None where its files cannot be found (a frozen
    build), and nothing is kept on disk."""
    stamps = []
    for name in _INLINING_CODE:
        spec = importlib.util.find_spec(name)
        origin = spec.origin if spec else None
        if origin is None:
            return None
        stamps.append(origin)
    try:
        stamps = [f"{path}:{os.stat(path).st_mtime_ns}" for path in (__file__, *stamps)]
    except OSError:
        return None
    return sha256("\0".join(stamps).encode()).hexdigest()[:16]


def _inlined(html: str, project: Path) -> str:
    """:func:`inline_css`, with a copy in the project's template cache: ``check``, ``preview``
    and ``send`` of an unchanged issue inline it once (premailer and its ~0.1 s import are most
    of a command's own work), and each of them starts without importing premailer at all."""
    cache = _cache_folder(project)
    inliner = _inliner()
    if cache is None or inliner is None:
        return inline_css(html)
    key = sha256((inliner + html).encode()).hexdigest()
    path = cache / f"inlined-{key}.html"
    try:
        kept = path.read_text(encoding="utf-8")
        if kept.startswith(_DOCTYPE) and kept.endswith("</html>"):  # whole: what we wrote
            return kept
    except (OSError, UnicodeDecodeError):  # none yet, or being replaced (Windows)
        pass
    inlined = inline_css(html)
    partial = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}")
    try:
        partial.write_text(inlined, encoding="utf-8")
        os.replace(partial, path)  # whole or not at all, whoever reads it meanwhile
        kept_files = sorted(cache.glob("inlined-*.html"), key=_modified, reverse=True)
        for old in kept_files[_INLINED_KEPT:]:
            old.unlink(missing_ok=True)
    except OSError:
        partial.unlink(missing_ok=True)
    return inlined


def _modified(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:  # gone meanwhile (or, on Windows, being replaced)
        return 0.0


@lru_cache(maxsize=8)
def _environments(folders: tuple[Path, ...], project: Path) -> tuple[Environment, Environment]:
    """Autoescaping is on for the HTML template: text from YAML can never become markup.

    The loader looks in each of the theme's folders in turn: a project's own template wins.
    """
    loader = _ThemeLoader([str(folder) for folder in folders])
    disk = _template_folder(project)
    html_env = Environment(
        loader=loader,
        bytecode_cache=_CompiledTemplates("html", disk),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    text_env = Environment(
        loader=loader, bytecode_cache=_CompiledTemplates("text", disk), autoescape=False,
        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    text_env.filters["wrap"] = wrap
    text_env.filters["underline"] = underline
    return html_env, text_env


class _ThemeLoader(FileSystemLoader):
    """A loader whose templates also go stale when a project adds its own copy of one (while
    the live preview runs, say): Jinja would otherwise keep the default theme's."""

    def get_source(self, environment: Environment, template: str):
        source, filename, uptodate = super().get_source(environment, template)
        found = Path(filename)
        shadows = []
        for folder in map(Path, self.searchpath):
            if found.is_relative_to(folder):
                break
            shadows.append(folder / template)

        def still_current() -> bool:
            return uptodate() and not any(path.is_file() for path in shadows)

        return source, filename, still_current


def _context(loaded: LoadedIssue, images: ImageLinker, theme: Theme, *, web_page: bool) -> dict:
    """What the templates see. ``web_page``: the page of the site rather than an email, so
    nothing of a reader's own (the unsubscribe link) and no link to itself."""
    issue = loaded.issue

    def image_url(image: Image) -> str:
        return image.src if image.is_remote else images.url_for(loaded.image_path(image))

    def logo(field: str) -> str | None:
        path = loaded.logo_path(field)
        return images.url_for(path) if path else getattr(loaded.brand, field)

    light, dark = palettes(loaded.brand)
    names = theme.network_names(issue.language) if loaded.social else {}
    social = [
        {
            "network": link.network,
            "url": link.url,
            "label": link.label or names.get(link.network, link.network.title()),
            "icon": images.url_for(theme.path(f"{ICONS_FOLDER}/{link.network}.png")),
        }
        for link in loaded.social
    ]
    rtl = issue.text_direction == "rtl"
    type_ = bidi.typography(issue.language, issue.text_direction, loaded.brand.font_family)
    items = issue.all_items()
    anchors = {id(item): f"story-{number}" for number, item in enumerate(items, start=1)}
    return {
        "labels": labels_for(theme, issue.language, loaded.brand.organisation),
        "issue": issue,
        "title": issue.title or loaded.brand.organisation,
        "brand": loaded.brand,
        "sender": loaded.sender,
        "footer": loaded.footer,
        "social": social,
        "logo_url": logo("logo"),
        "logo_dark_url": logo("logo_dark"),
        "light": light.as_dict(),
        "dark": dark.as_dict(),
        "preheader_spacer": PREHEADER_SPACER,
        "image_url": image_url,
        "unsubscribe_url": token(UNSUBSCRIBE_KEY),
        # The link is a mailto ([list] unsubscribe = "mailto"): the footer says so.
        "unsubscribe_by_mail": loaded.settings.settings.list.unsubscribe_mode == "mailto",
        # The reader's preference page, beside the sign-up form ([list] subscribe_url).
        "preferences_url": (
            token(PREFERENCES_KEY) if loaded.settings.settings.list.subscribe_url else None
        ),
        "web_page": web_page,
        "view_url": None if web_page else view_url(loaded),
        "direction": issue.text_direction,
        "align": "right" if rtl else "left",
        "opposite": "left" if rtl else "right",
        "font_family": type_.font_family,
        "line_height": type_.line_height,
        "quote_style": type_.quote_style,
        "story_runs": story_runs,
        # A long issue opens with its headlines, each a jump to its story.
        "contents": [item for item in items if item.title] if len(items) > CONTENTS_OVER else [],
        "anchor": lambda item: anchors[id(item)],
    }


def is_compact(item: Item) -> bool:
    """A story that is only a headline and its links: shown as one line of a list."""
    return bool(item.title and item.links) and not (item.body or item.image or item.quote)


def story_runs(items: list[Item]) -> list[tuple[str, list[Item]]]:
    """A section's stories as the template lays them out: ``("photo", [item])`` for a story
    with a photo beside its text, ``("text", [item])`` for one without, and ``("compact",
    items)`` for a run of stories that are only a headline and links (a list)."""
    runs: list[tuple[str, list[Item]]] = []
    for item in items:
        kind = "photo" if item.image else "compact" if is_compact(item) else "text"
        if kind == "compact" and runs and runs[-1][0] == "compact":
            runs[-1][1].append(item)
        else:
            runs.append((kind, [item]))
    return runs


@lru_cache(maxsize=1)
def _skip_css_validation() -> None:
    """Stop cssutils validating every CSS property premailer parses (once per process).

    premailer 3.10 parses each inlined style with validation on, whatever its
    ``disable_validation`` says; validating compiles about 150 ms of regular expressions per
    process (most of a ``mailer preview`` run) and changes nothing in the output, which is
    byte for byte the same without it. With no profiles loaded, there is nothing to validate.
    """
    import cssutils

    cssutils.profile.removeProfile(all=True)




def compile_mjml(source: str, direction: str = "ltr") -> str:
    """MJML -> HTML with MRML, refusing what MRML would let through silently.

    MRML does not validate: an unknown ``<mj-...>`` tag is copied into the HTML verbatim, where
    mail clients would show nothing. ``fonts={}`` stops it linking Google Fonts by default.
    Right to left, Outlook's ghost tables get the direction MRML leaves off.
    """
    try:
        html = mjml.mjml2html(source, disable_comments=True, fonts={})
    except ValueError as exc:
        raise ThemeError(f"the template is not valid MJML: {exc}") from None
    leftover = _MJML_TAG.search(html)
    if leftover:
        raise ThemeError(f"the template uses an unknown MJML tag <{leftover.group(1)}>")
    return bidi.ghost_tables_right_to_left(html) if direction == "rtl" else html


@lru_cache(maxsize=16)
def inline_css(html: str) -> str:
    """Move CSS into ``style`` attributes, keeping media queries and ``!important`` in them.

    Kept for the next call with the same HTML (premailer is most of a render's time): the live
    preview re-renders every edition on each save, and ``check`` and ``send`` render an issue
    more than once.

    premailer's defaults would strip ``!important`` inside kept media queries (which is what
    makes MJML's columns stack on phones), drop the lowercase doctype MRML writes, and try to
    fetch remote stylesheets; each of those is switched off or repaired here.

    MJML's reset block (``#outlook a``, ``table, td {...}``) stays in the head, where every
    client that matters reads it: inlined, it lands on every cell and costs about a fifth of the
    message size, bringing long issues close to Gmail's clipping limit.
    """
    from premailer import Premailer  # imported here: a web page (render_page) needs none of it

    _skip_css_validation()
    html = _MJML_RESETS.sub(r'<style type="text/css" data-premailer="ignore">\1', html, count=1)
    inliner = Premailer(
        html,
        strip_important=False,
        keep_style_tags=False,
        disable_leftover_css=False,
        allow_network=False,
        allow_loading_external_files=False,
        remove_classes=False,
        disable_validation=True,
        cssutils_logging_level=logging.CRITICAL,
        cache_css_parsing=True,
    )
    body = inliner.transform(pretty_print=False)
    body = re.sub(r"^\s*<!doctype[^>]*>\s*", "", body, flags=re.I)
    return f"{_DOCTYPE}\n{_STYLE_ATTRIBUTE.sub(_tight_style, body)}"


def _tight_style(match: re.Match[str]) -> str:
    """A ``style`` attribute without the spaces premailer writes around ``:`` and ``;`` (a
    few KB of a long issue, which Gmail counts toward its clipping)."""
    tight = _STYLE_SPACES.sub(r"\1", match.group(1)).strip()
    return f'style="{tight}"'



def wrap(text: str, width: int = TEXT_WIDTH, indent: str = "") -> str:
    """Wrap each paragraph to ``width`` columns; URLs and long words are never broken."""
    paragraphs = text.split("\n\n")
    wrapped = []
    for paragraph in paragraphs:
        lines = [
            textwrap.fill(
                line, width=width, initial_indent=indent, subsequent_indent=indent,
                break_long_words=False, break_on_hyphens=False,
            )
            for line in paragraph.split("\n")
        ]
        wrapped.append("\n".join(lines))
    return "\n\n".join(wrapped)


def upper(text: str, language: str) -> str:
    """Capitals for a heading of the text part, in ``language``: Turkish and Azerbaijani
    capitalise i as İ ("Diğer" -> "DİĞER", not "DIĞER"); merge-field tokens stay as they are."""
    dotted = language_keys(language)[-1] in ("tr", "az")

    def capitals(part: str) -> str:
        return (part.replace("i", "İ") if dotted else part).upper()

    return outside_tokens(text, capitals)


def underline(text: str, char: str = "=") -> str:
    """A rule as long as the longest line of ``text``."""
    return char * max(len(line) for line in text.splitlines() or [""])


def excerpt(text: str, words: int = 8) -> str:
    """The first words of Markdown ``text`` as plain text, to name an untitled item's links."""
    plain = markdown.to_text(text).split()
    return " ".join(plain[:words]) + ("…" if len(plain) > words else "")


def _tidy_text(text: str) -> str:
    """At most one blank line in a row, no trailing spaces, one final newline."""
    lines = [line.rstrip() for line in text.splitlines()]
    tidy = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")
    return tidy + "\n"

