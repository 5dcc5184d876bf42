"""``mailer suppressions``: look after the suppression store by hand.

``list``, ``add``, ``remove``, ``import`` and ``export`` work on the project's store;
``forget`` erases an address from the store and from every send ledger (a person's right to
erasure); ``pull`` copies a server's suppressions (``mailer serve``'s ``GET /suppressions``)
into this store, so a laptop that sends knows who unsubscribed on the server, and ``pull
--esp`` copies the ESP's own suppression lists (its unsubscribes, bounces and complaints).
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit, urlunsplit

from mailer.audience.project_store import store_for
from mailer.audience.signups import Signups
from mailer.audience.store import LAST_PULL, REASONS
from mailer.audience.store_csv import export_csv, import_csv
from mailer.audience.subscribers import normalise_address
from mailer.console import Console
from mailer.credentials import secret
from mailer.delivery.ledger import Ledger
from mailer.errors import TransportError, Unreachable, UsageError, WriteFailed
from mailer.settings import LoadedSettings, settings_for

SYNC_TOKEN_VARIABLE = "MAILER_SYNC_TOKEN"
PULL_TIMEOUT = (10.0, 60.0)


def project(explicit: Path | None) -> LoadedSettings:
    """mailer.toml named by ``--settings``, else the nearest in this folder or above."""
    return settings_for(Path.cwd(), explicit)


def list_entries(
    console: Console, *, settings: Path | None = None, as_json: bool = False,
    reason: str | None = None,
) -> None:
    with store_for(project(settings)) as store:
        entries = [e for e in store.entries() if reason is None or e.reason == reason]
    if as_json:
        console.say(json.dumps([e.as_dict() for e in entries], ensure_ascii=False, indent=2))
        return
    for entry in entries:
        where = f" ({entry.issue})" if entry.issue else ""
        console.say(f"{entry.email}\t{entry.reason}\t{entry.source}{where}\t"
                    f"{entry.as_dict()['last_seen']}")
    console.say(f"{len(entries):,} suppressed", err=True)


def add(
    address: str, console: Console, *, settings: Path | None = None, reason: str = "manual",
    note: str = "",
) -> None:
    with store_for(project(settings)) as store:
        try:
            added = store.add(address, reason, "command", detail=note)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    console.say(f"{address}: suppressed ({reason})" if added else f"{address}: already suppressed")


def remove(
    address: str, console: Console, *, settings: Path | None = None, yes: bool = False
) -> None:
    """Lift a suppression; a reader's own unsubscribe or complaint needs ``--yes``: writing
    to someone who asked not to be written to is the sender's decision, taken knowingly."""
    with store_for(project(settings)) as store:
        reason = store.reason(address)
        if reason is None:
            raise UsageError(f"{address} is not suppressed")
        if reason in ("unsubscribed", "complained") and not yes:
            console.confirm(
                f"{address} {reason} themselves. Write to them again?",
                otherwise=f"{address} {reason} themselves: add --yes to remove it anyway",
            )
        store.remove(address)
    console.say(f"{address}: no longer suppressed (it was {reason})")


def import_file(
    path: Path, console: Console, *, settings: Path | None = None, reason: str | None = None,
    strict: bool = False,
) -> None:
    if reason is not None and reason not in REASONS:
        raise UsageError(f"--reason {reason}: not one of {', '.join(REASONS)}")
    with store_for(project(settings)) as store:
        imported = import_csv(store, path, default_reason=reason, strict=strict)
    for row in imported.skipped[:20]:
        console.warn(str(row))
    if len(imported.skipped) > 20:
        console.warn(f"... and {len(imported.skipped) - 20:,} more rows skipped")
    console.say(f"Imported {path}: {imported.added:,} added, {imported.already:,} already "
                f"suppressed, {len(imported.skipped):,} rows skipped")


def export(console: Console, *, settings: Path | None = None, out: Path | None = None) -> None:
    with store_for(project(settings)) as store:
        count = write_csv(out, lambda file: export_csv(store, file))
    console.say(f"Exported {count:,} suppressions" + (f" to {out}" if out else ""), err=True)


def write_csv(out: Path | None, write: Callable[[TextIO], int]) -> int:
    """``write`` (which returns the rows it wrote) into the file ``out``, or the standard
    output; WriteFailed naming the file it cannot write."""
    if out is None:
        return write(sys.stdout)
    try:
        with open(out, "w", encoding="utf-8", newline="") as file:
            return write(file)
    except OSError as exc:
        raise WriteFailed(f"cannot write {out}: {exc.strerror}") from None


