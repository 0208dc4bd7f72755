"""raksbl headless core: RaksSQL sales documents → BaseLinker orders, exactly once.

Nothing in this package imports a GUI toolkit; the tray and dialogs in ``ui`` subscribe to the
events published by :mod:`agent.export.events`.
"""

__version__ = "0.1.0"
