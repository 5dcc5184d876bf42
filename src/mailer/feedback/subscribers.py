"""``mailer subscribers``: the sign-ups the list holds, and what it holds about one address.

``list`` and ``export`` give the confirmed sign-ups (``export`` as CSV, every cell made safe
for spreadsheets); ``show ADDRESS`` prints everything the store holds about an address, the
consent record with its wording first (a subject access request in one command); ``import``
reads a Mailchimp audience export (:mod:`mailer.audience.mailchimp`); ``forget``
(registered by :mod:`mailer.cli`: the command of ``mailer suppressions forget``) erases it
everywhere; ``form`` prints the sign-up form to embed in the organisation's website.

The commands are registered by :mod:`mailer.cli` (:data:`COMMANDS`), which turns their
errors into messages; the heavy imports wait until a command runs. No ``from __future__ import
annotations``: typer would compile and evaluate each annotation string on every run.
"""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer

ProjectOpt = Annotated[
    Path | None,
    typer.Option("--settings", metavar="PATH",
                 help="mailer.toml to use (default: the nearest in this folder or above)."),
]
AddressArg = Annotated[str, typer.Argument(help="An email address.", metavar="ADDRESS")]
EXPORT_COLUMNS = ("email", "name", "language", "topics", "source", "signed_up_at",
                  "confirmed_at", "wording_version")


def _console() -> Any:
    from mailer.console import Console

    return Console()


def list_signups(
    status: Annotated[
        str, typer.Option(metavar="STATUS", help="confirmed, pending or all.")
    ] = "confirmed",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    settings: ProjectOpt = None,
) -> None:
    """The sign-ups: address, language, topics, source and when each was confirmed."""
    from mailer.audience.project_store import store_for
    from mailer.audience.signups import Signups
    from mailer.audience.store import iso_time
    from mailer.errors import UsageError
    from mailer.feedback.suppressions import project

    if status not in ("confirmed", "pending", "all"):
        raise UsageError(f"--status {status}: one of confirmed, pending, all")
    console = _console()
    shown = 0
    with store_for(project(settings)) as store:
        rows = Signups(store).signups(None if status == "all" else status)
        if as_json:
            console.say(json.dumps([_record(s) for s in rows], ensure_ascii=False, indent=2))
            return
        for signup in rows:
            shown += 1
            when = iso_time(signup.confirmed_at) if signup.confirmed_at else "pending"
            console.say(f"{signup.email}\t{signup.language}\t{'|'.join(signup.topics)}\t"
                        f"{signup.source}\t{when}")
    console.say(f"{shown:,} sign-ups ({status})", err=True)


def _record(signup: Any) -> dict[str, object]:
    """A sign-up as JSON: its consent record, times in ISO 8601."""
    from mailer.audience.store import iso_time

    return {
        "email": signup.email, "name": signup.name, "status": signup.status,
        "language": signup.language, "topics": list(signup.topics), "source": signup.source,
        "signed_up_at": iso_time(signup.signed_up_at),
        "confirmed_at": iso_time(signup.confirmed_at) if signup.confirmed_at else None,
        "wording": signup.wording, "wording_version": signup.wording_version,
        "wording_commit": signup.wording_commit, "signup_ip": signup.signup_ip,
        "confirm_ip": signup.confirm_ip,
    }


def show(address: AddressArg, settings: ProjectOpt = None) -> None:
    """Everything the list's store holds about ADDRESS, the consent record first."""
    from mailer.audience.project_store import store_for
    from mailer.audience.signups import Signups
    from mailer.audience.store import iso_time
    from mailer.audience.subscribers import lenient_address
    from mailer.errors import UsageError
    from mailer.feedback.suppressions import project

    email = lenient_address(address)
    if email is None:
        raise UsageError(f"not a valid address {address!r}")
    console = _console()
    with store_for(project(settings)) as store:
        signups = Signups(store)
        signup = signups.get(email)
        preferences = signups.preferences(email)
        suppression = next((e for e in store.entries() if e.email.lower() == email.lower()),
                           None) if store.reason(email) else None
        events = store.query(
            "SELECT kind, issue, received_at, detail, raw FROM events WHERE address = ? "
            "ORDER BY id",
            (email.lower(),),
        )
        mails = signups.emails_sent(email)
    lines = [f"Address: {email}"]
    if signup is None:
        lines.append("Consent: none recorded (no sign-up)")
    else:
        record = _record(signup)
        lines += [
            "Consent:",
            f"  wording:        {signup.wording}",
            f"  version:        {signup.wording_version}"
            + (f" (commit {signup.wording_commit})" if signup.wording_commit else ""),
            f"  status:         {signup.status}",
            f"  signed up:      {record['signed_up_at']}"
            + (f" from {signup.signup_ip}" if signup.signup_ip else ""),
            f"  confirmed:      {record['confirmed_at'] or 'not yet'}"
            + (f" from {signup.confirm_ip}" if signup.confirm_ip else ""),
            f"  source:         {signup.source}",
            f"  name:           {signup.name or '-'}",
            f"  language:       {signup.language}",
            f"  topics:         {', '.join(signup.topics) or '-'}",
            f"  emails today:   {mails}",
        ]
    if preferences is not None:
        lines += [
            "Preferences (the preference page):",
            f"  language:       {preferences.language or '-'}",
            f"  topics:         "
            f"{'-' if preferences.topics is None else ', '.join(preferences.topics) or 'none'}",
            f"  changed:        {iso_time(preferences.updated_at)}",
        ]
    if suppression is not None:
        lines.append(f"Suppressed: {suppression.reason} ({suppression.source}) since "
                     f"{iso_time(suppression.first_seen)}")
    else:
        lines.append("Suppressed: no")
    for kind, issue, when, detail, raw in events:
        lines.append(f"Event: {kind}{f' ({issue})' if issue else ''} {iso_time(when)}")
        if kind == "preferences":  # the change, and the words of the page it was made on
            lines += [f"  chose:          {detail}", f"  page showed:    {' '.join(raw.split())}"]
    console.say("\n".join(lines))


