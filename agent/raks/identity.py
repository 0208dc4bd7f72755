"""The journal key of a database as the server reports it (see :mod:`agent.export.dbkey`)."""

from __future__ import annotations

import re

_WINDOWS_PATH = re.compile(r"^([A-Za-z]:|\\\\)")


def identity_key(file_name: str, created) -> str:
    """The journal key for the database file ``file_name`` created at ``created`` (as reported)."""
    path = str(file_name).strip()
    if _WINDOWS_PATH.match(path) or "\\" in path:  # Windows paths are case-insensitive
        path = path.replace("\\", "/").lower()
    stamp = created.isoformat(timespec="seconds") if hasattr(created, "isoformat") else str(created or "")
    return f"fb:{path}@{stamp}"
