"""Every secret a real send needs, named together in one finding; and those of the server.

What a send needs is what ``mailer send`` itself requires before it connects
(:func:`mailer.delivery.send.send_secrets`): the transport's secret and the key of the
unsubscribe links. The webhook of the ESP that sends and the token of ``suppressions pull``
are not needed to send, so their absence is a note or a warning, never an error.
"""

from __future__ import annotations

from collections.abc import Mapping

from mailer.audience.unsubscribe import SECRET_NEED as UNSUBSCRIBE_SECRET
from mailer.credentials import Needed, unmet
from mailer.delivery.send import send_secrets
from mailer.delivery.transports import Dsn, parse_transport
from mailer.doctor.report import Finding
from mailer.errors import UsageError
from mailer.feedback.webhooks import PROVIDERS, provider_class
from mailer.settings import LoadedSettings, Settings

SYNC_TOKEN = "MAILER_SYNC_TOKEN"
# A value that is long, random and typed the same way in every shell.
MAKE_ONE = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'


def how_to_set(variables: list[str]) -> str:
    """The commands that set ``variables`` for this session, in PowerShell and in a POSIX
    shell; the value stays a placeholder."""
    powershell = "; ".join(f"$env:{name} = '...'" for name in variables)
    posix = " ".join(f"{name}='...'" for name in variables)
    return f"(PowerShell) {powershell}  (POSIX shell) export {posix}"


def check(loaded: LoadedSettings, environ: Mapping[str, str]) -> list[Finding]:
    settings = loaded.settings
    needs: list[Needed]
    try:
        needs = send_secrets(loaded, *(
            parse_transport(dsn, loaded.base_dir, environ) for dsn in settings.send.transports
        ))
    except UsageError:  # a transport that cannot be read: the transport's finding says why
        needs = [UNSUBSCRIBE_SECRET]
    return [*_for_sending(needs, environ), *_for_the_server(settings, environ)]


def _for_sending(needs: list[Needed], environ: Mapping[str, str]) -> list[Finding]:
    problems = unmet(needs, environ)
    if not problems:
        named = ", ".join(need.variable for need in needs)
        return [Finding("secrets", "ok", f"a real send has its secrets ({named})" if needs
                        else "this transport needs no secret")]
    missing = [need.variable for need in needs if need.problem(environ)]
    fix = f"set {'each' if len(missing) > 1 else 'it'} in the environment, never in " \
        f"mailer.toml: {how_to_set(missing)}"
    if UNSUBSCRIBE_SECRET.variable in missing:
        fix += f"; make the unsubscribe key once with {MAKE_ONE} and keep it: mailer serve " \
            "needs the very same value"
    return [Finding("secrets", "error", f"a real send needs {'; '.join(problems)}", fix)]


def _for_the_server(settings: Settings, environ: Mapping[str, str]) -> list[Finding]:
    """The ESP's webhook (read by ``mailer serve``, which may run elsewhere) and the token that
    pulls the server's suppressions here."""
    findings = []
    try:
        scheme = Dsn.parse(settings.send.transports[0]).scheme
    except UsageError:
        scheme = ""
    if scheme in PROVIDERS:
        kind = provider_class(scheme)
        webhook = [Needed(variable, f"{kind.title}'s webhook") for variable in
                   kind.settings.values()]
        missing = [need.variable for need in webhook if need.problem(environ)]
        if missing:
            findings.append(Finding(
                "secrets", "note", f"{', '.join(missing)} not set here: mailer serve needs "
                f"{'them' if len(missing) > 1 else 'it'} to take {kind.title}'s bounces and "
                "complaints from its webhook",
                f"set {'them' if len(missing) > 1 else 'it'} where mailer serve runs: "
                f"{how_to_set(missing)}",
            ))
    if settings.list.serve_url and not environ.get(SYNC_TOKEN):
        findings.append(Finding(
            "secrets", "warning", f"[list] serve_url is set but {SYNC_TOKEN} is not: mailer "
            "suppressions pull cannot copy the server's unsubscribes here before a send",
            f"set it to the same value as on the server: {how_to_set([SYNC_TOKEN])}",
        ))
    return findings
