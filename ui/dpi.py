"""Sharp windows at 125 %/150 % display scaling (Windows), and pixel sizes that follow it.

Windows scales the bitmap of a process that did not declare DPI awareness: every dialog is
blurry. :func:`enable_dpi_awareness` declares *per-monitor* awareness before the first Tk root
is created (the bundle's manifest, ``build/raksbl.exe.manifest``, declares the same, so the exe
is aware from its first instruction; the API call covers ``python -m agent`` and is harmless
when the manifest already did it). With awareness declared, Tk measures fonts in points at the
real DPI, but sizes given in *pixels* (window sizes, paddings, column widths) stay small:
:func:`scale` converts a size meant for 96 DPI into pixels at the current DPI.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

log = logging.getLogger(__name__)

# DPI_AWARENESS_CONTEXT_PER_MONITOR_AWARE_V2 ((DPI_AWARENESS_CONTEXT)-4): Windows 10 1703+
PER_MONITOR_AWARE_V2 = -4
PROCESS_PER_MONITOR_DPI_AWARE = 2  # shcore.SetProcessDpiAwareness: Windows 8.1+
BASE_DPI = 96.0

_declared: str | None = None


def enable_dpi_awareness(platform: str = sys.platform, windll: Any = None) -> str | None:
    """Declare per-monitor DPI awareness (Windows; a no-op elsewhere). Returns which API did it
    (``"v2"``, ``"shcore"``, ``"system"``) or None. Call before the first ``tkinter.Tk()``."""
    global _declared
    if platform != "win32":
        return None
    if _declared is not None:
        return _declared
    if windll is None:
        import ctypes

        windll = ctypes.windll  # type: ignore[attr-defined]
    attempts = (
        ("v2", lambda: windll.user32.SetProcessDpiAwarenessContext(PER_MONITOR_AWARE_V2)),
        ("shcore", lambda: windll.shcore.SetProcessDpiAwareness(PROCESS_PER_MONITOR_DPI_AWARE) == 0),
        ("system", lambda: windll.user32.SetProcessDPIAware()),
    )
    for name, call in attempts:
        try:
            if call():
                _declared = name
                log.info("DPI awareness declared (%s)", name)
                return name
        except (AttributeError, OSError) as exc:  # an older Windows without that API
            log.debug("DPI awareness via %s unavailable: %s", name, exc)
    # all failed: usually because the manifest already declared it (the calls then fail with
    # E_ACCESSDENIED / ERROR_ACCESS_DENIED) - nothing to do
    log.info("DPI awareness not changed (already set by the manifest, or unsupported)")
    return None


def scale_factor(widget: Any) -> float:
    """Current pixels per 96-DPI pixel for ``widget``'s screen (1.0 when it cannot be read)."""
    try:
        dpi = float(widget.winfo_fpixels("1i"))
    except Exception:
        return 1.0
    return max(1.0, dpi / BASE_DPI)


def scale(widget: Any, pixels: int | float) -> int:
    """``pixels`` designed at 96 DPI, in pixels at ``widget``'s DPI."""
    return int(round(pixels * scale_factor(widget)))


def scale_size(widget: Any, size: tuple[int, int]) -> tuple[int, int]:
    return scale(widget, size[0]), scale(widget, size[1])
