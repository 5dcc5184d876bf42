"""Where a project keeps its list's store, and the older list it takes over once.

``[send] suppression`` (or ``MAILER_SUPPRESSION``) names the store, by default
``.mailer/suppressions.sqlite3`` beside mailer.toml. A ``.csv`` value, or the list a previous
version kept in ``.mailer/suppression.csv``, is imported into it once, then renamed
``*.imported``: nothing is lost, nothing is imported twice.
"""

from __future__ import annotations

from pathlib import Path

from mailer.audience.store import SOFT_DAYS, SOFT_LIMIT, SuppressionStore
from mailer.audience.store_csv import import_csv
from mailer.errors import InputError
from mailer.settings import LoadedSettings

STORE_NAME = ".mailer/suppressions.sqlite3"
LEGACY_CSV = ".mailer/suppression.csv"  # where the list lived before the store


def store_path(settings: LoadedSettings) -> tuple[Path, Path]:
    """The store's path, and the path of a legacy CSV list to take over."""
    value = settings.settings.send.suppression
    if value and value.lower().endswith(".csv"):
        return settings.resolve(STORE_NAME), settings.resolve(value)
    return settings.resolve(value or STORE_NAME), settings.resolve(LEGACY_CSV)


def store_for(settings: LoadedSettings) -> SuppressionStore:
    """The project's store, opened for reading and writing (made on first use)."""
    path, legacy = store_path(settings)
    bounces = settings.settings.bounces
    return open_store(path, legacy=legacy, soft_limit=bounces.soft_limit,
                      soft_days=bounces.soft_days)


def read_store_for(settings: LoadedSettings) -> SuppressionStore | None:
    """The project's store opened read-only, or None when there is none yet: a command that
    only reports (``mailer status``) creates and changes nothing."""
    path, _ = store_path(settings)
    return SuppressionStore(path, read_only=True) if path.is_file() else None


def open_store(
    path: Path, *, legacy: Path | None = None, soft_limit: int = SOFT_LIMIT,
    soft_days: float = SOFT_DAYS,
) -> SuppressionStore:
    """The store at ``path``; a ``legacy`` CSV list beside it is imported once (nothing lost)
    and renamed ``*.imported``. InputError when a row of it cannot be read."""
    store = SuppressionStore(path, soft_limit=soft_limit, soft_days=soft_days)
    if legacy is not None and legacy.is_file():
        try:
            import_csv(store, legacy, strict=True)
        except InputError as exc:
            store.close()
            raise InputError(
                exc.location, f"{exc.reason}; fix it so the list can be imported into {path} "
                "(nothing was imported)", exc.field,
            ) from None
        legacy.rename(legacy.with_name(legacy.name + ".imported"))
    return store
