# Sourced: pg_start starts a private PostgreSQL cluster (Debian's server binaries) on a free loopback port and
# exports PG_URL; pg_stop stops that cluster by its own postmaster PID.
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)

pg_as() {
  if [[ "$(id -u)" == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_start() {
  PG_DIR=$(mktemp -d /tmp/portcullis-pg.XXXXXX)
  PG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  [[ "$(id -u)" == 0 ]] && chown postgres "$PG_DIR"
  pg_as "$pg_bin/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 >/dev/null
  pg_as "$pg_bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w \
    -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" start >/dev/null
  PG_PID=$(head -1 "$PG_DIR/data/postmaster.pid")
  export PG_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
  echo "==> PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on port $PG_PORT (pid $PG_PID)"
}

pg_stop() {
  if [[ -n "${PG_PID:-}" ]] && kill -0 "$PG_PID" 2>/dev/null; then
    kill -INT "$PG_PID"
    while kill -0 "$PG_PID" 2>/dev/null; do sleep 0.2; done
  fi
  [[ -n "${PG_DIR:-}" ]] && rm -rf "$PG_DIR"
  PG_PID=
}
