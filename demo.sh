#!/usr/bin/env bash
# Quick start 1/2: build the demo company database (embedded Firebird, WIN1250), start the local
# BaseLinker sandbox with matching orders, run one export and print what happened.
set -euo pipefail
cd "$(dirname "$0")"
scripts/bootstrap.sh demo
exec .venv/bin/raksbl demo "$@"
