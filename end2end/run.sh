#!/usr/bin/env bash
# Starts the built server on a free port (SQLite, then PostgreSQL when E2E_POSTGRES_URL is set), runs the
# Playwright tests in Debian's Chromium against it, and stops the server by its PID.
#
# Each spec file gets a server process of its own (on the same database): every browser here comes from 127.0.0.1,
# and the per-client limits (POSTs per minute, mail per client per hour) are per process and stay at their
# production values, so one file's users do not use up the next file's allowance. A spec that stands for several
# devices gives each its own client address (helpers.mjs `newDevice`: an X-Forwarded-For header, believed because
# the server trusts 127.0.0.1 as its proxy, as it would a reverse proxy in front of it).
set -euo pipefail
cd "$(dirname "$0")"
source ../scripts/project.sh
bin="${PORTCULLIS_BIN:-${CARGO_TARGET_DIR:-../target}/debug/$PROJECT}"
[[ "$bin" = /* ]] || bin="$PWD/$bin"
[[ -x "$bin" ]] || { echo "no server binary at $bin: run scripts/build.sh first" >&2; exit 1; }
[[ -d node_modules/@playwright/test && -d node_modules/openid-client ]] || PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error

# Arguments pick spec files by name (e.g. `settings`); none runs them all.
specs=()
for f in tests/*.spec.mjs; do
  name=$(basename "$f" .spec.mjs)
  if (( $# == 0 )); then specs+=("$f"); else for a in "$@"; do [[ "$name" == *"$a"* ]] && specs+=("$f") && break; done; fi
done
(( ${#specs[@]} > 0 )) || { echo "no spec file matches: $*" >&2; exit 1; }
server_pid=
oidc_pid=
work=$(mktemp -d /tmp/portcullis-e2e.XXXXXX)
stop_server() {
  local pid
  for pid in "$server_pid" "$oidc_pid"; do
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
      kill "$pid"
      wait "$pid" 2>/dev/null || true
    fi
  done
  server_pid=
  oidc_pid=
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
[[ -d oidc/node_modules/oidc-provider ]] || (cd oidc && npm ci --no-audit --no-fund --loglevel=error)
trap 'stop_server; rm -rf "$work"' EXIT

# Starts the loopback OpenID provider and waits until it says it listens (up to 60 s: under load, node takes a
# while to load oidc-provider). A provider that exits or never gets ready fails the run with its log.
start_oidc() {
  local clients=$1 oidc_port=$2
  OIDC_PORT=$oidc_port OIDC_CLIENTS="$clients" OIDC_REQUIRE_PKCE=1 node oidc/provider.mjs >"$work/oidc.log" 2>&1 &
  oidc_pid=$!
  for _ in $(seq 1 600); do
    grep -q "OIDC provider ready" "$work/oidc.log" 2>/dev/null && return 0
    kill -0 "$oidc_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "---- the OpenID provider did not start ----"; cat "$work/oidc.log"
  kill "$oidc_pid" 2>/dev/null && wait "$oidc_pid" 2>/dev/null
  oidc_pid=
  return 1
}

run_spec() {
  local label=$1 database_url=$2 spec=$3
  local port oidc_port
  port=$(free_port)
  # The OpenID provider on loopback, as a generic OIDC issuer ("Test SSO") and, through its plain OAuth 2.0
  # endpoints, as "GitHub". A free port can be taken between the check and the provider's bind: then it exits
  # ("cannot listen") and is started again on another port.
  local clients="[{\"client_id\":\"portcullis\",\"client_secret\":\"s3cret\",\"redirect_uris\":[\"http://localhost:$port/auth/oidc/callback\",\"http://localhost:$port/auth/github/callback\"]}]"
  local attempt
  for attempt in 1 2 3; do
    oidc_port=$(free_port)
    [[ "$oidc_port" == "$port" ]] && oidc_port=$(free_port)
    start_oidc "$clients" "$oidc_port" && break
    (( attempt < 3 )) || exit 1
  done
  local issuer="http://localhost:$oidc_port"
  echo "==> $spec on $label (http://localhost:$port, OpenID provider $issuer)"
  (cd "$work" && exec env APP_ENV=development DATABASE_URL="$database_url" BIND_ADDR="127.0.0.1:$port" \
    BASE_URL="http://localhost:$port" MAIL_TRANSPORT=dev RUST_LOG=warn TRUSTED_PROXIES=127.0.0.1 \
    OIDC_ISSUER="$issuer" OIDC_CLIENT_ID=portcullis OIDC_CLIENT_SECRET=s3cret OIDC_NAME="Test SSO" \
    GITHUB_CLIENT_ID=portcullis GITHUB_CLIENT_SECRET=s3cret GITHUB_AUTH_URL="$issuer/auth" \
    GITHUB_TOKEN_URL="$issuer/token" GITHUB_USER_URL="$issuer/me" GITHUB_EMAILS_URL=none \
    GITHUB_SCOPES="openid email profile" "$bin" serve) >"$work/server-$label.log" 2>&1 &
  server_pid=$!
  local up=
  for _ in $(seq 1 600); do
    curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && { up=1; break; }
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  [[ -n "$up" ]] || { echo "---- the server did not start ($label) ----"; cat "$work/server-$label.log"; exit 1; }
  # The admin spec grants the role the way an operator does: the same binary's `admin grant`, on the same database.
  if ! E2E_BASE_URL="http://localhost:$port" E2E_DATABASE_URL="$database_url" E2E_BIN="$bin" E2E_PROJECT="$PROJECT" npx playwright test "$spec"; then
    echo "---- server log ($label) ----"; tail -50 "$work/server-$label.log"
    echo "---- OpenID provider log ----"; tail -20 "$work/oidc.log"
    kill -0 "$oidc_pid" 2>/dev/null || echo "(the OpenID provider is no longer running)"
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
