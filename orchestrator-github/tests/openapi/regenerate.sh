#!/usr/bin/env bash
# Regenerates github-subset.json: the part of GitHub's published OpenAPI description
# (@octokit/openapi, pinned in .ci/tools/npm-octokit/package.json) that describes the operations
# the mock GitHub serves (operations.txt), so the conformance test (../mock_openapi.rs) runs
# offline. Needs node and the package: run .ci/tools/npm-octokit.sh first.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tools="${ORCHESTRATOR_TOOLS_DIR:-$HOME/.cache/orchestrator-ci}/npm-octokit"
spec="$tools/node_modules/@octokit/openapi"
if [ ! -f "$spec/generated/api.github.com.json" ]; then
  echo "regenerate.sh: @octokit/openapi not installed (run .ci/tools/npm-octokit.sh)" >&2
  exit 1
fi
node "$here/extract.mjs" "$spec" "$here/operations.txt" > "$here/github-subset.json.tmp"
mv "$here/github-subset.json.tmp" "$here/github-subset.json"
echo "regenerate.sh: wrote $here/github-subset.json"
