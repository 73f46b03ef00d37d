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
# Browser tests: Debian's Chromium (never a downloaded browser) and CJK fonts for the pages.
if [ ! -x /usr/bin/chromium ] || [ ! -d /usr/share/fonts/opentype/noto ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing chromium and fonts-noto-cjk with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq chromium fonts-noto-cjk >&2
  else
    echo "browser tests need: apt-get install chromium fonts-noto-cjk" >&2
  fi
fi
[ -x /usr/bin/chromium ] && export UNITRACE_REQUIRE_E2E=1
.venv/bin/python -m pytest "$@"
