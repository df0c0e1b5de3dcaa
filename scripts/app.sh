#!/usr/bin/env bash
# Set up (if needed) and serve the dashboard with voila on http://127.0.0.1:8866
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# voila.json (read from this folder) pre-heats a kernel: it runs the notebook before the first
# visitor arrives, and again for the next one; idle kernels are culled.
exec .venv/bin/voila app.ipynb --no-browser --Voila.ip=127.0.0.1 "$@"
