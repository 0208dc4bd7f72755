#!/usr/bin/env bash
# Quick start 2/2: the whole test suite (real Firebird server over TCP, the BaseLinker sandbox over
# HTTP, a real X server for the UI). The fixtures start what they need. Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap.sh test
exec .venv/bin/python -m pytest "$@"
