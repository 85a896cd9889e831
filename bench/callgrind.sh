#!/usr/bin/env bash
# Instructions per request of the session check and the signed-in dashboard, counted by callgrind (the same on any
# machine, unlike requests per second): starts BIN under valgrind on a fresh SQLite database, registers and signs in
# one account, warms up for 3 s, then counts 10 s of `wrk -t1 -c1` and divides callgrind's total by the requests.
#   bench/callgrind.sh PATH/TO/portcullis [session|page ...]
# Needs valgrind and wrk. For function names, build with CARGO_PROFILE_RELEASE_STRIP=none; the output files stay in
# a temporary directory (callgrind_annotate FILE).
set -euo pipefail
BIN=$(realpath "${1:?usage: bench/callgrind.sh PATH/TO/portcullis [session|page ...]}")
shift
what=("$@")
[[ $# -eq 0 ]] && what=(session page)
work=$(mktemp -d)
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
cat >"$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Accept"] = "application/json"
LUA
for w in "${what[@]}"; do
  port=$(free_port); base=http://localhost:$port; data=$(mktemp -d "$work/db.XXXX")
  (cd "$data" && exec env APP_ENV=development BIND_ADDR=127.0.0.1:$port BASE_URL=$base DATABASE_URL=sqlite://$data/bench.db \
    MAIL_TRANSPORT=dev MAIL_DELIVERY=queue RUST_LOG=warn \
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$work/callgrind.$w.out" "$BIN" serve \
    >"$data/server.log" 2>&1) &
  pid=$!
  for _ in $(seq 1 600); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.2; done
  form='email=bench@example.com&password=kettle-orbit-marigold-93'
  curl -sf -o /dev/null -H "Origin: $base" -d "$form" "$base/api/register"
  cookie=$(curl -sf -D - -o /dev/null -H "Origin: $base" -d "$form" "$base/api/log_in" | tr -d '\r' |
    awk -F'[ ;]' 'tolower($1) == "set-cookie:" { printf "%s%s", sep, $2; sep = "; " }')
  if [[ $w == session ]]; then args=(-s "$work/post.lua" "$base/api/page_context"); else args=("$base/"); fi
  wrk -t1 -c1 -d3s -H "Cookie: $cookie" -H "Origin: $base" "${args[@]}" >/dev/null
  callgrind_control -i on "$pid" >/dev/null 2>&1
  n=$(wrk -t1 -c1 -d10s -H "Cookie: $cookie" -H "Origin: $base" "${args[@]}" | awk '/requests in/ { print $1 }')
  callgrind_control -i off "$pid" >/dev/null 2>&1
  callgrind_control -d "$pid" >/dev/null 2>&1
  kill "$pid"; wait "$pid" 2>/dev/null || true
  out=$(ls -S "$work"/callgrind."$w".out* | sed -n 1p)
  ir=$(callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ && !done { gsub(",", "", $1); print $1; done = 1 }')
  echo "$w: $n requests, $ir instructions, $((ir / n)) per request ($out)"
done
