#!/usr/bin/env bash
# Start a throw-away PostgreSQL server on 127.0.0.1 for the tests, owned by this run.
# Usage: eval "$(bash scripts/pg-start.sh DIR)"   → exports UNITRACE_TEST_PG_URL and PG_STOP
# Installs PostgreSQL with apt-get when it is missing and we are root. PostgreSQL refuses to
# run as root, so as root the cluster belongs to an unprivileged user (`unitrace-pg`).
set -euo pipefail
dir="${1:?usage: pg-start.sh DIR}"
find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
bin="$(find_bin)"
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing postgresql with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
    bin="$(find_bin)"
  else
    echo "PostgreSQL is not installed: apt-get install postgresql (as root)" >&2
    exit 1
  fi
fi
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
run_as=()
if [ "$(id -u)" = 0 ]; then
  id unitrace-pg >/dev/null 2>&1 || useradd --system --no-create-home unitrace-pg
  chown unitrace-pg "$dir"
  chmod 755 "$dir"
  run_as=(runuser -u unitrace-pg --)
fi
port="${UNITRACE_PG_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}"
"${run_as[@]}" "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1
"${run_as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
  -o "-h 127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start >&2
"$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -q -c "CREATE DATABASE unitrace_test" >&2
echo "export UNITRACE_TEST_PG_URL='postgresql+psycopg://postgres@127.0.0.1:$port/unitrace_test'"
echo "export PG_STOP='${run_as[*]} $bin/pg_ctl -D $dir/data -m fast stop'"
