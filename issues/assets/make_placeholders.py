"""Generate the placeholder images used by the example issues in ``issues/`` and by the sample
project that ``mailer init`` writes (``src/mailer/compose/starter/issues/assets/``).

The seed newsletters' photos are not ours to ship, so each example issue points at a plain,
clearly labelled stand-in instead: a solid colour with a few words saying which photo it
replaces. The alt text and captions in the YAML still describe the real photo.

Deterministic (same Pillow, same bytes): no randomness, no timestamps, Pillow's built-in font.
Run from anywhere::

    python3 issues/assets/make_placeholders.py
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).resolve().parent
STARTER = HERE.parents[1] / "src" / "mailer" / "compose" / "starter" / "issues" / "assets"
IOM_BLUE = (0x00, 0x33, 0xA0)
WHITE = (0xFF, 0xFF, 0xFF)

# file name -> (size, background colour, lines of text)
PLACEHOLDERS: dict[str, tuple[tuple[int, int], tuple[int, int, int], list[str]]] = {
    "2018-03-lead-gaziantep.png": (
        (600, 400),
        (0x3B, 0x5B, 0x8C),
        ["Photo placeholder: Gaziantep", "Ambassador Laura Thompson", "and Mayor Fatma Sahin"],
    ),
    "2018-03-childrens-art-exhibition.png": (
        (480, 320),
        (0x6A, 0x4C, 0x93),
        ["Photo placeholder: Ankara", "Children's Art Exhibition", "opening ceremony"],
    ),
    "2018-03-migrants-day-film-screening.png": (
        (480, 320),
        (0x2E, 0x7D, 0x6B),
        ["Photo placeholder: Gaziantep", "GMFF film screening", "International Migrants Day"],
    ),
}


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _centred_lines(
    draw: ImageDraw.ImageDraw,
    size: tuple[int, int],
    lines: list[str],
    font_size: int,
    fill: tuple[int, int, int],
) -> None:
    """Draw ``lines`` centred horizontally and vertically, the first one larger."""
    fonts = [_font(font_size + 6)] + [_font(font_size)] * (len(lines) - 1)
    heights = [draw.textbbox((0, 0), line, font=f)[3] for line, f in zip(lines, fonts, strict=True)]
    gap = font_size // 2
    y = (size[1] - sum(heights) - gap * (len(lines) - 1)) // 2
    for line, font, height in zip(lines, fonts, heights, strict=True):
        width = draw.textlength(line, font=font)
        draw.text(((size[0] - width) / 2, y), line, font=font, fill=fill)
        y += height + gap


def make_photo(
    name: str, size: tuple[int, int], colour: tuple[int, int, int], lines: list[str]
) -> Path:
    image = Image.new("RGB", size, colour)
    draw = ImageDraw.Draw(image)
    inset = 12
    draw.rectangle((inset, inset, size[0] - inset - 1, size[1] - inset - 1), outline=WHITE, width=2)
    _centred_lines(draw, size, lines, font_size=max(18, size[0] // 24), fill=WHITE)
    path = HERE / name
    image.save(path, optimize=True)
    return path


def make_logo() -> Path:
    """``iom-logo.png``: the organisation's name in white on a transparent background, 320x96
    (shown at 160x48). It sits on the masthead band in the brand colour, in light and dark mode
    alike, and stays white where Gmail inverts the colours of the email."""
    size = (320, 96)
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    white = (*WHITE, 255)
    big, small = _font(52), _font(28)
    draw.text((8, 48), "IOM", font=big, fill=white, anchor="lm", stroke_width=1, stroke_fill=white)
    left = 8 + draw.textlength("IOM", font=big) + 18
    draw.line((left, 22, left, 74), fill=white, width=2)
    draw.text((left + 18, 48), "UN Migration", font=small, fill=white, anchor="lm")
    path = HERE / "iom-logo.png"
    image.save(path, optimize=True)
    return path


def make_starter() -> list[Path]:
    """The sample project's logo (a white placeholder mark on a transparent background, to be
    replaced by the organisation's own) and photo."""
    size = (320, 96)
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    white = (*WHITE, 255)
    draw.rounded_rectangle((4, 10, 236, 86), radius=12, outline=white, width=3)
    draw.text(
        (120, 48), "YOUR LOGO", font=_font(34), fill=white, anchor="mm", stroke_width=1,
        stroke_fill=white,
    )
    logo = STARTER / "logo.png"
    image.save(logo, optimize=True)
    photo = Image.new("RGB", (600, 400), (0x2E, 0x5E, 0x7E))
    draw = ImageDraw.Draw(photo)
    draw.rectangle((12, 12, 587, 387), outline=WHITE, width=2)
    _centred_lines(
        draw, (600, 400), ["Photo placeholder", "A newsletter on a phone", "replace with yours"],
        font_size=25, fill=WHITE,
    )
    photo_path = STARTER / "photo.png"
    photo.save(photo_path, optimize=True)
    return [logo, photo_path]


def main() -> None:
    paths = [make_photo(name, *spec) for name, spec in PLACEHOLDERS.items()]
    paths.append(make_logo())
    paths += make_starter()
    for path in paths:
        print(f"{path.name}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
