#!/usr/bin/env bash
# Create .venv with xanesviz and its dependencies (idempotent). Debian's chromium is
# installed too when the tests need it: pass --browser.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
if [ ! -x .venv/bin/python ]; then
    if ! "$PYTHON" -m venv .venv 2>/dev/null; then  # Debian ships venv separately
        rm -rf .venv
        $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null
        "$PYTHON" -m venv .venv
    fi
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
if [ "${1:-}" = "--browser" ] && ! command -v chromium >/dev/null 2>&1; then
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
# plotly's widget module where voila.json lets voila serve it: the dashboard's page starts loading
# it while the kernel builds the dashboard (xanesviz/app/plotly_import.py)
.venv/bin/python -c "from xanesviz.app.plotly_import import link_widget_module; link_widget_module()" || true
