#!/usr/bin/env bash
# The whole test suite: lint, types, then every test (SQLite and a private
# PostgreSQL cluster, started here and stopped on exit). What CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
echo "== ruff"
.venv/bin/ruff check .
echo "== mypy --strict"
.venv/bin/mypy
source scripts/postgres.sh start
trap 'bash scripts/postgres.sh stop' EXIT
echo "== pytest"
.venv/bin/pytest -q -p no:cacheprovider "$@"
