# Shared by the bench scripts (sourced): start the real binary on a fresh SQLite database and sign one account in.
#   start_server DIR COMMAND ...         runs `COMMAND ... serve` (the binary, or valgrind and its options and the
#                                        binary) in DIR; sets $pid and $base; the server's log is DIR/server.log
#   sign_in                              prints the cookies of a new account signed in on $base
#   wrk_post FILE                        writes to FILE a wrk script for form posts answered in JSON
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

start_server() {
  local dir=$1 port
  shift
  port=$(free_port)
  base=http://localhost:$port
  (cd "$dir" && exec env APP_ENV=development BIND_ADDR=127.0.0.1:$port BASE_URL=$base DATABASE_URL=sqlite://$dir/bench.db \
    MAIL_TRANSPORT=dev MAIL_DELIVERY=queue RUST_LOG=warn "$@" serve >"$dir/server.log" 2>&1) &
  pid=$!
  for _ in $(seq 1 600); do curl -sf "$base/healthz" >/dev/null && return 0; sleep 0.2; done
  echo "the server did not answer on $base (log: $dir/server.log)" >&2
  return 1
}

sign_in() {
  local form='email=bench@example.com&password=kettle-orbit-marigold-93'
  curl -sf -o /dev/null -H "Origin: $base" -d "$form" "$base/api/register"
  curl -sf -D - -o /dev/null -H "Origin: $base" -d "$form" "$base/api/log_in" | tr -d '\r' |
    awk -F'[ ;]' 'tolower($1) == "set-cookie:" { printf "%s%s", sep, $2; sep = "; " }'
}

wrk_post() {
  cat >"$1" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Accept"] = "application/json"
LUA
}
