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
# The browser tests drive Debian's chromium through Playwright (no browser download).
if [ ! -x /usr/bin/chromium ]; then
    echo "== installing chromium"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi
source scripts/postgres.sh start
trap 'bash scripts/postgres.sh stop' EXIT
echo "== pytest"
# Several processes (pytest-xdist): most tests wait on worker subprocesses, simulated
# latency and timeouts rather than on the CPU, so on CI's two cores more processes than
# cores finish first. worksteal moves queued tests off a process held by a long one.
# Each process has its own template database and every test its own database, folder
# and ports (docs/architecture.md, Testing). Arguments come last and win: `-n0` runs
# the suite in one process.
.venv/bin/pytest -q -p no:cacheprovider -n 4 --dist worksteal "$@"
