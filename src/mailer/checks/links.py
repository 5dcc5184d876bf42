"""Links: every URL in the issue and the settings, checked for its form and, online, fetched.

Where the URLs are: every ``url``, ``link`` and ``website`` field and every remote ``src`` or
``logo`` in the issue YAML, every ``[text](url)`` inside its text, and the settings the issue
does not override (website, logo, social links, the unsubscribe page). With hosted images
(``[send] image_base_url``), also the address each local image will have there, so that an
image nobody uploaded is found before the readers miss it. Each finding points at the YAML or
mailer.toml line the URL is written on (or, for a hosted image, its file is named on).

Online, each distinct URL is fetched once, concurrently: HEAD first, GET (without reading the
body) when a server refuses HEAD. Redirects are followed and reported with the final address.
Good results are kept for ten minutes in ``.mailer/link-cache.json`` beside mailer.toml, so a
re-run is instant; failures are always fetched again, since they are what a person is fixing.
"""

from __future__ import annotations

import ipaddress
import json
import re
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from functools import partial
from http import HTTPStatus
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

from mailer.audience.subscribers import SampleReader
from mailer.checks.base import CheckOptions, Finding, Severity, finding_maker, settings_location
from mailer.compose.images import PublishedImages
from mailer.compose.issue import LoadedIssue, images_with_paths, strings_with_paths
from mailer.compose.merge import FillIn, MergeFields
from mailer.compose.render import theme_of
from mailer.delivery.prepare import Prepared
from mailer.errors import Location
from mailer.fields import MERGE_FIELD, is_remote
from mailer.textfiles import write_whole

CHECK = "links"
CACHE_FILE = Path(".mailer") / "link-cache.json"
WORKERS = 16
USER_AGENT = "mailer-check/0.1 (newsletter link checker)"

_URL_FIELDS = frozenset({"url", "link", "website"})
_IMAGE_FIELDS = frozenset({"src", "logo"})  # URLs only when remote; else local file paths
_MARKDOWN_LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]*)")
_HEAD_REFUSED = frozenset({403, 405, 501})

Kind = Literal["link", "image", "unsubscribe"]
_finding = finding_maker(CHECK)


@dataclass(frozen=True)
class UrlUse:
    """One place a URL is written: the issue YAML or mailer.toml."""

    url: str  # as written: may hold merge fields, or {token} in the unsubscribe template
    kind: Kind
    location: Location


@dataclass(frozen=True)
class Probe:
    """What fetching one URL gave."""

    status: int | None = None
    final_url: str = ""
    redirects: tuple[int, ...] = ()
    content_type: str = ""
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and self.status < 400


def url_uses(loaded: LoadedIssue) -> list[UrlUse]:
    """Every URL of the issue and of the settings it uses, each with its place."""
    uses: list[UrlUse] = []
    for field_path, text in strings_with_paths(loaded.source.data, ()):
        key = field_path[-1] if field_path else ""
        location = loaded.source.locate(field_path)
        if key in _URL_FIELDS:
            uses.append(UrlUse(text, "link", location))
        elif key in _IMAGE_FIELDS:
            if is_remote(text):
                uses.append(UrlUse(text, "image", location))
        else:
            uses.extend(UrlUse(m.group(1), "link", location) for m in _MARKDOWN_LINK.finditer(text))
    settings = loaded.settings.settings
    override = loaded.issue.brand
    if settings.brand.website and not (override and override.website):
        location = settings_location(loaded, "brand", "website")
        uses.append(UrlUse(settings.brand.website, "link", location))
    if is_remote(settings.brand.logo or "") and not (override and override.logo):
        location = settings_location(loaded, "brand", "logo")
        uses.append(UrlUse(settings.brand.logo or "", "image", location))
    if loaded.issue.social is None:
        for index, link in enumerate(settings.social):
            location = settings_location(loaded, "social", "url", index)
            uses.append(UrlUse(link.url, "link", location))
    if settings.list.unsubscribe_mode == "web" and settings.list.unsubscribe_url:
        location = settings_location(loaded, "list", "unsubscribe_url")
        uses.append(UrlUse(settings.list.unsubscribe_url, "unsubscribe", location))
    if settings.send.image_base_url:
        uses += _hosted_images(loaded, PublishedImages(settings.send.image_base_url))
    return uses


