#!/usr/bin/env bash
# A private PostgreSQL cluster on loopback for the test suite.
#   source scripts/postgres.sh start   # exports TEST_POSTGRES_URL
#   scripts/postgres.sh stop
# Installs Debian's server when it is missing (CI machines), and runs it as the
# postgres user when we are root (the server refuses to run as root).
set -euo pipefail

PG_PORT=${PG_PORT:-55432}
PG_DIR=${PG_DIR:-/tmp/enricher-pg-$PG_PORT}

_pg_bin() {
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

_as_owner() {
    if [ "$(id -u)" = 0 ]; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

pg_start() {
    local bin
    bin=$(_pg_bin)
    if [ -z "$bin" ]; then
        echo "== installing postgresql"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
        bin=$(_pg_bin)
    fi
    if [ -f "$PG_DIR/postmaster.pid" ]; then
        _as_owner "$bin/pg_ctl" -D "$PG_DIR" stop -m immediate >/dev/null 2>&1 || true
    fi
    rm -rf "$PG_DIR"
    mkdir -p "$PG_DIR"
    if [ "$(id -u)" = 0 ]; then chown postgres "$PG_DIR"; fi
    _as_owner "$bin/initdb" -D "$PG_DIR" -A trust -U postgres -E UTF8 >/dev/null
    _as_owner "$bin/pg_ctl" -D "$PG_DIR" -l "$PG_DIR/server.log" -w -t 60 start -o \
        "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off \
         -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" >/dev/null
    export TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
    export TEST_POSTGRES_BIN="$bin" TEST_POSTGRES_DATA="$PG_DIR" TEST_POSTGRES_PORT="$PG_PORT"
    echo "== postgres $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT"
}

pg_stop() {
    local bin
    bin=$(_pg_bin)
    if [ -n "$bin" ] && [ -f "$PG_DIR/postmaster.pid" ]; then
        _as_owner "$bin/pg_ctl" -D "$PG_DIR" stop -m fast >/dev/null 2>&1 || true
    fi
    rm -rf "$PG_DIR"
}

case "${1:-}" in
    start) pg_start ;;
    stop) pg_stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
