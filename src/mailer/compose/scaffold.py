"""``mailer new``: a fresh issue file from the commented template shipped with mailer;
``mailer init``: a new newsletter project from the sample project shipped with it, with the
organisation's answers in its ``mailer.toml``.

``init`` asks on a terminal (each question's default in brackets, a bad answer asked again);
an answer given as a flag is not asked; without a terminal (CI, a pipe) or with ``--yes``
nothing is asked and what no flag gives is the default (:mod:`mailer.compose.answers`). The
answers are written into the sample's commented ``mailer.toml`` in place, so that its comments
stay (:mod:`mailer.compose.starter_toml`). Then ``init`` names the secrets a real send needs,
with the lines that set them, and ``mailer doctor`` as the next command.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from mailer.compose.answers import OUTBOX, Answers, SecretNames, gather
from mailer.compose.starter_toml import settings_text
from mailer.console import Console, command_line
from mailer.errors import UsageError, WriteFailed


def create(path: Path, console: Console) -> None:
    """Write the template to ``path``; an existing file is never touched (``open(..., "x")``)."""
    if path.suffix not in (".yaml", ".yml"):
        raise UsageError(f"{path}: an issue file name ends in .yaml")
    issue_id = re.sub(r"[^a-z0-9._-]+", "-", path.stem.lower()).strip("-._") or "new-issue"
    scaffold = resources.files("mailer.compose").joinpath("scaffold.yaml")
    template = scaffold.read_text(encoding="utf-8")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:
        raise WriteFailed(f"cannot create {path}: {exc.filename} is a file, not a folder") from None
    except OSError as exc:
        raise WriteFailed(f"cannot create {path}: {exc.strerror}") from None
    try:
        with open(path, "x", encoding="utf-8") as file:
            file.write(template.replace("ISSUE_ID", issue_id))
    except FileExistsError:
        message = f"{path} already exists; choose another name (nothing was changed)"
        raise WriteFailed(message) from None
    except OSError as exc:
        raise WriteFailed(f"cannot create {path}: {exc.strerror}") from None
    console.say(f"Created {path}. Edit it, then run: {command_line('preview', path)}")


# The sample project (src/mailer/compose/starter/): a name there -> its name in the project.
STARTER_FILES = {
    "mailer.toml": "mailer.toml",
    "subscribers.csv": "subscribers.csv",
    "gitignore": ".gitignore",  # stored without the dot, which packaging tools may drop
    "issues/first-issue.yaml": "issues/first-issue.yaml",
    "issues/assets/logo.png": "issues/assets/logo.png",
    "issues/assets/photo.png": "issues/assets/photo.png",
    "newsletter.yml": ".github/workflows/newsletter.yml",  # checks, review copies, sends in CI
}
SETTINGS = "mailer.toml"
WORKFLOW = "newsletter.yml"
FIRST_ISSUE = "issues/first-issue.yaml"


def start_project(
    folder: Path, console: Console, given: Mapping[str, str | None], *, asking: bool,
    secrets: SecretNames,
) -> None:
    """Write a new newsletter project into ``folder`` (new or empty): mailer.toml with
    comments and the answers (``given`` by flag, asked when ``asking``, else the sample's),
    a sample issue with placeholder images, a subscriber list, a .gitignore and a GitHub
    Actions workflow; then say what comes next. The templates are mailer's own until the
    project adds a ``templates/``."""
    if folder.exists() and not folder.is_dir():
        raise WriteFailed(f"cannot start a project in {folder}: it is a file")
    if folder.is_dir() and any(folder.iterdir()):
        raise WriteFailed(
            f"{folder} is not empty; mailer init starts a project in a new or empty folder "
            "(nothing was changed)"
        )
    starter = resources.files("mailer.compose").joinpath("starter")
    sample = _read(starter, SETTINGS).decode("utf-8")
    if asking:
        console.say(
            "A few questions for mailer.toml: press Enter to take the answer in [brackets]. "
            "Everything can be changed there later."
        )
    answers = gather(given, console, secrets, tomllib.loads(sample), asking=asking)
    try:
        for source, target in STARTER_FILES.items():
            path = folder / target
            path.parent.mkdir(parents=True, exist_ok=True)
            if source == SETTINGS:
                path.write_text(settings_text(sample, answers), encoding="utf-8", newline="\n")
            elif source == WORKFLOW:
                workflow = workflow_text(
                    _read(starter, source).decode("utf-8"), needed_secrets(answers, secrets)
                )
                path.write_text(workflow, encoding="utf-8", newline="\n")
            else:
                path.write_bytes(_read(starter, source))
    except OSError as exc:
        raise WriteFailed(f"cannot write the project in {folder}: {exc.strerror}") from None
    console.say(next_steps(folder, answers, secrets))


def workflow_text(template: str, secrets: list[str]) -> str:
    """The GitHub Actions workflow with each secret a send needs taken from the repository's
    secret store into the send job's environment (where mailer reads it)."""
    lines = "\n".join(f"      {name}: ${{{{ secrets.{name} }}}}" for name in secrets)
    if not lines:
        return template.replace("    env:\n__SECRETS__\n", "")
    return template.replace("__SECRETS__", lines)


def _read(starter: Traversable, name: str) -> bytes:
    node = starter
    for part in name.split("/"):
        node = node.joinpath(part)
    return node.read_bytes()


# What each secret is, and what stands for its value in the lines that set it.
SECRET_WORDS = {
    "MAILER_SMTP_PASSWORD": ("the password of the SMTP login", "the password"),
    "MAILGUN_API_KEY": ("your Mailgun API key", "the API key"),
    "SENDGRID_API_KEY": ("a SendGrid API key that may send mail", "the API key"),
    "POSTMARK_SERVER_TOKEN": ("your Postmark server's API token", "the server token"),
}
UNSUBSCRIBE_WORDS = (
    "a long random key of your own, made once and kept: every unsubscribe link sent needs it",
    "the key you made",
)
MAKE_A_KEY = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'


def needed_secrets(answers: Answers, secrets: SecretNames) -> list[str]:
    """The environment variables a real send with ``answers`` reads its secrets from."""
    names = [secrets.transport(answers.transport)]
    if answers.unsubscribe != "esp":  # the service's own links: mailer makes none
        names.append(secrets.unsubscribe)
    return [name for name in names if name is not None]


def next_steps(folder: Path, answers: Answers, secrets: SecretNames) -> str:
    """What to do after ``init``: the sample images, the first commands, the secrets to set
    (each with its PowerShell and POSIX line) and ``mailer doctor``."""
    lines = [
        f"Started a newsletter project in {folder}; its settings are in {folder / SETTINGS}.",
        f"Put your organisation's logo and a photo of your own in place of the samples in "
        f"{folder / 'issues' / 'assets'}, then, in {folder}:",
        f"  mailer preview {FIRST_ISSUE}",
        f"  mailer check {FIRST_ISSUE}",
    ]
    if answers.transport == OUTBOX:
        lines.append(f"  mailer send {FIRST_ISSUE}    (to the outbox/ folder: nothing leaves)")
    needed = needed_secrets(answers, secrets)
    if needed:
        words = {**SECRET_WORDS, secrets.unsubscribe: UNSUBSCRIBE_WORDS}
        said = {name: words.get(name, ("its secret", "the secret")) for name in needed}
        width = max(map(len, needed))
        lines += [
            "",
            "A real send needs these secrets, from the environment (never from mailer.toml):",
            *(f"  {name:<{width}}  {what}" for name, (what, _) in said.items()),
        ]
        if secrets.unsubscribe in needed:
            lines.append(f"Make {secrets.unsubscribe} with: {MAKE_A_KEY}")
        lines += [
            "Set them in PowerShell (Windows):",
            *(f"  $env:{name} = '<{value}>'" for name, (_, value) in said.items()),
            "or in a POSIX shell (macOS, Linux):",
            *(f"  export {name}='<{value}>'" for name, (_, value) in said.items()),
        ]
    lines += [
        "",
        f"On GitHub, {folder / '.github' / 'workflows' / 'newsletter.yml'} checks pull requests "
        "and sends the issues whose send_at has come; it takes the secrets from the "
        "repository's secret store (see the guide's Scheduled sends and CI).",
        f"Next, in {folder}: mailer doctor    (what a real send still needs, each with its fix)",
    ]
    return "\n".join(lines)
