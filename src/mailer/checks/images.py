"""Images: local files are real images of a sensible size, and every image has useful alt text.

Remote images are fetched by the links check (as kind "image"), so they are not fetched twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from mailer.checks.base import CheckOptions, Finding, finding_maker
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


@dataclass(frozen=True)
class _Picture:
    src: str
    alt: str
    linked: bool
    src_at: Location
    alt_at: Location


def check(loaded: LoadedIssue, prepared: Prepared, *, options: CheckOptions) -> list[Finding]:
    findings: list[Finding] = _logo_findings(loaded)
    for picture, path in _pictures(loaded):
        findings += _alt_findings(picture)
        if path is not None:
            findings += _file_findings(picture, path)
    return findings


def _pictures(loaded: LoadedIssue) -> list[tuple[_Picture, Path | None]]:
    """Every image of the issue plus the logo, with the local file when there is one."""
    pictures = []
    for field_path, image in images_with_paths(loaded.issue):
        picture = _Picture(
            image.src, image.alt, image.link is not None,
            loaded.source.locate((*field_path, "src")), loaded.source.locate((*field_path, "alt")),
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
    corners = [  # an RGBA image's pixel is (r, g, b, alpha)
        cast(tuple[int, int, int, int], rgba.getpixel((x, y)))
        for x in (0, width - 1) for y in (0, height - 1)
    ]
    if not all(alpha > 200 and min(r, g, b) > 220 for r, g, b, alpha in corners):
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
