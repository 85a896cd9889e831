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
source "$(dirname "$0")/lib.sh"
wrk_post "$work/post.lua"
for w in "${what[@]}"; do
  data=$(mktemp -d "$work/db.XXXX")
  start_server "$data" valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$work/callgrind.$w.out" "$BIN"
  cookie=$(sign_in)
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
