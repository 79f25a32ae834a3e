#!/usr/bin/env bash
# Runs `orchestrator $ORCHESTRATOR_COMMAND --output json` and exposes its results as step outputs:
# the command itself appends status/released/failed/... to $GITHUB_OUTPUT; this adds the whole JSON
# report as `json` (GitHub's multi-line delimiter form) and keeps the command's exit code.
set -euo pipefail

read -r -a words <<<"${ORCHESTRATOR_COMMAND:?the command input is empty}"
if [ -n "${ORCHESTRATOR_STATE_DIR_INPUT:-}" ]; then
  export ORCHESTRATOR_STATE_DIR="$ORCHESTRATOR_STATE_DIR_INPUT"
fi
report="$(mktemp)"
trap 'rm -f "$report"' EXIT
status=0
orchestrator --output json "${words[@]}" >"$report" || status=$?
cat "$report"
if [ -n "${GITHUB_OUTPUT:-}" ]; then
  random=$(od -An -N16 -tx1 /dev/urandom | tr -d '[:space:]')
  delimiter="ORCHESTRATOR_JSON_$random"
  {
    echo "json<<$delimiter"
    cat "$report"
    echo
    echo "$delimiter"
  } >>"$GITHUB_OUTPUT"
fi
exit "$status"
