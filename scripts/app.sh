#!/usr/bin/env bash
# Set up (if needed) and serve the dashboard with voila on http://127.0.0.1:8866
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# A pre-heated kernel runs the notebook before the first visitor arrives (faster first page).
exec .venv/bin/voila app.ipynb --no-browser --Voila.ip=127.0.0.1 --preheat_kernel=True --pool_size=1 "$@"
