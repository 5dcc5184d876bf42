"""``mailer archive``: from ``issues/``, the ledger and mailer.toml to the site folder.

Which issues: every issue in ``issues/`` (and its subfolders) that has reached a reader
according to the send ledger, with every edition; ``--all`` adds the unsent ones, ``--issue X``
keeps only the issue whose id is X. An issue (or an edition) with ``archive: false`` is never
published, whatever the flags say. Each issue is dated by its first send, else by its
``date:``; an unsent issue without one is an error at its file, since the only other time at
hand, the build's, would change the site's bytes on every build.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from mailer.archive.cache import FOLDER, ArchiveCache, Edition, IssueEntry, fingerprint
from mailer.archive.feeds import FEED_ENTRIES, FeedEntry, atom_feed, sitemap
from mailer.archive.output import SiteWriter
from mailer.archive.pages import Listed, describe, index_page, render, with_source
from mailer.archive.site import INDEX, SITEMAP, Site, relative_root
from mailer.compose.editions import issue_files, load_editions
from mailer.compose.yaml_source import load_yaml
from mailer.console import Console
from mailer.errors import InputError, Location, NothingToPublish, UsageError
from mailer.settings import LoadedSettings, settings_for

ISSUES = "issues"


@dataclass(frozen=True)
class ArchiveRequest:
    """What ``mailer archive`` was asked to do; None means "as mailer.toml says"."""

    settings: Path | None = None
    out: Path | None = None
    include_unsent: bool = False  # --all
    issue: str | None = None  # --issue: this issue id alone
    ledger: Path | None = None


@dataclass(frozen=True)
class Published:
    """An issue that goes on the site, with its time."""

    entry: IssueEntry
    updated: datetime.datetime  # its first send, else its date:, in UTC
    year: int  # of its date: (else of its first send): its feed entries' ids
    commits: tuple[str, ...] = ()  # the git commits it was sent from, as the ledger has them
    source: str = ""  # its file, relative to the project folder

    def edition_in(self, language: str, fallback: bool) -> Edition | None:
        """Its edition in ``language``; with ``fallback``, else its default (or first
        published) edition."""
        published = self.entry.published
        found = next((edition for edition in published if edition.language == language), None)
        if found is None and fallback:
            found = next((edition for edition in published if edition.default), published[0])
        return found


def build_archive(request: ArchiveRequest, console: Console) -> None:
    """Build (or bring up to date) the site; NothingToPublish when no issue may be published."""
    settings = settings_for(Path.cwd(), request.settings)
    site = Site.of(settings)
    out = request.out.resolve() if request.out else settings.resolve(settings.settings.archive.out)
    folder = settings.base_dir / ISSUES
    if not folder.is_dir():
        raise UsageError(f"no {ISSUES}/ folder beside {settings.path}: mailer archive publishes it")
    ledger = request.ledger.resolve() if request.ledger else settings.resolve(
        settings.settings.send.ledger
    )
    if request.ledger and not ledger.is_file():
        raise UsageError(f"no send ledger at {request.ledger}")
    cache = ArchiveCache(settings.base_dir / FOLDER, fingerprint(settings, site.theme))
    files = issue_files(folder)
    with first_sends(ledger) as sent:
        chosen, ids = _choose(request, settings, site, cache, files, sent)
    if request.issue is not None and request.issue not in ids:
        raise UsageError(f"no issue in {_shown(folder)} has the id {request.issue}")
    if not chosen:
        raise NothingToPublish(_nothing_to_publish(request, len(files), folder, ledger))
    _check_ids(site, chosen)
    writer = SiteWriter(out, cache.folder)
    pages = _write_site(site, cache, writer, chosen)
    summary = writer.finish()
    cache.save({str(path) for path in files})
    languages = len({edition.language for item in chosen for edition in item.entry.published})
    console.say(
        f"Built the site in {_shown(out)}: {len(chosen)} issue(s), {pages} page(s) in "
        f"{languages} language(s); {len(summary.written)} file(s) written, {summary.unchanged} "
        f"unchanged, {len(summary.removed)} removed. Publish the folder at {site.base_url}"
    )


@dataclass(frozen=True)
class Sends:
    """What the ledger says of each issue, by id: when it first reached a reader (None: never)
    and the git commits it was sent from."""

    first_sent: Callable[[str], float | None]
    commits: Callable[[str], list[str]]


@contextmanager
def first_sends(ledger: Path) -> Iterator[Sends]:
    """The ledger's :class:`Sends`; never sent and no commit for every issue without one."""
    if not ledger.is_file():
        yield Sends(lambda issue_id: None, lambda issue_id: [])
        return
    from mailer.delivery.ledger import Ledger  # only with a ledger: it brings filelock

    with Ledger(ledger, read_only=True) as opened:
        yield Sends(opened.first_sent, opened.commits)


