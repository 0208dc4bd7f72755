"""The tray icon's four looks: idle, sending, paused, attention.

The images are drawn here with Pillow (one definition) and saved once into ``assets/`` by
``assets/make_icons.py``; at run time :func:`load_icon` reads the PNG and falls back to drawing
it when the assets are not shipped next to the code (e.g. an installed wheel).
"""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw

STATES = ("idle", "sending", "paused", "attention")
SIZE = 64
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)

# Background colour per state: distinguishable at 16 px and for the common colour blindnesses
# (the glyph differs too, so colour is never the only cue).
COLOURS = {
    "idle": (46, 125, 50),  # green
    "sending": (21, 101, 192),  # blue
    "paused": (97, 97, 97),  # grey
    "attention": (216, 67, 21),  # orange-red
}
WHITE = (255, 255, 255, 255)


def draw_icon(state: str, size: int = SIZE) -> Image.Image:
    """Draw the icon for ``state`` (RGBA, ``size`` × ``size``), supersampled for smooth edges."""
    if state not in COLOURS:
        raise ValueError(f"unknown icon state {state!r}")
    big = 256
    img = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle((8, 8, big - 8, big - 8), radius=48, fill=COLOURS[state] + (255,))
    if state == "idle":
        # a document with a folded corner and text lines
        d.polygon([(72, 44), (156, 44), (192, 80), (192, 212), (72, 212)], fill=WHITE)
        d.polygon([(156, 44), (156, 80), (192, 80)], fill=(200, 230, 201, 255))
        for y in (104, 132, 160, 188):
            d.rectangle((92, y, 172, y + 10), fill=COLOURS[state] + (255,))
    elif state == "sending":
        # an upward arrow: "going to BaseLinker"
        d.polygon([(128, 36), (208, 124), (160, 124), (160, 216), (96, 216), (96, 124), (48, 124)], fill=WHITE)
    elif state == "paused":
        d.rounded_rectangle((76, 56, 116, 200), radius=8, fill=WHITE)
        d.rounded_rectangle((140, 56, 180, 200), radius=8, fill=WHITE)
    else:  # attention
        d.rounded_rectangle((110, 40, 146, 160), radius=14, fill=WHITE)
        d.ellipse((108, 178, 148, 218), fill=WHITE)
    return img.resize((size, size), Image.LANCZOS)


def assets_dir() -> Path:
    """``assets/`` next to the code, or inside a PyInstaller bundle."""
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle) / "assets"
    return Path(__file__).resolve().parent.parent / "assets"


def icon_path(state: str) -> Path:
    return assets_dir() / f"tray-{state}.png"


@lru_cache(maxsize=None)
def load_icon(state: str) -> Image.Image:
    """The tray image for ``state`` from ``assets/``, drawn on the fly if the file is missing."""
    if state not in COLOURS:
        raise ValueError(f"unknown icon state {state!r}")
    path = icon_path(state)
    try:
        with Image.open(path) as img:
            return img.convert("RGBA").copy()
    except OSError:
        return draw_icon(state)


def write_assets(directory: Path | None = None) -> list[Path]:
    """(Re)generate every PNG and the Windows ``.ico`` into ``directory`` (default ``assets/``)."""
    directory = directory or assets_dir()
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for state in STATES:
        path = directory / f"tray-{state}.png"
        draw_icon(state).save(path, optimize=True)
        written.append(path)
    ico = directory / "raksbl.ico"
    draw_icon("idle", 256).save(ico, sizes=[(s, s) for s in ICO_SIZES])
    written.append(ico)
    return written