def _hosted_images(loaded: LoadedIssue, hosted: PublishedImages) -> list[UrlUse]:
    """Where each local image of the email is expected on the image server."""
    uses = [
        UrlUse(hosted.url_for(loaded.image_path(image)), "image",
               loaded.source.locate((*field_path, "src")))
        for field_path, image in images_with_paths(loaded.issue) if not image.is_remote
    ]
    where = settings_location(loaded, "send", "image_base_url")
    theme = theme_of(loaded)
    files = [loaded.logo_path(field) for field in ("logo", "logo_dark")]
    files += [theme.icon(link.network) for link in loaded.social]
    uses += [UrlUse(hosted.url_for(path), "image", where) for path in files if path]
    return uses


def url_places(uses: Iterable[UrlUse]) -> dict[str, Location]:
    """Each URL as written, with the first place it is written."""
    places: dict[str, Location] = {}
    for use in uses:
        places.setdefault(use.url.strip(), use.location)
    return places


def check(loaded: LoadedIssue, prepared: Prepared, *, options: CheckOptions) -> list[Finding]:
    uses = url_uses(loaded)
    findings = [finding for use in uses if (finding := _form_finding(use)) is not None]
    targets = {use: target for use in uses if (target := fetch_target(use)) is not None}
    plain_http = [
        use for use in targets if use.kind != "unsubscribe" and _scheme(use.url) == "http"
    ]
    if options.offline:
        findings += [_plain_http_finding(use, None) for use in plain_http]
        return findings
    upgrades = {use: _https_variant(targets[use]) for use in plain_http}
    cache = LinkCache.beside(loaded, options.cache_ttl)
    wanted = [*targets.values(), *(url for url in upgrades.values() if url)]
    probes = probe_urls(wanted, options, cache)
    if len(probes) > 1 and all(probe.error for probe in probes.values()):
        findings.append(_finding(
            "warning", f"none of the {len(probes)} addresses could be reached",
            Location(loaded.path), "if this computer is offline, run the check with --offline",
        ))
    for use in plain_http:
        upgrade = upgrades.get(use)
        works = upgrade is not None and probes[upgrade].ok
        findings.append(_plain_http_finding(use, upgrade if works else None, online=True))
    for use, target in targets.items():
        findings.extend(_probe_findings(use, probes[target]))
    return findings


# --- the form of a URL -------------------------------------------------------------------------


def _form_finding(use: UrlUse) -> Finding | None:
    text = use.url.strip()
    lower = text.lower()
    shown = _shorten(text)
    if not text:
        return _error(use, "empty link", "write the full address, starting with https://")
    if text.startswith("#"):
        return _error(
            use, f"link '{shown}' goes nowhere in an email",
            "link to the full https:// address of the page",
        )
    if lower.startswith("javascript:"):
        return _error(
            use, f"javascript: link '{shown}': mail clients block it and spam filters flag it",
            "link to a web page instead",
        )
    try:
        parts = urlsplit(MERGE_FIELD.sub("x", text))
        host = parts.hostname
    except ValueError:
        parts, host = None, None
    if parts is not None and parts.scheme.lower() == "mailto" and "@" in parts.path:
        return None
    well_formed = (
        parts is not None
        and parts.scheme.lower() in ("http", "https")
        and host is not None
        and "." in host
        and not any(ch.isspace() for ch in text)
    )
    if not well_formed:
        return _error(
            use, f"not a complete web address: '{shown}'",
            "write it in full, such as https://www.example.org/page (no spaces)",
        )
    return None


