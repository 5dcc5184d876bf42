"""What ``mailer preview`` writes: the email as subscribers get it, for a sample reader.

Output folder: ``index.html`` (the email as a browser shows it, images copied beside it),
``message.txt`` (the plain-text part), ``message.eml`` (the complete message, images
embedded); for an issue with editions, the default edition's files there and each other
edition's in a subfolder named by its language (``tr/index.html``), as on the web archive.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mailer.audience.subscribers import SampleReader
from mailer.compose.editions import Editions
from mailer.compose.images import InlineImage, PreviewImages
from mailer.compose.issue import LoadedIssue
from mailer.compose.merge import FillIn
from mailer.delivery.prepare import prepare
from mailer.errors import WriteFailed


@dataclass(frozen=True)
class PreviewFiles:
    html: Path
    text: Path
    eml: Path


@dataclass(frozen=True)
class EditionPreview:
    language: str
    folder: str  # relative to the issue's folder: "" for the default edition, else "tr/"
    files: PreviewFiles


def edition_folder(editions: Editions, loaded: LoadedIssue) -> str:
    """Where an edition's files go below the issue's folder."""
    return "" if loaded is editions.default else f"{loaded.issue.language}/"


def write_editions(editions: Editions, out_dir: Path) -> list[EditionPreview]:
    """:func:`write_preview` for each chosen edition."""
    return [
        EditionPreview(
            loaded.issue.language, folder := edition_folder(editions, loaded),
            write_preview(loaded, out_dir / folder),
        )
        for loaded in editions.chosen
    ]


@dataclass(frozen=True)
class Sample:
    """An edition as the sample reader gets it (no subscriber's data in any of it)."""

    subject: str
    preheader: str  # the line inboxes show after the subject ("" for none)
    html: str  # the HTML part, each ``cid:`` image pointing at a copy in the folder it was for
    text: str  # the plain-text part
    eml: bytes  # the whole message


def sample_of(loaded: LoadedIssue, out_dir: Path) -> Sample:
    """Render ``loaded`` for the sample reader; its local images are copied into ``out_dir``
    (``images/``), where the HTML expects them."""
    prepared = prepare(loaded, real_send=False)
    message = prepared.factory.build(SampleReader())
    values = message.personalisation.values
    content = prepared.factory.content
    out_dir.mkdir(parents=True, exist_ok=True)
    return Sample(
        subject=content.subject.fill(values),
        # the preheader is in the HTML part, so its merge fields are among the values
        preheader=FillIn.of(loaded.issue.preheader or "", escape_html=False).fill(values),
        html=_browser_view(content.html.fill(values), content.images, out_dir),
        text=content.text.fill(values),
        eml=message.data,
    )


def write_preview(loaded: LoadedIssue, out_dir: Path) -> PreviewFiles:
    """Render ``loaded`` for the sample reader into ``out_dir``."""
    files = PreviewFiles(out_dir / "index.html", out_dir / "message.txt", out_dir / "message.eml")
    try:
        sample = sample_of(loaded, out_dir)
        files.html.write_text(sample.html, encoding="utf-8")
        files.text.write_text(sample.text, encoding="utf-8")
        files.eml.write_bytes(sample.eml)
    except OSError as exc:
        raise WriteFailed(f"cannot write {exc.filename or out_dir}: {exc.strerror}") from None
    return files


def _browser_view(html: str, images: tuple[InlineImage, ...], out_dir: Path) -> str:
    """The sent HTML with each ``cid:`` image pointing at a copy beside ``index.html``."""
    linker = PreviewImages(out_dir)
    for image in images:
        html = html.replace(f"cid:{image.content_id}", linker.url_for(image.path))
    return html
