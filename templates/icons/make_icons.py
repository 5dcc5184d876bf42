"""Generate the social-network icons the newsletter template links to.

One 48x48 PNG per network that ``social.toml`` names, shown at 24 px in the email (so they stay
sharp on high-density screens): a white glyph or letter(s) in a thin white ring, on a
transparent background. They sit on the masthead band in the brand colour, in light and dark
mode alike, and keep no white box where Gmail inverts an email's colours. They are simple
stand-ins, not the networks' trademarks.

Deterministic (same Pillow, same bytes): shapes are drawn at 4x and scaled down, text uses
Pillow's built-in font, and nothing depends on the time or the machine. Run from anywhere::

    python3 templates/icons/make_icons.py
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).resolve().parent
SIZE = 48
SCALE = 4  # draw at 192x192, then downsample for smooth edges
BIG = SIZE * SCALE
WHITE = (255, 255, 255, 255)
RING = (255, 255, 255, 170)  # quieter than the glyph
CLEAR = (0, 0, 0, 0)  # cut-outs in a glyph show the band through

Draw = ImageDraw.ImageDraw


def _letters(text: str, size: int, dy: int = 0) -> Callable[[Draw], None]:
    """A glyph made of ``text`` in white, centred, made bolder with a thin stroke."""

    def paint(draw: Draw) -> None:
        font = ImageFont.load_default(size=size)
        draw.text(
            (BIG / 2, BIG / 2 + dy),
            text,
            font=font,
            fill=WHITE,
            anchor="mm",
            stroke_width=size // 18,
            stroke_fill=WHITE,
        )

    return paint


def _youtube(draw: Draw) -> None:
    draw.rounded_rectangle((44, 60, 148, 132), radius=18, fill=WHITE)
    draw.polygon([(84, 76), (84, 116), (118, 96)], fill=CLEAR)


def _instagram(draw: Draw) -> None:
    draw.rounded_rectangle((52, 52, 140, 140), radius=24, outline=WHITE, width=10)
    draw.ellipse((74, 74, 118, 118), outline=WHITE, width=10)
    draw.ellipse((118, 64, 130, 76), fill=WHITE)


def _website(draw: Draw) -> None:
    draw.ellipse((46, 46, 146, 146), outline=WHITE, width=8)
    draw.ellipse((76, 46, 116, 146), outline=WHITE, width=7)
    draw.line((46, 96, 146, 96), fill=WHITE, width=7)
    draw.line((56, 70, 136, 70), fill=WHITE, width=6)
    draw.line((56, 122, 136, 122), fill=WHITE, width=6)


def _email(draw: Draw) -> None:
    draw.rectangle((46, 64, 146, 130), outline=WHITE, width=8)
    draw.line([(50, 68), (96, 104), (142, 68)], fill=WHITE, width=8, joint="curve")


def _tiktok(draw: Draw) -> None:
    """A musical note, TikTok's motif."""
    draw.ellipse((58, 108, 96, 142), fill=WHITE)
    draw.rectangle((86, 48, 98, 126), fill=WHITE)
    draw.line([(92, 52), (112, 62), (126, 82)], fill=WHITE, width=12, joint="curve")


def _bluesky(draw: Draw) -> None:
    """A butterfly: two upper and two lower wings."""
    draw.ellipse((44, 58, 96, 110), fill=WHITE)
    draw.ellipse((96, 58, 148, 110), fill=WHITE)
    draw.ellipse((60, 100, 94, 136), fill=WHITE)
    draw.ellipse((98, 100, 132, 136), fill=WHITE)
    draw.line((96, 70, 96, 128), fill=CLEAR, width=6)


def _flickr(draw: Draw) -> None:
    draw.ellipse((44, 74, 92, 122), fill=WHITE)
    draw.ellipse((102, 74, 150, 122), outline=WHITE, width=9)


GLYPHS: dict[str, Callable[[Draw], None]] = {
    "facebook": _letters("f", 130, dy=8),
    "linkedin": _letters("in", 96),
    "twitter": _letters("t", 120),
    "x": _letters("X", 104),
    "instagram": _instagram,
    "youtube": _youtube,
    "medium": _letters("M", 96),
    "website": _website,
    "tiktok": _tiktok,
    "mastodon": _letters("m", 110, dy=-8),
    "bluesky": _bluesky,
    "flickr": _flickr,
    "email": _email,
}


def make_icon(network: str) -> Path:
    big = Image.new("RGBA", (BIG, BIG), CLEAR)
    draw = ImageDraw.Draw(big)
    draw.ellipse((4, 4, BIG - 5, BIG - 5), outline=RING, width=8)
    GLYPHS[network](draw)
    icon = big.resize((SIZE, SIZE), Image.Resampling.LANCZOS)
    # A 32-colour palette keeps the anti-aliased edges and the file near 1 KB.
    icon = icon.quantize(colors=32, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    path = HERE / f"{network}.png"
    icon.save(path, optimize=True)
    return path


def main() -> None:
    for network in GLYPHS:
        path = make_icon(network)
        print(f"{path.name}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
