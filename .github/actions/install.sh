#!/usr/bin/env bash
# Installs orchestrator $ORCHESTRATOR_VERSION for this runner and puts it on PATH ($GITHUB_PATH).
#
# 1. Picks the release archive for the OS/arch (Linux musl x86_64/aarch64, macOS x86_64/arm64).
# 2. Downloads it from ${ORCHESTRATOR_DOWNLOAD_BASE:-https://github.com/$ORCHESTRATOR_REPOSITORY/releases/download}
#    (https; file:// for a mirror on disk; http only to a loopback host) and verifies its SHA-256: against $ORCHESTRATOR_SHA256 when given, else the release's
#    SHA256SUMS. A mismatch is fatal (never "fall back" past a bad checksum).
# 3. When there is no archive for this platform or the download fails, installs the same version
#    with `cargo install --locked orchestrator-cli` instead (slow, but from crates.io's checksums).
# Idempotent: an install of the same version is reused.
set -euo pipefail

version="${ORCHESTRATOR_VERSION:?ORCHESTRATOR_VERSION is required}"
version="${version#v}"
if ! [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]]; then
  echo "::error::orchestrator version '$version' is not a semantic version (e.g. 0.1.0)" >&2
  exit 2
fi
repository="${ORCHESTRATOR_REPOSITORY:-orchestrator-rs/orchestrator}"
base="${ORCHESTRATOR_DOWNLOAD_BASE:-https://github.com/$repository/releases/download}"
root="${ORCHESTRATOR_INSTALL_ROOT:-${RUNNER_TOOL_CACHE:-$HOME/.cache}/orchestrator/$version}"
bin="$root/bin"

add_to_path() {
  if [ -n "${GITHUB_PATH:-}" ]; then
    echo "$bin" >>"$GITHUB_PATH"
  fi
  echo "orchestrator $version: $bin/orchestrator"
}

if [ -x "$bin/orchestrator" ] && "$bin/orchestrator" --version 2>/dev/null | grep -qF " $version"; then
  add_to_path
  exit 0
fi

case "$(uname -s)/$(uname -m)" in
  Linux/x86_64) target=x86_64-unknown-linux-musl ;;
  Linux/aarch64 | Linux/arm64) target=aarch64-unknown-linux-musl ;;
  Darwin/x86_64) target=x86_64-apple-darwin ;;
  Darwin/arm64) target=aarch64-apple-darwin ;;
  *) target="" ;;
esac

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  else
    shasum -a 256 "$1" | cut -d' ' -f1
  fi
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$bin"

# Downloads are https (or file:// for a mirror on disk). Plain http is allowed only to a loopback
# host: a rehearsal against `orchestrator mock-forge`, never across a network.
proto='=https,file'
case "$base" in
  http://127.0.0.1:* | http://localhost:* | http://\[::1\]:*) proto='=https,http,file' ;;
esac

archive="orchestrator-$version-$target.tar.gz"
if [ -n "$target" ] &&
  curl --fail --silent --show-error --location --proto "$proto" --proto-redir '=https' --retry 3 \
    --output "$work/$archive" "$base/v$version/$archive"; then
  expected="${ORCHESTRATOR_SHA256:-}"
  if [ -z "$expected" ]; then
    curl --fail --silent --show-error --location --proto "$proto" --proto-redir '=https' --retry 3 \
      --output "$work/SHA256SUMS" "$base/v$version/SHA256SUMS"
    expected="$(awk -v name="$archive" '$2 == name || $2 == "*" name { print $1 }' "$work/SHA256SUMS")"
    if [ -z "$expected" ]; then
      echo "::error::SHA256SUMS of orchestrator v$version has no line for $archive" >&2
      exit 1
    fi
  fi
  actual="$(sha256_of "$work/$archive")"
  if [ "$actual" != "$expected" ]; then
    echo "::error::checksum mismatch for $archive: expected $expected, got $actual; not installing" >&2
    exit 1
  fi
  tar -xzf "$work/$archive" -C "$work"
  install -m 0755 "$work/orchestrator-$version-$target/orchestrator" "$bin/orchestrator"
else
  echo "::warning::no orchestrator v$version release archive for $(uname -s)/$(uname -m); building it with cargo install --locked" >&2
  cargo install --locked --root "$root" --version "$version" orchestrator-cli
fi
add_to_path
