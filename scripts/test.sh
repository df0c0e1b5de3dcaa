#!/usr/bin/env bash
# Set up (if needed) and run every test: unit, integration and browser end-to-end.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --browser
exec .venv/bin/python -m pytest -q -n 2 --dist loadfile tests "$@"
