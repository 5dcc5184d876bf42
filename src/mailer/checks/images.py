"""Images: local files are real images of a sensible size, every image has useful alt text,
and none is a placeholder: the sample logo and photo of ``mailer init`` (known by their bytes,
whatever the copy is called) or an image whose alt text, caption, credit or file name says so.

Remote images are fetched by the links check (as kind "image"), so they are not fetched twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from hashlib import sha256
from importlib import resources
from pathlib import Path

from mailer.checks.base import CheckOptions, Finding, clip, finding_maker
from mailer.compose.issue import LoadedIssue, images_with_paths
from mailer.delivery.prepare import Prepared
from mailer.errors import Location

CHECK = "images"
MAX_BYTES = 1_000_000
MAX_WIDTH = 1200  # twice the 600 px column: sharp on high-density screens, no bigger
EMAIL_FORMATS = frozenset({"PNG", "JPEG", "GIF"})  # what every mail client shows

_finding = finding_maker(CHECK)
_FILE_NAME = re.compile(
    r"(\.(png|jpe?g|gif|webp|svg|bmp|tiff?|heic)$)|(^(img|dsc|dscn|pxl|image|photo)[-_ ]?\d+$)",
    re.IGNORECASE,
)
_PLACEHOLDER = re.compile(r"place[-_ ]?holder", re.IGNORECASE)
# What replaces each sample image of mailer init (by its name in the starter project).
_SAMPLE_FIXES = {
    "logo": "replace it with your organisation's logo: white or light on a transparent PNG",
    "photo": "replace it with a photo of your own, and say what it shows in alt",
}


@dataclass(frozen=True)
class _Picture:
    src: str
    alt: str
    linked: bool
    src_at: Location
    alt_at: Location
    words: tuple[tuple[str, str, Location], ...] = ()  # (field, text, where): caption, credit


def check(loaded: LoadedIssue, prepared: Prepared, *, options: CheckOptions) -> list[Finding]:
    findings: list[Finding] = _logo_findings(loaded)
    for picture, path in _pictures(loaded):
        findings += _alt_findings(picture)
        findings += _placeholder_findings(picture, path)
        if path is not None:
            findings += _file_findings(picture, path)
    return findings


def _pictures(loaded: LoadedIssue) -> list[tuple[_Picture, Path | None]]:
    """Every image of the issue plus the logo, with the local file when there is one."""
    pictures = []
    for field_path, image in images_with_paths(loaded.issue):
        words = tuple(
            (field, text, loaded.source.locate((*field_path, field)))
            for field, text in (("caption", image.caption), ("credit", image.credit)) if text
        )
        picture = _Picture(
            image.src, image.alt, image.link is not None,
            loaded.source.locate((*field_path, "src")), loaded.source.locate((*field_path, "alt")),
            words,
        )
        pictures.append((picture, None if image.is_remote else loaded.image_path(image)))
    brand = loaded.brand
    for field in ("logo", "logo_dark"):
        if getattr(brand, field):
            logo = _Picture(
                getattr(brand, field), brand.logo_alt or brand.organisation,
                brand.website is not None, loaded.setting_location("brand", field),
                loaded.setting_location("brand", "logo_alt" if brand.logo_alt else "organisation"),
            )
            pictures.append((logo, loaded.logo_path(field)))
    return pictures


def _logo_findings(loaded: LoadedIssue) -> list[Finding]:
    """The logo sits on the masthead band: a light, opaque background shows as a box there,
    and as a glaring one in dark mode and where Gmail inverts the email's colours."""
    from PIL import Image  # only this check needs Pillow

    path = loaded.logo_path()
    if path is None:
        return []
    try:
        with Image.open(path) as image:
            rgba = image.convert("RGBA")
    except OSError:
        return []  # reported as not a readable image
    width, height = rgba.size
    corners = [rgba.getpixel((x, y)) for x in (0, width - 1) for y in (0, height - 1)]
    if not all(
        isinstance(pixel, tuple) and pixel[3] > 200 and min(pixel[:3]) > 220 for pixel in corners
    ):
        return []
    return [_finding(
        "warning", f"{path.name} has a white background: on the masthead band, in dark mode "
        "and in Gmail's inverted colours it shows as a white box",
        loaded.setting_location("brand", "logo"),
        "use a PNG with a transparent background and a white (or light) logo",
    )]


