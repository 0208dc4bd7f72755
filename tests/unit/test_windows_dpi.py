"""Per-monitor DPI awareness (issue 15.1): the API calls with ``ctypes.windll`` mocked, the
bundle's manifest, and pixel sizes scaled with the DPI."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from types import SimpleNamespace

import pytest

from ui import dpi

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    monkeypatch.setattr(dpi, "_declared", None)


class Fn:
    def __init__(self, result=None, exc=None):
        self.result, self.exc, self.calls = result, exc, []

    def __call__(self, *args):
        self.calls.append(args)
        if self.exc:
            raise self.exc
        return self.result


def windll(v2=1, shcore=0, system=1):
    return SimpleNamespace(
        user32=SimpleNamespace(SetProcessDpiAwarenessContext=v2 if callable(v2) else Fn(v2),
                               SetProcessDPIAware=Fn(system)),
        shcore=SimpleNamespace(SetProcessDpiAwareness=shcore if callable(shcore) else Fn(shcore)),
    )


def test_per_monitor_v2_first():
    w = windll()
    assert dpi.enable_dpi_awareness("win32", w) == "v2"
    assert w.user32.SetProcessDpiAwarenessContext.calls == [(-4,)]
    assert w.shcore.SetProcessDpiAwareness.calls == []
    assert dpi.enable_dpi_awareness("win32", windll()) == "v2"  # once per process


def test_falls_back_on_older_windows():
    w = windll(v2=Fn(exc=AttributeError("no such function")))  # Windows 8.1
    assert dpi.enable_dpi_awareness("win32", w) == "shcore"
    assert w.shcore.SetProcessDpiAwareness.calls == [(2,)]


def test_already_declared_by_the_manifest_is_not_an_error():
    w = windll(v2=0, shcore=Fn(0x80070005), system=0)  # E_ACCESSDENIED: the manifest set it
    assert dpi.enable_dpi_awareness("win32", w) is None


def test_nothing_happens_off_windows():
    assert dpi.enable_dpi_awareness("linux", None) is None


def test_pixel_sizes_follow_the_dpi():
    at = lambda d: SimpleNamespace(winfo_fpixels=lambda spec: float(d))  # noqa: E731
    assert dpi.scale(at(96), 760) == 760
    assert dpi.scale(at(120), 760) == 950  # 125 %
    assert dpi.scale_size(at(144), (1120, 560)) == (1680, 840)  # 150 %
    assert dpi.scale(at(72), 100) == 100  # never shrink below the design


def test_the_bundle_manifest_declares_per_monitor_awareness():
    manifest = ROOT / "build" / "raksbl.exe.manifest"
    tree = ET.parse(manifest)
    text = {el.tag.split("}")[1]: (el.text or "") for el in tree.iter() if "}" in el.tag}
    assert text["dpiAwareness"].startswith("PerMonitorV2")
    assert text["dpiAware"] == "true/pm"
    spec = (ROOT / "build" / "raksbl.spec").read_text(encoding="utf-8")
    assert spec.count("manifest=str(MANIFEST)") == 2  # raksbl.exe and raksbl-cli.exe
    assert 'MANIFEST = Path(SPECPATH) / "raksbl.exe.manifest"' in spec


def test_the_ui_loop_declares_awareness_before_the_first_root(monkeypatch):
    import tkinter

    from ui.app import UiLoop

    order = []
    monkeypatch.setattr(dpi, "enable_dpi_awareness", lambda: order.append("dpi"))

    def fake_tk():
        order.append("Tk")
        raise tkinter.TclError("no display")

    monkeypatch.setattr(tkinter, "Tk", fake_tk)
    loop = UiLoop()
    loop.start()
    assert order == ["dpi", "Tk"] and loop.root is None
