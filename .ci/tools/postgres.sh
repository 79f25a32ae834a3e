#!/usr/bin/env bash
# PostgreSQL for the state-store tests (the PostgreSQL backend's conformance, lock, crash and
# multi-process tests) and the journal benchmark.
#
# Idempotent and fast when installed: Debian's `postgresql` package is installed only when no
# `initdb` exists; then `<tools>/postgres/bin` is pointed at the server binaries, which is where
# the tests look (`orchestrator_core::testing`). Tests start their own throwaway cluster; nothing
# is started here.
set -euo pipefail

tools="${ORCHESTRATOR_TOOLS_DIR:-$HOME/.cache/orchestrator-ci}"
find_bin() {
    # The newest installed major version's binaries.
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

bin="$(find_bin || true)"
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    echo "postgres.sh: installing Debian's postgresql" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq postgresql >/dev/null
    bin="$(find_bin)"
fi
[ -x "$bin/initdb" ] || { echo "postgres.sh: no initdb after installing postgresql" >&2; exit 1; }

mkdir -p "$tools/postgres"
ln -sfn "$bin" "$tools/postgres/bin"
# Root cannot run initdb: the tests run the server as `postgres`, which the package creates.
if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
    echo "postgres.sh: the postgres user is missing" >&2
    exit 1
fi
echo "postgres.sh: $("$tools/postgres/bin/postgres" --version) at $tools/postgres/bin" >&2
