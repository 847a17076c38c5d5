#!/usr/bin/env bash
# Create .venv (if missing) and install enricher with its dev tools into it, at the exact
# versions of requirements.lock (pyproject.toml keeps the ranges library users get).
# Idempotent: a second run only checks that everything is installed; a change to
# pyproject.toml or to the lock reinstalls.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed-$(cat pyproject.toml requirements.lock | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -c requirements.lock -e '.[dev]'
    rm -f .venv/.installed-*
    touch "$stamp"
fi
