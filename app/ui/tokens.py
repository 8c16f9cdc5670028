"""The theme's colours, light and dark, without Qt: the window's frame takes its background from here before the
rest of the app is imported (`app.ui.frame`); `app.ui.design` makes the stylesheet from them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Colours:
    """One theme's colours. `*_text` colours are for text on the colour before them."""

    window: str
    surface: str  # cards, inputs
    surface_alt: str  # the user's own messages, hovered rows
    border: str
    text: str
    muted: str  # secondary text: statuses, cards between messages, stats lines
    accent: str  # buttons, selection, focus
    accent_text: str
    error: str  # error text on `surface`
    banner: str  # an error banner's background
    banner_text: str
    warning: str  # warning text on `surface`
    link: str

    def pairs(self) -> dict[str, tuple[str, str]]:
        """Every text colour with the backgrounds it is drawn on, for the contrast check."""
        pairs = {}
        for background in ("window", "surface", "surface_alt"):
            for text in ("text", "muted", "link"):
                pairs[f"{text} on {background}"] = (getattr(self, text), getattr(self, background))
        pairs["error on surface"] = (self.error, self.surface)
        pairs["warning on surface"] = (self.warning, self.surface)
        pairs["error on window"] = (self.error, self.window)
        pairs["accent text on accent"] = (self.accent_text, self.accent)
        pairs["banner text on banner"] = (self.banner_text, self.banner)
        return pairs


LIGHT = Colours(
    window="#f4f5f7",
    surface="#ffffff",
    surface_alt="#eef1f6",
    border="#d5d9e0",
    text="#1d2026",
    muted="#5c6370",
    accent="#3b5bdb",
    accent_text="#ffffff",
    error="#b42318",
    banner="#b42318",
    banner_text="#ffffff",
    warning="#8a5300",
    link="#2f4ac0",
)
DARK = Colours(
    window="#1b1c1f",
    surface="#24262a",
    surface_alt="#2d3036",
    border="#3a3d44",
    text="#e8eaed",
    muted="#a6acb5",
    accent="#5b7cfa",
    accent_text="#0b0d12",
    error="#ff8a80",
    banner="#8c2f27",
    banner_text="#ffffff",
    warning="#f0b45a",
    link="#8ab4f8",
)


def colours(dark: bool) -> Colours:
    return DARK if dark else LIGHT
