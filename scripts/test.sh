#!/usr/bin/env bash
# Runs every test of the workspace. This is the README's test command and what CI calls.
# It installs or starts what the tests need, so it works on a fresh machine too.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is required: install Rust with rustup first" >&2
  exit 1
fi

# PostgreSQL and MariaDB for the connector tests: started or installed when not running.
bash scripts/services.sh

# Headless Chromium for the web UI tests (Debian's package).
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  as_root=""; [ "$(id -u)" = 0 ] || as_root=sudo
  $as_root apt-get update -qq
  $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

cargo test --workspace --locked "$@"
