"""The newsletter's colours in light and dark mode, from the brand settings.

The templates paint with roles (``text``, ``muted``, ``link``, ``masthead``, ...), never with
brand fields directly, so that the dark-mode styles are the same roles with other colours.
Each role remembers the ``[brand]`` setting that decides it, so the accessibility check can
point at the line to change. Roles no setting names are mixed from the others (the tint of the
section bands from the brand colour, the hairlines between stories from the text colour).
"""

from __future__ import annotations

from dataclasses import dataclass

from mailer.settings import Brand

# (foreground role, background role, where the template uses the pair): every text the email
# shows, on the background it is shown on. The accessibility check holds each to 4.5:1.
TEXT_PAIRS = (
    ("text", "card", "body text"),
    ("muted", "card", "captions and quote credits"),
    ("link", "card", "links and the buttons' outlines"),
    ("heading", "card", "headlines"),
    ("heading", "accent", "section titles on their band"),
    ("masthead_text", "masthead", "the title, period and social icons on the masthead band"),
    ("button_text", "button", "the lead story's button"),
    ("muted", "page", "the footer"),
)


@dataclass(frozen=True)
class Role:
    colour: str  # #RRGGBB
    setting: str  # the [brand] key that decides it, e.g. "dark_text_color"


@dataclass(frozen=True)
class Palette:
    """The colour of each role in one mode."""

    mode: str  # "light" or "dark"
    roles: dict[str, Role]

    def __getitem__(self, role: str) -> str:
        return self.roles[role].colour

    def as_dict(self) -> dict[str, str]:
        return {name: role.colour for name, role in self.roles.items()}


def light_palette(brand: Brand) -> Palette:
    accent = brand.accent_background or mix(brand.primary_color, brand.content_background, 0.08)
    return Palette("light", {
        "page": Role(brand.background_color, "background_color"),
        "card": Role(brand.content_background, "content_background"),
        "text": Role(brand.text_color, "text_color"),
        "muted": Role(brand.muted_color, "muted_color"),
        "link": Role(brand.primary_color, "primary_color"),
        "heading": Role(brand.primary_color, "primary_color"),
        "accent": Role(accent, "accent_background"),
        "masthead": Role(brand.primary_color, "primary_color"),
        "masthead_text": Role(brand.masthead_text_color, "masthead_text_color"),
        "button": Role(brand.primary_color, "primary_color"),
        "button_text": Role(brand.masthead_text_color, "masthead_text_color"),
        "rule": Role(mix(brand.text_color, brand.content_background, 0.14), "text_color"),
    })


def dark_palette(brand: Brand) -> Palette:
    card = brand.dark_content_background
    accent = brand.dark_accent_background or mix(brand.dark_primary_color, card, 0.12)
    # The band a shade deeper than by day: a bright band glares on a dark screen.
    deeper = mix(brand.primary_color, brand.dark_background_color, 0.7)
    masthead = brand.dark_masthead_color or deeper
    return Palette("dark", {
        "page": Role(brand.dark_background_color, "dark_background_color"),
        "card": Role(card, "dark_content_background"),
        "text": Role(brand.dark_text_color, "dark_text_color"),
        "muted": Role(brand.dark_muted_color, "dark_muted_color"),
        "link": Role(brand.dark_primary_color, "dark_primary_color"),
        "heading": Role(brand.dark_primary_color, "dark_primary_color"),
        "accent": Role(accent, "dark_accent_background"),
        "masthead": Role(masthead, "dark_masthead_color"),
        "masthead_text": Role(brand.masthead_text_color, "masthead_text_color"),
        "button": Role(brand.dark_primary_color, "dark_primary_color"),
        "button_text": Role(card, "dark_content_background"),
        "rule": Role(mix(brand.dark_text_color, card, 0.18), "dark_text_color"),
    })


def palettes(brand: Brand) -> tuple[Palette, Palette]:
    return light_palette(brand), dark_palette(brand)


# --- WCAG 2 colour arithmetic ----------------------------------------------------------------


def _channels(colour: str) -> list[int]:
    return [int(colour[i : i + 2], 16) for i in (1, 3, 5)]


def mix(colour: str, base: str, share: float) -> str:
    """``share`` of ``colour`` over ``base`` (0: ``base``, 1: ``colour``), as ``#RRGGBB``."""
    pairs = zip(_channels(colour), _channels(base), strict=True)
    mixed = [round(b + (c - b) * share) for c, b in pairs]
    return "#" + "".join(f"{c:02X}" for c in mixed)


def relative_luminance(colour: str) -> float:
    """WCAG 2 relative luminance of ``#RRGGBB``."""
    channels = [c / 255 for c in _channels(colour)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(foreground: str, background: str) -> float:
    lighter, darker = sorted(
        (relative_luminance(foreground), relative_luminance(background)), reverse=True
    )
    return (lighter + 0.05) / (darker + 0.05)
