#!/usr/bin/env bash
# Installs the pinned npm packages the webhook conformance tests use: @octokit/webhooks-schemas
# (JSON Schema of every GitHub webhook payload, which validates what the mock GitHub delivers:
# orchestrator-github/tests/mock_webhooks.rs) and @octokit/webhooks-examples (real payloads
# GitHub sent, which `orchestrator serve`'s intake must parse: orchestrator-serve/tests/
# webhook_examples.rs). Idempotent and fast when already installed.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dest="${ORCHESTRATOR_TOOLS_DIR:-$HOME/.cache/orchestrator-ci}/npm-webhooks"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  if ! command -v apt-get >/dev/null; then
    echo "npm-webhooks.sh: node and npm are needed (no apt-get to install them)" >&2
    exit 1
  fi
  apt-get install -y nodejs npm >/dev/null
fi
mkdir -p "$dest"
# Installed already from this very lock file: nothing to do.
if [ -f "$dest/package-lock.json" ] && cmp -s "$here/npm-webhooks/package-lock.json" "$dest/package-lock.json" \
  && [ -f "$dest/node_modules/@octokit/webhooks-schemas/schema.json" ] \
  && [ -d "$dest/node_modules/@octokit/webhooks-examples" ]; then
  exit 0
fi
cp "$here/npm-webhooks/package.json" "$here/npm-webhooks/package-lock.json" "$dest/"
(cd "$dest" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
echo "npm-webhooks.sh: installed @octokit/webhooks-schemas and @octokit/webhooks-examples into $dest"
