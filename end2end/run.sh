#!/usr/bin/env bash
# Starts the built server on a free port (SQLite, then PostgreSQL when E2E_POSTGRES_URL is set), runs the
# Playwright tests in Debian's Chromium against it, and stops the server by its PID.
#
# Each spec file gets a server process of its own (on the same database): every browser here comes from 127.0.0.1,
# and the per-client limits (anonymous POSTs per minute, mail per client per hour) are per process and stay at
# their production values, so one file's users do not use up the next file's allowance.
set -euo pipefail
cd "$(dirname "$0")"
bin="${PORTCULLIS_BIN:-${CARGO_TARGET_DIR:-../target}/debug/portcullis}"
[[ "$bin" = /* ]] || bin="$PWD/$bin"
[[ -x "$bin" ]] || { echo "no server binary at $bin: run scripts/build.sh first" >&2; exit 1; }
[[ -d node_modules/@playwright/test ]] || PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error

# Arguments pick spec files by name (e.g. `settings`); none runs them all.
specs=()
for f in tests/*.spec.mjs; do
  name=$(basename "$f" .spec.mjs)
  if (( $# == 0 )); then specs+=("$f"); else for a in "$@"; do [[ "$name" == *"$a"* ]] && specs+=("$f") && break; done; fi
done
(( ${#specs[@]} > 0 )) || { echo "no spec file matches: $*" >&2; exit 1; }
server_pid=
work=$(mktemp -d /tmp/portcullis-e2e.XXXXXX)
stop_server() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid"
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=
}
trap 'stop_server; rm -rf "$work"' EXIT

run_spec() {
  local label=$1 database_url=$2 spec=$3
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  echo "==> $spec on $label (http://localhost:$port)"
  (cd "$work" && exec env APP_ENV=development DATABASE_URL="$database_url" BIND_ADDR="127.0.0.1:$port" \
    BASE_URL="http://localhost:$port" MAIL_TRANSPORT=dev RUST_LOG=warn "$bin" serve) >"$work/server-$label.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/server-$label.log"; exit 1; }
    sleep 0.1
  done
  if ! E2E_BASE_URL="http://localhost:$port" npx playwright test "$spec"; then
    echo "---- server log ($label) ----"; tail -50 "$work/server-$label.log"
    exit 1
  fi
  stop_server
}

run_against() {
  local spec
  for spec in "${specs[@]}"; do run_spec "$1" "$2" "$spec"; done
}

run_against sqlite "sqlite://$work/e2e.db"
if [[ -n "${E2E_POSTGRES_URL:-}" ]]; then
  db="portcullis_e2e_$(date +%s)"
  psql -q "$E2E_POSTGRES_URL" -c "CREATE DATABASE $db"
  run_against postgres "${E2E_POSTGRES_URL%/*}/$db"
fi
