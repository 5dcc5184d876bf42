"""``mailer doctor``: everything a real send needs, found before the first one, in one report.

Each concern is one module: :mod:`.secrets` (every secret, named together), :mod:`.transport`
(the login, nothing sent), :mod:`.records` (SPF, DKIM, DMARC, alignment, MX, read with
:mod:`.lookup` and :mod:`.spf`), :mod:`.pages` (the unsubscribe page and the archive), and
:mod:`.tools` (Chromium, Playwright). They run side by side, and :mod:`.report` puts what they
find in the order a person fixes it. ``--offline`` uses no network: the secrets, the settings
and the local files only.

Exit status: 0 when nothing blocks a real send (warnings allowed), 1 when something does, 2
when the settings cannot be loaded.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mailer.console import Console
from mailer.doctor import pages, records, secrets, tools, transport
from mailer.doctor.lookup import DnsUnavailable, Lookup, resolver_from
from mailer.doctor.report import Finding, as_json, as_lines, blocked, in_order
from mailer.errors import ChecksFailed, ConfigError
from mailer.settings import LoadedSettings, settings_for

__all__ = ["Finding", "diagnose", "run_doctor"]

Job = Callable[[], list[Finding]]


def run_doctor(
    console: Console, *, settings: Path | None = None, offline: bool = False,
    json_output: bool = False, environ: Mapping[str, str] | None = None,
) -> None:
    """Report on the project of ``settings`` (else the nearest ``mailer.toml``); ChecksFailed
    when something blocks a real send, ConfigError when the settings cannot be loaded."""
    environ = os.environ if environ is None else environ
    try:
        loaded = settings_for(Path.cwd(), settings)
        findings = diagnose(loaded, environ, offline=offline)
    except ConfigError as exc:
        if json_output:
            unloadable = Finding("settings", "error", str(exc), "correct it, then run mailer "
                                 "doctor again")
            console.say(as_json([unloadable], settings or Path.cwd(), offline))
        raise
    if json_output:
        console.say(as_json(findings, loaded.path, offline))
    else:
        console.say("\n".join(as_lines(findings, loaded.path, offline)))
    if blocked(findings):
        errors = sum(finding.severity == "error" for finding in findings)
        raise ChecksFailed(
            f"{errors} {'problems block' if errors > 1 else 'problem blocks'} a real send"
        )


def diagnose(
    loaded: LoadedSettings, environ: Mapping[str, str], *, offline: bool
) -> list[Finding]:
    """Every finding about ``loaded``'s project, in the order a person fixes them."""
    settings = loaded.settings
    jobs: list[Job] = [
        lambda: secrets.check(loaded, environ),
        lambda: transport.check(
            settings.send.transports[0], loaded.base_dir, environ, offline=offline,
            topics=settings.webhooks.ses_topics,
        ),
        tools.check,
        lambda: pages.check_mailto_size(loaded),
    ]
    found: list[Finding] = []
    if offline:
        found += [
            *records.check_key_file(loaded),
            Finding("dns", "note", "SPF, DKIM, DMARC and MX records: not looked up (--offline)"),
            Finding("unsubscribe", "note", "the unsubscribe page: not tried (--offline)"),
        ]
    else:
        jobs += [
            _dns_job(loaded, environ),
            lambda: pages.check_unsubscribe(settings, environ),
            lambda: pages.check_archive(settings),
        ]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        runs = [pool.submit(job) for job in jobs]
        found += [finding for run in runs for finding in run.result()]
    return in_order(found)


def _dns_job(loaded: LoadedSettings, environ: Mapping[str, str]) -> Job:
    """The DNS checks, with the resolver made now: a MAILER_NAMESERVER that cannot be read is
    the settings' error (exit 2), not a finding."""
    try:
        lookup = Lookup(resolver_from(environ))
    except DnsUnavailable as exc:
        problem = Finding("dns", "error", f"DNS: {exc}", records.DNS_FIX)
        return lambda: [problem]
    return lambda: records.check(loaded, lookup)