def _plain_http_finding(use: UrlUse, https_url: str | None, online: bool = False) -> Finding:
    if https_url:
        return _finding(
            "warning", f"{_shorten(use.url)} uses plain http:// but https:// works",
            use.location, f"use {https_url}",
        )
    if online:
        return _finding(
            "info", f"{_shorten(use.url)} uses plain http:// (no working https:// found)",
            use.location, "link to an https:// page if there is one",
        )
    return _finding(
        "warning", f"{_shorten(use.url)} uses plain http://", use.location,
        "use https:// if the site supports it (run without --offline to find out)",
    )


def _error(use: UrlUse, message: str, fix: str) -> Finding:
    return _finding("error", message, use.location, fix)


def _scheme(url: str) -> str:
    return url.strip().split(":", 1)[0].lower() if ":" in url else ""


def _shorten(url: str, limit: int = 90) -> str:
    return url if len(url) <= limit else url[: limit - 1] + "…"


# --- fetching ---------------------------------------------------------------------------------


def fetch_target(use: UrlUse) -> str | None:
    """The URL to fetch for ``use``: merge fields filled in for the sample reader. The
    unsubscribe template is cut before its first ``{placeholder}`` and its query dropped, so the
    check asks for the page without ever sending a token."""
    if _form_finding(use) is not None or not is_remote(use.url.strip()):
        return None
    url = use.url.strip()
    if use.kind == "unsubscribe":
        parts = urlsplit(url.split("{", 1)[0])
        return urlunsplit(parts._replace(query="", fragment=""))
    if "{{" not in url:
        return url
    merge = MergeFields()
    tokenized = FillIn.of(merge.tokenize(url), escape_html=False)
    return tokenized.fill(merge.values(SampleReader().merge_data()))


