"""The UI thread's loop: the one queue through which work reaches the Tk thread.

Tk may only be touched from the thread running its main loop, and ``after()`` itself is not safe
to call from another thread. So every window-opening action of the tray, and every result a
worker thread (a settings look-up, the fit assistant) hands to a window, goes through
:meth:`UiLoop.call`. A window gets a :meth:`UiLoop.poster`: a ``post(fn)`` that runs ``fn`` on
the Tk thread only while the window still exists.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import sys
import threading
from typing import Any, Callable

log = logging.getLogger(__name__)

_LOOP_ATTRIBUTE = "_raksbl_ui_loop"


class UiLoop:
    """The main-thread loop every window-opening action goes through (one queue).

    With Tk: a withdrawn root. An idle agent sleeps: on POSIX :meth:`call` wakes Tk through a
    pipe watched by ``createfilehandler`` (which also receives the signal wake-up byte, so
    SIGTERM is handled at once although Tk sleeps in C); where Tk has no file handlers (Windows)
    the root polls the queue every ``poll_ms``. Without Tk (no display for it, or
    ``use_tk=False`` in tests): a blocking queue loop. :meth:`call` is thread-safe.
    """

    def __init__(self, use_tk: bool = True, poll_ms: int = 250):
        self.on_close: Callable[[], None] | None = None  # the root got WM_DELETE_WINDOW (taskkill)
        self._queue: queue.Queue[Callable[[], Any] | None] = queue.Queue()
        self._use_tk = use_tk
        self.poll_ms = poll_ms
        self.root: Any = None
        self._done = threading.Event()
        self._wake_r: int | None = None
        self._wake_w: int | None = None
        self._old_wakeup_fd: int | None = None
        self._signals_hooked = False  # the wake-up pipe also receives signals (the tray's own root)
        self._gc_pending = False

    def start(self) -> None:
        """Create the (withdrawn) Tk root; must run on the main thread."""
        if not self._use_tk:
            return
        try:
            import tkinter

            from ui.dpi import enable_dpi_awareness

            enable_dpi_awareness()  # before the first Tk root, or Windows scales a blurry bitmap
            self.root = tkinter.Tk()
            setattr(self.root, _LOOP_ATTRIBUTE, self)
            self.root.withdraw()
            self.root.title("raksbl")
            # Tk's default would destroy the root and end the loop under a running export
            self.root.protocol("WM_DELETE_WINDOW", self._on_delete_window)
            self.root.bind_all("<Destroy>", self._on_destroy, add="+")
        except Exception as exc:
            log.warning("Tk is not available (%s); windows will not open", exc)
            self.root = None
            return
        self._setup_wakeup()

    @classmethod
    def of(cls, widget: Any) -> "UiLoop":
        """The loop serving ``widget``'s Tk root: the tray's, or one adopting a root made elsewhere
        (``raksbl settings``, tests) that runs the queue from that root's own main loop."""
        root = widget._root()
        loop = getattr(root, _LOOP_ATTRIBUTE, None)
        if loop is None:
            loop = cls(poll_ms=50)
            loop._adopt(root)
        return loop

    def _adopt(self, root: Any) -> None:
        self.root = root
        setattr(root, _LOOP_ATTRIBUTE, self)
        self._setup_wakeup(signals=False)
        if self._wake_r is None:
            root.after(self.poll_ms, self._poll)
        root.bind("<Destroy>", self._on_adopted_root_destroyed, add="+")

    def _on_adopted_root_destroyed(self, event: Any) -> None:
        if event.widget is not self.root:
            return
        self._done.set()
        self._close_wakeup()
        self.root = None

    def poster(self, widget: Any) -> Callable[[Callable[[], Any]], None]:
        """``post(fn)`` for a window: runs ``fn`` on the Tk thread, unless ``widget`` is gone by then
        (a look-up answering after its window closed is dropped). Callable from any thread."""

        def run_if_alive(fn: Callable[[], Any]) -> None:
            try:
                alive = bool(widget.winfo_exists())
            except Exception:  # the widget (or Tk) is gone
                alive = False
            if alive:
                fn()

        def post(fn: Callable[[], Any]) -> None:
            self.call(lambda: run_if_alive(fn))

        return post

    def _on_destroy(self, event: Any) -> None:
        # A closed window leaves Tk objects in reference cycles. Collect them here, on the main
        # thread, once Tk is idle: collected later by a worker thread (a settings look-up, a run)
        # their finalisers would call Tcl from that thread, and tkinter can abort the process.
        if event.widget is self.root or self._gc_pending or self.root is None:
            return
        self._gc_pending = True
        self.root.after_idle(self._collect_garbage)

    def _collect_garbage(self) -> None:
        import gc

        self._gc_pending = False
        gc.collect()

    def _on_delete_window(self) -> None:
        log.info("the UI root was asked to close")
        if self.on_close is not None:
            self.on_close()

    def _setup_wakeup(self, signals: bool = True) -> None:
        import tkinter

        if not hasattr(self.root, "createfilehandler") or sys.platform == "win32":
            return
        r, w = os.pipe()
        os.set_blocking(r, False)
        os.set_blocking(w, False)
        try:
            self.root.createfilehandler(r, tkinter.READABLE, self._on_wake)
        except Exception as exc:  # some Tk builds have no file handlers: keep polling
            log.info("Tk file handlers unavailable (%s); polling the UI queue", exc)
            os.close(r)
            os.close(w)
            return
        self._wake_r, self._wake_w = r, w
        if signals and threading.current_thread() is threading.main_thread():
            try:
                self._old_wakeup_fd = signal.set_wakeup_fd(w, warn_on_full_buffer=False)
                self._signals_hooked = True
            except (ValueError, OSError):
                self._old_wakeup_fd = None

    def _on_wake(self, fd: int, _mask: int) -> None:
        try:
            while os.read(fd, 512):
                pass
        except BlockingIOError:
            pass
        except OSError:
            return
        self.drain()

    def call(self, fn: Callable[[], Any]) -> None:
        self._queue.put(fn)
        self._wake()

    def _wake(self) -> None:
        w = self._wake_w
        if w is not None:
            try:
                os.write(w, b"\0")
            except (BlockingIOError, OSError):
                pass  # a full pipe already wakes Tk; a closed one means we are shutting down

    def drain(self) -> int:
        """Run everything queued now (tests, and the Tk wake-up/poller)."""
        count = 0
        while True:
            try:
                fn = self._queue.get_nowait()
            except queue.Empty:
                return count
            if fn is None:
                self._finish()
                return count
            count += 1
            try:
                fn()
            except Exception:
                log.exception("UI task failed")

    def run(self) -> None:
        if self.root is not None:
            if self._wake_r is None:
                self.root.after(self.poll_ms, self._poll)
            else:
                self.drain()  # anything queued before the loop started
            self.root.mainloop()
            self._destroy_root()
            return
        while not self._done.is_set():
            try:
                fn = self._queue.get(timeout=1.0)  # a timeout: Ctrl+C is not delivered into a wait on Windows
            except queue.Empty:
                continue
            if fn is None:
                break
            try:
                fn()
            except Exception:
                log.exception("UI task failed")
        self._done.set()

    def _poll(self) -> None:
        self.drain()
        if not self._done.is_set() and self.root is not None:
            self.root.after(self.poll_ms, self._poll)

    def quit(self) -> None:
        """End :meth:`run` (from any thread)."""
        self.call(None)  # type: ignore[arg-type]

    def _finish(self) -> None:
        self._done.set()
        if self.root is not None:
            self.root.quit()

    def _destroy_root(self) -> None:
        if self._signals_hooked:
            self._signals_hooked = False
            if threading.current_thread() is threading.main_thread():
                try:
                    signal.set_wakeup_fd(self._old_wakeup_fd if self._old_wakeup_fd is not None else -1)
                except (ValueError, OSError):
                    pass
        self._close_wakeup()
        if self.root is not None:
            try:
                self.root.destroy()
            except Exception:
                pass
            self.root = None

    def _close_wakeup(self) -> None:
        if self._wake_r is None:
            return
        try:
            if self.root is not None:
                self.root.deletefilehandler(self._wake_r)
        except Exception:
            pass
        fds = (self._wake_r, self._wake_w)
        self._wake_r = self._wake_w = None  # first: no call() writes into a reused fd number
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass

    @property
    def finished(self) -> bool:
        return self._done.is_set()
