"""The issue's page on the newsletter's site, where the email's "View in browser" link goes.

With ``[archive] base_url`` set, the page must be in the site ``mailer archive`` builds
(``[archive] out``) and, online, answer 200 at its address. Either missing is a warning, never
an error: the archive publishes issues once they are sent, so the page usually goes up right
after the send, and a check before it can only say that it is not there yet.
"""

from __future__ import annotations

from mailer.checks.base import CheckOptions, Finding, finding_maker, settings_location
from mailer.checks.links import probe_urls
from mailer.compose.issue import LoadedIssue
from mailer.compose.site import edition_of, page_path, view_url
from mailer.delivery.prepare import Prepared

CHECK = "archive"
_finding = finding_maker(CHECK)
_PUBLISH = "right after the send, run mailer archive and publish its folder at [archive] base_url"


def check(loaded: LoadedIssue, prepared: Prepared, *, options: CheckOptions) -> list[Finding]:
    url = view_url(loaded)
    if url is None:
        return []
    where = settings_location(loaded, "archive", "base_url")
    site = loaded.settings.resolve(loaded.settings.settings.archive.out)
    findings = []
    if not (site / page_path(loaded.issue.id, edition_of(loaded)) / "index.html").is_file():
        findings.append(_finding(
            "warning", f"the \"View in browser\" link goes to {url}, and the site built in "
            f"{site} has no page there yet", where, _PUBLISH,
        ))
    if not options.offline:
        probe = probe_urls([url], options)[url]
        if probe.error is not None or probe.status != 200:
            answer = probe.error or f"it answers HTTP {probe.status}"
            findings.append(_finding(
                "warning", f"the \"View in browser\" link {url} does not open yet: {answer}",
                where, _PUBLISH,
            ))
    return findings
