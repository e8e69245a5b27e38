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

# Debian packages the tests drive for real: headless Chromium (web UI tests), promtool (the
# /metrics exposition is checked with it), aiosmtpd (the SMTP server alert mails go to), and
# the warehouse endpoint's clients: psql and the PostgreSQL JDBC driver (run with Java).
missing=()
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || missing+=(chromium)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
python3 -c "import aiosmtpd" >/dev/null 2>&1 || missing+=(python3-aiosmtpd)
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jdk-headless)
[ -f /usr/share/java/postgresql.jar ] || missing+=(libpostgresql-jdbc-java)
if [ "${#missing[@]}" -gt 0 ]; then
  as_root=""; [ "$(id -u)" = 0 ] || as_root=sudo
  $as_root apt-get update -qq
  $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Python's psycopg 3 for the warehouse endpoint's tests (from PyPI: Debian's is psycopg2).
python3 -c "import psycopg" >/dev/null 2>&1 || python3 -m pip install --quiet "psycopg[binary]"

cargo test --workspace --locked "$@"
