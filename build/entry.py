"""PyInstaller entry point of both executables (``raksbl`` windowed, ``raksbl-cli`` console).

Both run :func:`agent.cli.main`: no arguments starts the tray agent, ``send``/``doctor``/… the
command line. The windowed exe has no console, so PyInstaller leaves ``sys.stdout`` /
``sys.stderr`` as None; give them a sink so a stray write (a library warning, argparse's
``--help``) cannot raise inside the tray agent.
"""

import os
import sys

if sys.stdout is None:
    sys.stdout = open(os.devnull, "w", encoding="utf-8")
if sys.stderr is None:
    sys.stderr = open(os.devnull, "w", encoding="utf-8")

from agent.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
