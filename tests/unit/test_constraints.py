"""build/constraints.txt pins every installed package at the version that is tested (issue 15.10):
the Windows build and the Linux bundle test install from the same list."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
IGNORED = {"raksbl", "pip", "setuptools", "wheel"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins() -> dict[str, str]:
    out = {}
    for line in (ROOT / "build" / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"not pinned with ==: {line!r}"
            out[canonical(name)] = version.strip()
    return out


def test_every_installed_package_is_pinned_at_its_version():
    pinned = pins()
    installed = {canonical(d.metadata["Name"]): d.version for d in metadata.distributions()}
    missing = sorted(n for n in installed if n not in pinned and n not in IGNORED)
    assert missing == [], f"add to build/constraints.txt: {missing}"
    wrong = {n: (v, pinned[n]) for n, v in installed.items() if n in pinned and pinned[n] != v}
    assert wrong == {}, f"installed != pinned: {wrong}"


def test_the_windows_only_dependencies_are_pinned_too():
    pinned = pins()
    for name in ("pywin32-ctypes", "pefile", "tzdata", "colorama", "truststore", "pyinstaller"):
        assert name in pinned, name


def test_both_builds_install_with_the_constraints():
    assert "-c build/constraints.txt" in (ROOT / "scripts" / "bootstrap.sh").read_text(encoding="utf-8")
    ps1 = (ROOT / "build" / "build_windows.ps1").read_text(encoding="utf-8")
    assert 'build\\constraints.txt' in ps1
