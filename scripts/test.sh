#!/usr/bin/env bash
# Set up (if needed) and run every test: unit, integration and browser end-to-end.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --browser
# Unit and integration tests on both cores; then the browser tests alone, as a user's page
# would load on a quiet machine (the plots' widgets must start within anywidget's 2 s, which a
# page loading beside a training or FEFF test on the other core can miss).
.venv/bin/python -m pytest -q -n 2 --dist loadfile -m "not browser" tests "$@"
exec .venv/bin/python -m pytest -q -m browser tests "$@"
