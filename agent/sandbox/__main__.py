"""``python -m agent.baselinker.sandbox``: run the BaseLinker sandbox in the foreground."""

from agent.baselinker.sandbox import main

raise SystemExit(main())
