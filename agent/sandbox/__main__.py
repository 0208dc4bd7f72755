"""``python -m agent.sandbox``: run the BaseLinker sandbox in the foreground."""

from agent.sandbox import main

raise SystemExit(main())
