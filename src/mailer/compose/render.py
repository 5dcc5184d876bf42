"""Render an issue once: model -> MJML (Jinja2) -> HTML (MRML) -> inlined HTML; model -> text.

The output still holds merge-field tokens (see :mod:`mailer.compose.merge`); personalising it per
subscriber is a cheap string join done later, never a second render.
"""

from __future__ import annotations

import logging
import os
import re
import textwrap
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import mjml
from jinja2 import (
    Environment,
    FileSystemBytecodeCache,
    FileSystemLoader,
    StrictUndefined,
    Template,
    select_autoescape,
)
from markupsafe import Markup

from mailer.compose import bidi, markdown
from mailer.compose.images import ImageLinker
from mailer.compose.issue import Image, LoadedIssue
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
# After the preheader: invisible characters that fill the inbox's preview line, so that it does
# not run on into the first words of the email.
PREHEADER_SPACER = Markup("&#847;&zwnj;&nbsp;" * 60)

_DOCTYPE = "<!DOCTYPE html>"
_MJML_TAG = re.compile(r"<(mj-[a-z-]+)")
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
    html = inline_css(compile_mjml(mjml_source))
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
    html = compile_mjml(html_env.get_template(HTML_TEMPLATE).render(context))
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


def _bytecode_cache(project: Path) -> FileSystemBytecodeCache | None:
    """Compiled templates kept in ``.mailer/`` beside mailer.toml: ~30 ms off each command.

    Jinja keys each entry by the template's source, so an edited template is recompiled.
    """
    cache = project / ".mailer" / "template-cache"
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return FileSystemBytecodeCache(str(cache)) if os.access(cache, os.W_OK) else None


@lru_cache(maxsize=8)
def _environments(folders: tuple[Path, ...], project: Path) -> tuple[Environment, Environment]:
    """Autoescaping is on for the HTML template: text from YAML can never become markup.

    The loader looks in each of the theme's folders in turn: a project's own template wins.
    """
    loader = _ThemeLoader([str(folder) for folder in folders])
    cache = _bytecode_cache(project)
    html_env = Environment(
        loader=loader,
        bytecode_cache=cache,
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    text_env = Environment(
        loader=loader, bytecode_cache=cache, autoescape=False, undefined=StrictUndefined,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
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
    names = theme.network_names() if loaded.social else {}
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
    }


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




def compile_mjml(source: str) -> str:
    """MJML -> HTML with MRML, refusing what MRML would let through silently.

    MRML does not validate: an unknown ``<mj-...>`` tag is copied into the HTML verbatim, where
    mail clients would show nothing. ``fonts={}`` stops it linking Google Fonts by default.
    """
    try:
        html = mjml.mjml2html(source, disable_comments=True, fonts={})
    except ValueError as exc:
        raise ThemeError(f"the template is not valid MJML: {exc}") from None
    leftover = _MJML_TAG.search(html)
    if leftover:
        raise ThemeError(f"the template uses an unknown MJML tag <{leftover.group(1)}>")
    return html


def inline_css(html: str) -> str:
    """Move CSS into ``style`` attributes, keeping media queries and ``!important`` in them.

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
    return f"{_DOCTYPE}\n{body}"


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

