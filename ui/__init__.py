"""The tray agent's user interface (pystray icon, notifications, later the Tk dialogs).

Depends on :mod:`agent`; nothing in :mod:`agent` imports from here.
"""