def _https_variant(url: str) -> str | None:
    """``url`` with https://, unless its host is an IP address or localhost (certificates are
    issued for names, so asking those would only prove nothing)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return None
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return "https://" + url.split("://", 1)[1]
    return None


def probe_urls(
    urls: Iterable[str], options: CheckOptions, cache: LinkCache | None = None
) -> dict[str, Probe]:
    """Fetch each distinct URL once, concurrently; cached good results are not fetched."""
    results: dict[str, Probe] = {}
    todo: list[str] = []
    for url in dict.fromkeys(urls):
        cached = cache.get(url) if cache else None
        if cached is not None:
            results[url] = cached
        else:
            todo.append(url)
    if todo:
        timeout = (options.connect_timeout, options.read_timeout)
        with requests.Session() as session, ThreadPoolExecutor(min(WORKERS, len(todo))) as pool:
            adapter = HTTPAdapter(pool_connections=WORKERS, pool_maxsize=WORKERS, max_retries=0)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            session.headers["User-Agent"] = USER_AGENT
            probes = pool.map(partial(_probe, session, timeout), todo)
            results.update(zip(todo, probes, strict=True))
    if cache:
        cache.save({url: results[url] for url in todo})
    return results


def _probe(session: requests.Session, timeout: tuple[float, float], url: str) -> Probe:
    try:
        response = session.head(url, allow_redirects=True, timeout=timeout)
        if response.status_code in _HEAD_REFUSED:
            response.close()
            response = session.get(url, allow_redirects=True, timeout=timeout, stream=True)
        response.close()
    except requests.exceptions.SSLError:
        return Probe(error="its TLS (https) certificate or connection is not valid")
    except requests.exceptions.ConnectTimeout:
        return Probe(error=f"could not connect within {timeout[0]:g} s")
    except requests.exceptions.ReadTimeout:
        return Probe(error=f"no answer within {timeout[1]:g} s")
    except requests.exceptions.TooManyRedirects:
        return Probe(error="it redirects in a loop")
    except requests.exceptions.ConnectionError as exc:
        return Probe(error=_connection_problem(url, exc))
    except requests.exceptions.RequestException as exc:
        return Probe(error=f"it cannot be fetched ({type(exc).__name__})")
    return Probe(
        status=response.status_code,
        final_url=response.url,
        redirects=tuple(hop.status_code for hop in response.history),
        content_type=response.headers.get("Content-Type", ""),
    )


def _connection_problem(url: str, exc: Exception) -> str:
    text = str(exc)
    host = urlsplit(url).hostname
    if any(sign in text for sign in (
        "NameResolution", "Name or service not known", "getaddrinfo", "name resolution",
        "No address associated",
    )):
        return f"the host name {host} does not exist (DNS lookup failed)"
    if "refused" in text:
        return f"{host} refused the connection"
    return f"cannot connect to {host}"


def _probe_findings(use: UrlUse, probe: Probe) -> list[Finding]:
    what = "the unsubscribe page" if use.kind == "unsubscribe" else _shorten(use.url)
    if probe.error:
        return [_error(use, f"{what} cannot be reached: {probe.error}", _FIX_UNREACHABLE)]
    status = probe.status or 0
    findings: list[Finding] = []
    if probe.redirects and status < 400:
        hops = " → ".join(str(code) for code in probe.redirects)
        findings.append(_finding(
            "warning", f"{what} redirects ({hops}) to {_shorten(probe.final_url)}",
            use.location, f"link straight to {probe.final_url}",
        ))
    if status >= 400:
        severity: Severity = "warning" if status == 429 else "error"
        via = f" (after redirects to {_shorten(probe.final_url)})" if probe.redirects else ""
        findings.append(_finding(
            severity, f"{what} answers HTTP {status} {_reason(status)}{via}",
            use.location, _fix_for_status(status),
        ))
    elif use.kind == "image" and probe.content_type and not probe.content_type.startswith(
        "image/"
    ):
        findings.append(_error(
            use, f"{what} is not an image (the server sends {probe.content_type})",
            "use the address of the image file itself (right-click the image: copy image address)",
        ))
    return findings


_FIX_UNREACHABLE = (
    "check the address for typos; if it is right, the site may be down: try again later"
)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _fix_for_status(status: int) -> str:
    if status in (401, 403):
        return "the page is not public, so readers cannot open it: link to a public page"
    if status == 429:
        return "the site limits automatic requests: run the check again in a few minutes"
    if status >= 500:
        return "the site has a server error: try again later, or tell the site's owner"
    return "correct the address, or remove the link"


# --- the cache ----------------------------------------------------------------------------------


class LinkCache:
    """Good results of recent fetches, in a small JSON file; unreadable means empty."""

    def __init__(self, path: Path, ttl: float) -> None:
        self.path = path
        self.ttl = ttl
        self._entries: dict[str, dict] = {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        if isinstance(data, dict):
            now = time.time()
            self._entries = {
                url: entry for url, entry in data.items()
                if isinstance(entry, dict)
                and isinstance(entry.get("checked_at"), float)
                and now - entry["checked_at"] < ttl
            }

    @classmethod
    def beside(cls, loaded: LoadedIssue, ttl: float) -> LinkCache | None:
        """The cache beside the issue's mailer.toml, or None when turned off (``ttl`` 0)."""
        return cls(loaded.settings.base_dir / CACHE_FILE, ttl) if ttl > 0 else None

    def get(self, url: str) -> Probe | None:
        entry = self._entries.get(url)
        if entry is None:
            return None
        try:
            return Probe(
                status=entry["status"], final_url=entry["final_url"],
                redirects=tuple(entry["redirects"]), content_type=entry["content_type"],
            )
        except (KeyError, TypeError):
            return None

    def save(self, fresh: dict[str, Probe]) -> None:
        """Add the good results in ``fresh`` and write the file; a read-only folder only
        means no cache, never a failed check."""
        now = time.time()
        changed = False
        for url, probe in fresh.items():
            if probe.ok:
                self._entries[url] = {"checked_at": now, **asdict(probe)}
                changed = True
        if not changed:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_whole(self.path, json.dumps(self._entries, indent=1).encode("utf-8"))
        except OSError:
            return