def export(
    out: Annotated[
        Path | None, typer.Option("--out", metavar="PATH", help="A file (default: the output).")
    ] = None,
    settings: ProjectOpt = None,
) -> None:
    """The confirmed sign-ups as CSV, with their consent times and wording version."""
    from mailer.audience.project_store import store_for
    from mailer.feedback.suppressions import project, write_csv

    with store_for(project(settings)) as store:
        count = write_csv(out, lambda file: _write(store, file))
    _console().say(f"Exported {count:,} sign-ups" + (f" to {out}" if out else ""), err=True)


def _write(store: Any, file: TextIO) -> int:
    from mailer.audience.signups import Signups
    from mailer.audience.store import iso_time
    from mailer.spreadsheets import SafeWriter

    writer = SafeWriter(file)
    writer.writerow(EXPORT_COLUMNS)
    count = 0
    for signup in Signups(store).signups("confirmed"):
        writer.writerow([
            signup.email, signup.name, signup.language, "|".join(signup.topics), signup.source,
            iso_time(signup.signed_up_at),
            iso_time(signup.confirmed_at) if signup.confirmed_at else "",
            signup.wording_version,
        ])
        count += 1
    return count


def form(
    lang: Annotated[
        str | None, typer.Option("--lang", metavar="TAG", help="The form's language.")
    ] = None,
    settings: ProjectOpt = None,
) -> None:
    """Print the sign-up form as HTML, to embed in your website ([list] subscribe_url)."""
    from mailer.audience.signup_form import SignupForms
    from mailer.errors import UsageError
    from mailer.feedback.suppressions import project

    loaded = project(settings)
    url = loaded.settings.list.subscribe_url
    if not url:
        raise UsageError(
            f"{loaded.path}: set [list] subscribe_url, where mailer serve answers the form"
        )
    forms = SignupForms.for_settings(loaded)
    language = forms.default if lang is None else forms.language_of(lang)
    if language is None:
        raise UsageError(f"--lang {lang}: the form has the languages of [consent.wording]: "
                         f"{', '.join(forms.languages)}")
    _console().say(str(forms.signup(language, url)))


def import_export(
    path: Annotated[
        Path, typer.Argument(metavar="EXPORT", help="Mailchimp's audience export: the zip, "
                            "the folder it unpacks to, or one of its CSV files.")
    ],
    strict: Annotated[
        bool, typer.Option("--strict", help="Stop at a bad row instead of skipping it.")
    ] = False,
    settings: ProjectOpt = None,
) -> None:
    """Import a Mailchimp audience export: its subscribed members as confirmed sign-ups (their
    opt-in and confirmation times, language and tags as topics kept), its unsubscribed and
    cleaned members into the suppression list. An import never lifts a suppression."""
    from mailer.audience.mailchimp import MailchimpExport, apply_suppressions
    from mailer.audience.project_store import store_for
    from mailer.audience.signups import Signups
    from mailer.feedback.suppressions import project

    loaded = project(settings)
    console = _console()
    members = MailchimpExport(path, strict=strict)
    with store_for(loaded) as store:
        suppressed = apply_suppressions(store, path, strict=strict)
        added, known, kept_out = Signups(store).import_confirmed(
            (_imported(member, loaded.settings.list.language,
                       loaded.settings.consent.record_ip)
             for member in members if member.status == "subscribed"),
            source="import",
        )
    for warning in [*members.warnings, *(str(row) for row in members.skipped)]:
        console.say(f"warning: {warning}", err=True)
    console.say(
        f"Imported {added:,} confirmed sign-ups ({known:,} already confirmed, {kept_out:,} "
        f"suppressed or erased, left out); suppressed {suppressed.added:,} unsubscribed or "
        f"cleaned ({suppressed.already:,} already suppressed)."
    )


def _imported(member: Any, default_language: str, record_ip: bool) -> Any:
    """A Mailchimp member as a consent record another system kept: the export has the times
    and the IP of their opt-in and confirmation, not the form's words, which the record says."""
    from mailer.audience.signups import Imported

    optin = member.optin_time.isoformat() if member.optin_time else "not recorded"
    confirmed = member.confirm_time.isoformat() if member.confirm_time else "not recorded"
    return Imported(
        email=member.email, language=member.language or default_language,
        name=member.name, topics=member.tags,
        wording=(f"Signed up through Mailchimp (opted in {optin}, confirmed {confirmed}); the "
                 f"form's words are not in Mailchimp's export ({member.path.name})"),
        signed_up_at=member.optin_time.timestamp() if member.optin_time else None,
        confirmed_at=member.confirm_time.timestamp() if member.confirm_time else None,
        ip=(member.confirm_ip or member.optin_ip or None) if record_ip else None,
    )


# name -> the command, for mailer.cli to register (in this order, for --help)
COMMANDS: dict[str, Callable[..., None]] = {
    "list": list_signups, "show": show, "import": import_export, "export": export,
    "form": form,
}