def _alt_findings(picture: _Picture) -> list[Finding]:
    alt = picture.alt.strip()
    name = Path(picture.src).name
    if not alt and picture.linked:
        return [_finding(
            "error", f"{name} is a link but its alt text is empty, so the link has no name",
            picture.alt_at, "write in alt what the reader gets by clicking (or remove the link)",
        )]
    if not alt:
        return [_finding(
            "info", f"{name} has empty alt text, so screen readers skip it as decoration",
            picture.alt_at, "if the image carries meaning, describe it in alt",
        )]
    if _FILE_NAME.search(alt) or alt in (name, Path(picture.src).stem):
        return [_finding(
            "error", f"the alt text of {name} is a file name ('{alt}')", picture.alt_at,
            "describe what the image shows, as you would to someone on the phone",
        )]
    return []


def _placeholder_findings(picture: _Picture, path: Path | None) -> list[Finding]:
    """Errors for a stand-in that would reach readers and the site: a sample image of
    ``mailer init``, a file called a placeholder, and each text of the image that says so."""
    name = Path(picture.src).name
    findings = []
    sample = _sample_of(path) if path is not None else None
    if sample is not None:
        findings.append(_finding(
            "error", f"{name} is the sample {sample} of mailer init, a placeholder: readers "
            "would see it", picture.src_at,
            _SAMPLE_FIXES.get(sample, "replace it with an image of your own"),
        ))
    elif _PLACEHOLDER.search(name):
        findings.append(_finding(
            "error", f"{name} is named a placeholder: readers would see a stand-in",
            picture.src_at, "replace it with the real image",
        ))
    for field, text, where in (("alt", picture.alt, picture.alt_at), *picture.words):
        if _PLACEHOLDER.search(text):
            findings.append(_finding(
                "error", f"the {field} of {name} says it is a placeholder ('{clip(text)}')",
                where, "put in the real image and write what it shows",
            ))
    return findings


def _sample_of(path: Path) -> str | None:
    """``logo`` or ``photo`` when the file is a copy of that sample image of mailer init."""
    try:
        digest = sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None  # reported as not found or not readable
    return sample_images().get(digest)


@cache
def sample_images() -> dict[str, str]:
    """The SHA-256 of each image that ``mailer init`` writes -> its name (``logo``,
    ``photo``), from the files the package ships."""
    folder = resources.files("mailer.compose").joinpath("starter").joinpath("issues")
    return {
        sha256(file.read_bytes()).hexdigest(): Path(file.name).stem
        for file in folder.joinpath("assets").iterdir()
        if file.is_file()
    }


def _file_findings(picture: _Picture, path: Path) -> list[Finding]:
    from PIL import Image, UnidentifiedImageError  # only this check needs Pillow

    name = path.name
    try:
        size = path.stat().st_size
        with Image.open(path) as image:
            image.verify()
            kind, (width, height) = image.format or "?", image.size
    except FileNotFoundError:
        return [_finding("error", f"image file not found: {picture.src}", picture.src_at,
                        "check the path (it is relative to the file naming it)")]
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError):
        return [_finding("error", f"{name} is not a readable image", picture.src_at,
                        "export it again as PNG or JPEG")]
    kilobytes = round(size / 1000)
    findings = [_finding(
        "info", f"{name}: {kind}, {kilobytes} KB, {width}×{height} px", picture.src_at, ""
    )]
    if kind not in EMAIL_FORMATS:
        findings.append(_finding(
            "warning", f"{name} is {kind}, which some mail clients (Outlook) do not show",
            picture.src_at, "save it as PNG or JPEG",
        ))
    if size > MAX_BYTES:
        findings.append(_finding(
            "warning", f"{name} is {kilobytes} KB; big images load slowly on phones",
            picture.src_at,
            f"resize it to at most {MAX_WIDTH} px wide and save as JPEG (quality about 80)",
        ))
    if width > MAX_WIDTH:
        findings.append(_finding(
            "warning",
            f"{name} is {width} px wide; the email shows it at most 600 px wide", picture.src_at,
            f"resize it to {MAX_WIDTH} px wide (sharp on every screen, a fraction of the size)",
        ))
    return findings
