#!/usr/bin/env bash
# The session check at one connection against the loopback floor: wrk -t1 -c1 in turns against bench/floor.rs (a
# std-only server that answers `ok` without parsing anything), the real server's /healthz (router and middleware, no
# session) and its session check (POST /api/page_context, signed in), on a fresh SQLite database.
#   bench/floor.sh PATH/TO/portcullis [ROUNDS] [SECONDS]
# At one connection each request is a round trip through the kernel that wakes the client and the server once each,
# so no server can answer faster than the floor; the side-by-side harness's "20x the peer at one connection" can be
# read against it. Needs wrk and rustc.
set -euo pipefail
BIN=$(realpath "${1:?usage: bench/floor.sh PATH/TO/portcullis [ROUNDS] [SECONDS]}")
rounds=${2:-3}
secs=${3:-5}
work=$(mktemp -d)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
rustc --edition 2021 -O -o "$work/floor" "$here/floor.rs"
pid= floor_pid=
trap 'kill $pid $floor_pid 2>/dev/null || true' EXIT
floor_port=$(free_port)
"$work/floor" "$floor_port" &
floor_pid=$!
start_server "$work" "$BIN"
cookie=$(sign_in)
wrk_post "$work/post.lua"
session=(-H "Cookie: $cookie" -H "Origin: $base" -s "$work/post.lua" "$base/api/page_context")
curl -sf -H "Cookie: $cookie" -H "Origin: $base" -H 'Accept: application/json' -d '' "$base/api/page_context" |
  grep -q '"email":"bench@example.com"' || { echo "the session check does not answer for the signed-in account" >&2; exit 1; }
rate() { wrk -t1 -c1 -d"${secs}s" "$@" | awk '/^Requests\/sec/ { printf "%.0f", $2 }'; }
rate "http://127.0.0.1:$floor_port/" >/dev/null # warm-up
rate "${session[@]}" >/dev/null
printf '%-8s %12s %12s %16s\n' round floor healthz session_check
for r in $(seq 1 "$rounds"); do
  f=$(rate "http://127.0.0.1:$floor_port/")
  h=$(rate "$base/healthz")
  s=$(rate "${session[@]}")
  printf '%-8s %12s %12s %16s\n' "$r" "$f" "$h" "$s"
done
echo "requests/s, wrk -t1 -c1, ${secs} s each"
