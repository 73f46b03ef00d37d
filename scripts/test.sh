#!/usr/bin/env bash
# Install unitrace with its test tools into .venv, start a throw-away PostgreSQL on 127.0.0.1,
# and run the whole test suite on SQLite and PostgreSQL. Extra arguments go to pytest,
# e.g. `bash scripts/test.sh -m "not slow"` or `bash scripts/test.sh tests/unit`.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e '.[dev]'
work="$(mktemp -d -t unitrace-test.XXXXXX)"
chmod 755 "$work"  # the PostgreSQL user (not root) must reach its data folder
PG_STOP=""
cleanup() {
  if [ -n "$PG_STOP" ]; then $PG_STOP >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
eval "$(bash scripts/pg-start.sh "$work/pg")"
export UNITRACE_REQUIRE_PG=1
.venv/bin/python -m pytest "$@"
