"""The UI loop sleeps while idle (no Tk timer polling) and still wakes at once for a call from
another thread or a signal (16 "Quiet": the idle tray used 0.4 % CPU polling every 100 ms)."""

from __future__ import annotations

import gc
import os
import signal
import threading
import tkinter

import pytest

from ui.uiloop import UiLoop

pytestmark = pytest.mark.ui

WAIT = 30.0


def test_idle_loop_has_no_timer_and_wakes_for_calls_and_signals(display):
    loop = UiLoop()
    loop.start()
    assert loop.root is not None
    ran = []
    got_signal = threading.Event()
    previous = signal.signal(signal.SIGUSR1, lambda *a: got_signal.set())
    try:
        def check_idle_then_call():
            # inside the running loop: nothing scheduled with `after` (no polling)
            ran.append(loop.root.tk.call("after", "info"))
            threading.Thread(target=lambda: loop.call(lambda: os.kill(os.getpid(), signal.SIGUSR1))).start()

        def wait_signal_then_quit():
            assert got_signal.wait(WAIT)
            loop.quit()

        loop.call(check_idle_then_call)
        # the signal handler must run although Tk sleeps in C: then the loop is told to end
        threading.Thread(target=wait_signal_then_quit, daemon=True).start()
        done = threading.Event()
        watchdog = threading.Timer(WAIT, lambda: (done.is_set() or loop.quit()))
        watchdog.start()
        loop.run()
        done.set()
        watchdog.cancel()
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert ran == [""]  # `after info` lists no pending timer
    assert got_signal.is_set()
    assert loop.finished and loop.root is None
    assert signal.set_wakeup_fd(-1) == -1  # the wake-up fd was handed back
    del loop
    gc.collect()  # Tk objects are finalised here, on the main thread (see conftest.root)


def test_closing_the_root_asks_the_agent_to_quit_instead_of_ending_the_loop(display):
    loop = UiLoop()
    loop.start()
    asked = []
    loop.on_close = lambda: asked.append(1)
    try:
        command = loop.root.protocol("WM_DELETE_WINDOW")
        loop.root.tk.call(command)  # what Tk runs on WM_CLOSE (e.g. `taskkill /IM raksbl.exe`)
        assert asked == [1]
        assert loop.root.winfo_exists()  # not destroyed: the agent decides when to end
    finally:
        loop._destroy_root()
        del loop
        gc.collect()


def test_a_closed_window_is_collected_on_the_main_thread(display, monkeypatch):
    """Tk garbage of a closed window is collected by the UI thread, not left for a worker."""
    import tkinter

    loop = UiLoop()
    loop.start()
    collected_on = []
    real_collect = gc.collect
    monkeypatch.setattr(gc, "collect", lambda *a: collected_on.append(threading.current_thread()) or real_collect(*a))

    def open_and_close():
        top = tkinter.Toplevel(loop.root)
        tkinter.StringVar(master=top, value="x")
        top.destroy()
        loop.root.after_idle(lambda: loop.root.after_idle(loop.quit))  # after the collection

    loop.call(open_and_close)
    watchdog = threading.Timer(WAIT, loop.quit)
    watchdog.start()
    try:
        loop.run()
    finally:
        watchdog.cancel()
    assert collected_on and all(t is threading.main_thread() for t in collected_on)
    assert len(collected_on) == 1  # one collection per burst of destroyed widgets


def test_a_window_gets_results_through_the_one_ui_queue_and_none_after_it_closed(root):
    """A root made elsewhere (``raksbl settings``, these tests) is adopted by one UiLoop: a worker's
    result reaches the Tk thread through its queue and wake-up pipe; once the window is gone a late
    result is dropped; destroying the root closes the pipe."""
    loop = UiLoop.of(root)
    assert UiLoop.of(root) is loop  # one queue per Tk root
    top = tkinter.Toplevel(root)
    post = loop.poster(top)
    ran, timed_out = [], []
    worker = threading.Thread(target=lambda: post(lambda: ran.append(threading.current_thread().name)),
                              name="raksbl-worker")
    worker.start()
    worker.join()
    watchdog = threading.Timer(WAIT, lambda: loop.call(lambda: timed_out.append(1)))
    watchdog.start()
    try:
        while not ran and not timed_out:
            root.tk.dooneevent(0)  # blocks until an event: the pipe wakes Tk (no polling)
    finally:
        watchdog.cancel()
    assert ran == [threading.main_thread().name]
    top.destroy()
    post(lambda: ran.append("late"))
    loop.drain()
    assert ran == [threading.main_thread().name]  # the window was gone: its late result dropped
    fds = (loop._wake_r, loop._wake_w)
    assert None not in fds
    root.destroy()
    for fd in fds:
        with pytest.raises(OSError):
            os.fstat(fd)
