#!/usr/bin/env bash
# Makes sure the database servers the tests read are up: PostgreSQL on 127.0.0.1:5432 (user
# postgres, trust auth, database `test`) and MariaDB on 127.0.0.1:3306 (root, empty password,
# database `test`). Idempotent: it does nothing when both answer, starts them when installed,
# installs them (Debian packages) when missing. Fails loudly when it cannot.
set -euo pipefail

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

pg_ok() { psql -h 127.0.0.1 -U postgres -d test -Atc 'select 1' >/dev/null 2>&1; }
my_ok() { mariadb -h 127.0.0.1 -P 3306 -u root -e 'select 1' test >/dev/null 2>&1 \
  || mysql -h 127.0.0.1 -P 3306 -u root -e 'select 1' test >/dev/null 2>&1; }

if pg_ok && my_ok; then
  exit 0
fi

apt_updated=
install() {
  if [ -z "$apt_updated" ]; then
    as_root apt-get update -qq
    apt_updated=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

wait_for() { # name, check function
  for _ in $(seq 1 60); do
    if "$2"; then return 0; fi
    sleep 0.5
  done
  echo "services.sh: $1 did not come up" >&2
  return 1
}

# --- PostgreSQL
if ! pg_ok; then
  if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
    echo "services.sh: installing PostgreSQL" >&2
    install postgresql postgresql-client
  fi
  pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  if command -v pg_lsclusters >/dev/null 2>&1 && [ -n "$(pg_lsclusters -h 2>/dev/null)" ]; then
    read -r ver cluster _ < <(pg_lsclusters -h | head -1)
    conf=/etc/postgresql/$ver/$cluster
    # Trust for local TCP connections, as the tests expect.
    if ! grep -q '^host all all 127.0.0.1/32 trust' "$conf/pg_hba.conf"; then
      as_root sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\nlocal all all trust' "$conf/pg_hba.conf"
    fi
    as_root pg_ctlcluster "$ver" "$cluster" start 2>/dev/null || as_root pg_ctlcluster "$ver" "$cluster" reload || true
  else
    data=/var/lib/postgresql/pulse-test
    if [ ! -f "$data/PG_VERSION" ]; then
      as_root mkdir -p "$data"
      as_root chown postgres:postgres "$data"
      as_root su postgres -c "$pgbin/initdb -D $data -A trust -U postgres" >/dev/null
    fi
    as_root su postgres -c "$pgbin/pg_ctl -D $data -l $data/server.log -o '-c listen_addresses=127.0.0.1 -p 5432' start" >/dev/null
  fi
  wait_for_pg() { psql -h 127.0.0.1 -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1; }
  wait_for PostgreSQL wait_for_pg
  psql -h 127.0.0.1 -U postgres -d postgres -Atc "select 1 from pg_database where datname = 'test'" | grep -q 1 \
    || psql -h 127.0.0.1 -U postgres -d postgres -qc 'create database test'
fi

# --- MariaDB
if ! my_ok; then
  if ! command -v mariadbd >/dev/null 2>&1 && ! command -v mysqld >/dev/null 2>&1 \
     && [ ! -x /usr/sbin/mariadbd ] && [ ! -x /usr/sbin/mysqld ]; then
    echo "services.sh: installing MariaDB" >&2
    install mariadb-server mariadb-client
  fi
  if ! (mariadb -u root -e 'select 1' >/dev/null 2>&1); then
    as_root mkdir -p /run/mysqld
    as_root chown mysql:mysql /run/mysqld 2>/dev/null || true
    if command -v service >/dev/null 2>&1; then
      as_root service mariadb start >/dev/null 2>&1 || as_root service mysql start >/dev/null 2>&1 || true
    fi
    if ! (mariadb -u root -e 'select 1' >/dev/null 2>&1); then
      (as_root mysqld_safe --bind-address=127.0.0.1 --port=3306 >/dev/null 2>&1 &)
    fi
  fi
  wait_for_my_socket() { as_root mariadb -u root -e 'select 1' >/dev/null 2>&1; }
  wait_for "MariaDB (socket)" wait_for_my_socket
  # root over TCP with an empty password, and the test database.
  as_root mariadb -u root -e "
    CREATE DATABASE IF NOT EXISTS test;
    ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('') OR unix_socket;
    CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
    GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
    FLUSH PRIVILEGES;" 
  wait_for MariaDB my_ok
fi

pg_ok || { echo "services.sh: PostgreSQL at 127.0.0.1:5432 (database test) is not reachable" >&2; exit 1; }
my_ok || { echo "services.sh: MariaDB at 127.0.0.1:3306 (database test) is not reachable" >&2; exit 1; }
