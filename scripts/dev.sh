#!/usr/bin/env bash
# Runs Portcullis on http://localhost:3000 with a SQLite file under ./data and the development mailbox at
# /dev/mailbox. Nothing to configure; a .env file, if present, overrides the defaults (see .env.example).
#
# The server is built first and serves at once: every page works without the browser bundle (server-rendered
# forms). The bundle comes next, built with a fast development profile, and the server restarts when it lands.
# Then the sources are watched: an edit rebuilds what it touches and restarts the server. Each step is one line.
#   scripts/dev.sh          serve, then watch
#   scripts/dev.sh --once   serve with the bundle, no watching
set -euo pipefail
cd "$(dirname "$0")/.."
once=false
[[ "${1:-}" == "--once" ]] && once=true
# Incremental compilation is what makes an edit take seconds (CI turns it off; here it is always on).
export CARGO_INCREMENTAL=1
source scripts/project.sh
bin="${CARGO_TARGET_DIR:-target}/debug/$PROJECT"
pkg=target/site/pkg
say() { echo "dev: $*"; }

server=""
stop() {
  if [[ -n "$server" ]]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    server=""
  fi
}
start() {
  stop
  "$bin" serve &
  server=$!
}
trap stop EXIT
trap 'exit 130' INT TERM

build_server() { say "building the server"; cargo build --quiet -p server --bin "$PROJECT"; }
build_bundle() { say "building the browser bundle (development profile)"; scripts/build.sh --dev-bundle >/dev/null; }

started=$SECONDS
build_server
start
say "serving on http://localhost:3000 after $((SECONDS - started)) s; pages work without JavaScript until the bundle lands"
if build_bundle; then
  start
  say "the bundle is in (after $((SECONDS - started)) s): pages hydrate"
else
  say "the bundle did not build (above); pages keep working without it"
fi
if $once; then
  wait "$server"
  exit
fi

# Watch: what changed since the last build. The bundle holds app, domain and frontend; the server holds everything.
mark=$(mktemp)
trap 'stop; rm -f "$mark"' EXIT
while sleep 1; do
  changed=$(find app backend domain frontend server style migrations Cargo.toml Cargo.lock -newer "$mark" -type f \
    -not -path '*/target/*' 2>/dev/null | head -20)
  [[ -z "$changed" ]] && continue
  touch "$mark"
  say "changed: $(echo "$changed" | head -3 | tr '\n' ' ')"
  edit=$SECONDS
  if ! build_server; then
    say "the build failed (above); still serving the last good build"
    continue
  fi
  if grep -qE '^(app|domain|frontend)/|^Cargo' <<<"$changed"; then
    # The old bundle would not match the new pages: serve without one until the new one lands.
    rm -rf "$pkg"
    start
    say "serving the new build after $((SECONDS - edit)) s (without the bundle)"
    build_bundle && start && say "the bundle is in (after $((SECONDS - edit)) s)"
  else
    start
    say "serving the new build after $((SECONDS - edit)) s"
  fi
done