def forget(
    address: str, console: Console, *, settings: Path | None = None,
    ledgers: Sequence[Path] = (),
) -> None:
    """Erase ``address`` from the store and every ledger; keep only its keyed hash."""
    try:
        email = normalise_address(address.strip())
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    loaded = project(settings)
    with store_for(loaded) as store:
        known = store.forget(email)
    erased = 0
    for path in _ledgers(loaded, ledgers):
        with Ledger(path) as ledger:
            erased += ledger.forget(email)
    console.say(
        f"{email}: erased from the suppression store{' (it was there)' if known else ''} and "
        f"{erased:,} ledger rows; only a keyed hash is kept, so it is never written to again"
    )


def _ledgers(loaded: LoadedSettings, named: Sequence[Path]) -> list[Path]:
    """The configured ledger, every ledger beside it, and the ones named: each once."""
    configured = loaded.resolve(loaded.settings.send.ledger)
    found = [configured] if configured.exists() else []
    for candidate in sorted(configured.parent.glob("*.sqlite3")):
        if candidate not in found and _is_ledger(candidate):
            found.append(candidate)
    for path in named:
        if not path.exists():
            raise UsageError(f"--ledger {path}: no such file")
        if path.resolve() not in found:
            found.append(path.resolve())
    return found


def _is_ledger(path: Path) -> bool:
    try:
        with sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True) as db:
            names = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    except sqlite3.Error:
        return False
    return bool(names & {"recipients", "deliveries"})


def pull(
    console: Console, *, settings: Path | None = None, url: str | None = None,
    esp: bool = False,
) -> None:
    """Copy the server's suppressions into this project's store (only what changed since the
    last pull); with ``esp``, every page of the suppression lists of the ESP that
    ``[send] transport`` names."""
    import requests

    loaded = project(settings)
    if esp:
        _pull_esp(loaded, console, url)
        return
    endpoint = _endpoint(url or loaded.settings.list.serve_url)
    token = secret(SYNC_TOKEN_VARIABLE, "pulling suppressions from a server")
    with store_for(loaded) as store:
        since = store.meta(LAST_PULL)
        try:
            response = requests.get(
                endpoint, params={"since": since} if since else None, timeout=PULL_TIMEOUT,
                headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            )
        except requests.RequestException as exc:
            raise Unreachable(f"cannot reach {endpoint}: {type(exc).__name__}") from None
        if response.status_code in (401, 403):
            raise TransportError(
                "mailer serve", f"{endpoint} refused {SYNC_TOKEN_VARIABLE}", response.status_code
            )
        if response.status_code != 200:
            raise Unreachable(f"{endpoint} answered HTTP {response.status_code}; try again later")
        try:
            body = response.json()
            entries, served_at = body["suppressions"], float(body["served_at"])
        except (ValueError, KeyError, TypeError):
            raise UsageError(f"{endpoint} did not answer as mailer serve does") from None
        added = 0
        for entry in entries:
            try:
                added += store.add(
                    entry["email"], entry["reason"], entry["source"], issue=entry.get("issue"),
                    detail=entry.get("detail", ""), when=float(entry["first_seen"]),
                )
            except (KeyError, TypeError, ValueError):
                continue  # an entry this version cannot read: the others still count
        signups, preferences = body.get("signups"), body.get("preferences")  # a newer server's
        merged = Signups(store).merge(
            signups if isinstance(signups, list) else [],
            preferences if isinstance(preferences, list) else [],
        )
        store.set_meta(LAST_PULL, str(served_at))
    console.say(f"Pulled {len(entries):,} suppressions from {endpoint}: {added:,} new here"
                + (f"; {merged:,} sign-ups and preferences" if merged else ""))


def _pull_esp(loaded: LoadedSettings, console: Console, url: str | None) -> None:
    from mailer.delivery.transports import parse_transport
    from mailer.delivery.transports.suppressions import pull_esp

    if url is not None:
        raise UsageError("--esp reads the ESP that [send] transport names: give no URL")
    transport = parse_transport(loaded.settings.send.transports[0], loaded.base_dir)
    with store_for(loaded) as store:
        pulled = pull_esp(transport, store)
    console.say(f"Pulled {pulled.counts()}")


def _endpoint(url: str | None) -> str:
    if not url:
        raise UsageError("name the server: mailer suppressions pull URL, or [list] serve_url")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UsageError(f"{url} is not an http(s) URL")
    path = parts.path.rstrip("/")
    if not path.endswith("/suppressions"):
        path += "/suppressions"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))
