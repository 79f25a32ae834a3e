#!/usr/bin/env bash
# Headless Chromium and its WebDriver server for the dashboard's browser test
# (orchestrator-serve/tests/browser.rs). Debian's `chromium` and `chromium-driver` packages, installed
# only when a binary is missing; the test finds them on PATH (or in $ORCHESTRATOR_TOOLS_DIR/chromium,
# where this script links them). Idempotent and fast once installed.
set -euo pipefail

tools="${ORCHESTRATOR_TOOLS_DIR:-$HOME/.cache/orchestrator-ci}/chromium"

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium chromium-driver
fi

mkdir -p "$tools"
ln -sf "$(command -v chromium)" "$tools/chromium"
ln -sf "$(command -v chromedriver)" "$tools/chromedriver"
"$tools/chromedriver" --version
