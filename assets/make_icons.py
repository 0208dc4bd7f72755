"""Regenerate the tray icons: ``python assets/make_icons.py`` (needs Pillow).

The drawing lives in ui/icons.py (one definition, also used as a fallback at run time); this
script only writes the committed files: tray-idle/sending/paused/attention.png and raksbl.ico.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ui.icons import write_assets  # noqa: E402

if __name__ == "__main__":
    for path in write_assets(Path(__file__).resolve().parent):
        print(path.name, path.stat().st_size, "bytes")
