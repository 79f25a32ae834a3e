#!/usr/bin/env bash
# Installs the two registry servers that orchestrator-cli/tests/registries.rs runs on loopback:
# verdaccio (npm registry, pinned by .ci/tools/registries/package-lock.json) and
# cargo-http-registry (a Cargo registry accepting `cargo publish`). Idempotent and fast when both
# are already in the cache, so CI can call it on every run.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tools="${ORCHESTRATOR_TOOLS_DIR:-$HOME/.cache/orchestrator-ci}"

VERDACCIO_VERSION=6.8.0
CARGO_HTTP_REGISTRY_VERSION=0.1.8

# npm: install the locked tree into the cache; redo only when the lockfile changed.
npm_dir="$tools/registries-npm"
lock_sum="$(sha256sum "$here/registries/package-lock.json" | cut -d' ' -f1)"
if [ ! -x "$npm_dir/node_modules/.bin/verdaccio" ] || [ "$(cat "$npm_dir/.lock-sha256" 2>/dev/null)" != "$lock_sum" ]; then
  mkdir -p "$npm_dir"
  cp "$here/registries/package.json" "$here/registries/package-lock.json" "$npm_dir/"
  (cd "$npm_dir" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock_sum" >"$npm_dir/.lock-sha256"
fi
# Read the installed version from its package.json (starting verdaccio takes seconds).
grep -q "\"version\": \"$VERDACCIO_VERSION\"" "$npm_dir/node_modules/verdaccio/package.json" \
  || { echo "registries.sh: verdaccio is not $VERDACCIO_VERSION" >&2; exit 1; }

# crates.io: build once into the cache (the binary is reused across CI runs).
cargo_root="$tools/cargo-http-registry"
if [ ! -x "$cargo_root/bin/cargo-http-registry" ]; then
  # Its own target dir, so it neither pollutes nor locks the workspace's.
  CARGO_TARGET_DIR="$tools/cargo-http-registry-build" \
    cargo install --locked --version "$CARGO_HTTP_REGISTRY_VERSION" --root "$cargo_root" cargo-http-registry
  rm -rf "$tools/cargo-http-registry-build"
fi
echo "registries.sh: verdaccio $VERDACCIO_VERSION and cargo-http-registry $CARGO_HTTP_REGISTRY_VERSION in $tools"
