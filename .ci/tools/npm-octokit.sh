#!/usr/bin/env bash
# Installs the pinned npm packages the mock GitHub's conformance tests use: @octokit/openapi
# (GitHub's published OpenAPI description, from which orchestrator-github/tests/openapi/ is
# regenerated) and @octokit/rest (the official client driven against the mock by
# orchestrator-github/tests/octokit_flow.rs). Idempotent and fast when already installed.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dest="${ORCHESTRATOR_TOOLS_DIR:-$HOME/.cache/orchestrator-ci}/npm-octokit"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  if ! command -v apt-get >/dev/null; then
    echo "npm-octokit.sh: node and npm are needed (no apt-get to install them)" >&2
    exit 1
  fi
  apt-get install -y nodejs npm >/dev/null
fi
mkdir -p "$dest"
# Installed already from this very lock file: nothing to do.
if [ -f "$dest/package-lock.json" ] && cmp -s "$here/npm-octokit/package-lock.json" "$dest/package-lock.json" \
  && [ -d "$dest/node_modules/@octokit/rest" ] && [ -d "$dest/node_modules/@octokit/openapi" ]; then
  exit 0
fi
cp "$here/npm-octokit/package.json" "$here/npm-octokit/package-lock.json" "$dest/"
(cd "$dest" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
echo "npm-octokit.sh: installed @octokit/openapi and @octokit/rest into $dest"