def _choose(
    request: ArchiveRequest, settings: LoadedSettings, site: Site, cache: ArchiveCache,
    files: dict[Path, tuple[Path, ...]], sent: Sends,
) -> tuple[list[Published], set[str]]:
    """The issues that go on the site, rendered (from the cache when it holds), newest first;
    and the ids of all issues."""
    chosen, ids = [], set()
    for path, edition_paths in files.items():
        sources = (str(path), *map(str, edition_paths))
        entry = cache.get(sources)
        editions = None
        if entry is None:
            editions = load_editions(path, settings.path)
            entry = describe(editions, sources)
        ids.add(entry.issue_id)
        first = sent.first_sent(entry.issue_id)
        wanted = (
            bool(entry.published)
            and request.issue in (None, entry.issue_id)
            and (first is not None or request.include_unsent)
        )
        if wanted and not entry.rendered:
            entry = render(entry, editions or load_editions(path, settings.path), site, cache)
        cache.put(entry)
        if wanted:
            source = path.relative_to(settings.base_dir).as_posix() if path.is_relative_to(
                settings.base_dir) else path.name
            chosen.append(_published(entry, first, tuple(sent.commits(entry.issue_id)), source))
    chosen.sort(key=lambda item: (-item.updated.timestamp(), item.entry.issue_id))
    return chosen, ids


def _published(
    entry: IssueEntry, first: float | None, commits: tuple[str, ...] = (), source: str = ""
) -> Published:
    day = entry.editions[0].date
    dated = datetime.date.fromisoformat(day) if day else None
    if first is not None:
        updated = datetime.datetime.fromtimestamp(first, datetime.UTC)
    elif dated is not None:
        updated = datetime.datetime.combine(dated, datetime.time(), datetime.UTC)
    else:
        raise InputError(
            _id_location(entry), f"{entry.issue_id} was never sent and has no date: to date it "
            "on the site and in the feeds, add one, such as date: 2026-03-31 (the last day of "
            "its period)", "date",
        )
    return Published(entry, updated, (dated or updated).year, commits, source)


def _id_location(entry: IssueEntry) -> Location:
    return load_yaml(Path(entry.files[0])).locate(("id",))


def _check_ids(site: Site, chosen: list[Published]) -> None:
    """Two issues with one id would share a page; an id may not take a name the site uses."""
    languages = {edition.language for item in chosen for edition in item.entry.published}
    reserved = site.reserved(languages - {site.language})
    seen: dict[str, str] = {}
    for item in sorted(chosen, key=lambda item: item.entry.files[0]):
        issue_id, path = item.entry.issue_id, item.entry.files[0]
        if issue_id in seen:
            raise InputError(
                _id_location(item.entry), f"{Path(seen[issue_id]).name} has the id {issue_id} "
                "already: on the site, each issue needs its own", "id",
            )
        if issue_id in reserved:
            raise InputError(
                _id_location(item.entry), f"the site uses the name {issue_id} itself (its "
                f"index, a feed, a language's folder or its images): give the issue another id",
                "id",
            )
        seen[issue_id] = path


def _write_site(
    site: Site, cache: ArchiveCache, writer: SiteWriter, chosen: list[Published]
) -> int:
    """Every file of the site into ``writer``; the number of issue pages."""
    images: dict[str, tuple[str, str]] = {}  # place -> its file and the file's SHA-256
    pages = []
    for item in chosen:
        for edition in item.entry.published:
            blob = edition.page or ""
            if item.commits:  # the page names the commit it was sent from
                page = with_source(cache.blob(blob), item.source, item.commits)
                writer.put_bytes(edition.path + INDEX, page)
            else:
                writer.put(edition.path + INDEX, blob, partial(cache.blob, blob))
            images.update(
                (place, (source, item.entry.sources[source][2]))
                for place, source in edition.images.items()
            )
            pages.append(edition.path)
    for place, (source, sha256) in sorted(images.items()):
        writer.put(place, sha256, Path(source).read_bytes)
    others = sorted({e.language for item in chosen for e in item.entry.published} - {site.language})
    languages = [site.language, *others]
    year = min(item.year for item in chosen)
    for language in languages:
        fallback = language == site.language
        shown = [
            (item, found) for item in chosen
            if (found := item.edition_in(language, fallback)) is not None
        ]
        root = relative_root(site.index_path(language))
        listed = [Listed(edition, root + edition.path) for _, edition in shown]
        writer.put_bytes(
            site.index_path(language) + INDEX,
            index_page(site, language, listed, languages).encode(),
        )
        entries = [
            FeedEntry(edition, item.updated, item.year, cache.blob(edition.content or "").decode())
            for item, edition in shown[:FEED_ENTRIES]
        ]
        writer.put_bytes(site.feed_path(language), atom_feed(site, language, entries, year))
    indexes = [site.index_path(language) for language in languages]
    writer.put_bytes(SITEMAP, sitemap(site, [*indexes, *pages]))
    return len(pages)


def _nothing_to_publish(request: ArchiveRequest, count: int, folder: Path, ledger: Path) -> str:
    if request.issue:
        which = f"{request.issue} has not been sent (according to {_shown(ledger)})"
    else:
        which = (
            f"none of the {count} issue(s) in {_shown(folder)} has been sent (according to "
            f"{_shown(ledger)})"
        )
    return f"nothing to publish: {which}, or says archive: false (--all adds unsent issues)"


def _shown(path: Path) -> str:
    """``path`` relative to the current folder when it is inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
