#!/usr/bin/env bash
# The container's runtime stage, checked without a container runtime (this machine has no Docker daemon and reaches
# no registry). It builds the root filesystem the final stage of `Dockerfile` gives — the files of the Debian 12
# packages gcr.io/distroless/cc-debian12 is made of (libc6, libgcc-s1, libstdc++6, ca-certificates), its nonroot user,
# the binary at the same path and /data owned by that user — and runs the binary there the way the image does: the
# Dockerfile's own ENV, USER, HEALTHCHECK and CMD, read from it, in a network namespace of its own (0.0.0.0:3000 as in
# a container), under chroot as user 65532, with a production configuration. It checks that:
#   - the binary needs no library the image lacks (it starts at all);
#   - as the non-root user it creates and migrates the SQLite file on the volume, and serves pages;
#   - the HEALTHCHECK command passes while it serves and fails once it has stopped;
#   - `doctor` runs in the image and finds the database ok.
# Usage: scripts/check-image.sh [--scratch] [BINARY]   (default: the debug binary `cargo test` builds). Needs root
# (chroot, netns). --scratch: a root with no library at all, as `FROM scratch` gives, for a static (musl) binary.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/project.sh
scratch=false
[[ "${1:-}" != --scratch ]] || { scratch=true; shift; }
bin=$(realpath "${1:-${CARGO_TARGET_DIR:-target}/debug/$PROJECT}")
[[ -x "$bin" ]] || { echo "check-image: no binary at $bin" >&2; exit 1; }
fail() { echo "check-image: $*" >&2; exit 1; }

root=$(mktemp -d /tmp/portcullis-image.XXXXXX)
log=$(mktemp /tmp/portcullis-image-log.XXXXXX)
unshare_pid=
server_pid=
# Stops the server by its PID (unshare, its parent, ignores SIGTERM and ends with it).
stop_server() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then kill "$server_pid"; fi
  if [[ -n "$unshare_pid" ]]; then wait "$unshare_pid" 2>/dev/null || true; fi
  server_pid=
  unshare_pid=
}
cleanup() {
  stop_server
  rm -rf "$root" "$log"
}
trap cleanup EXIT

# The runtime image's files: what distroless/cc-debian12 installs (its libraries and certificates), nothing else —
# no shell, no package manager, no curl. Debian 12 keeps /lib and /lib64 under /usr (merged /usr).
chmod 755 "$root"
mkdir -p "$root/usr/lib" "$root/usr/lib64" "$root/etc/ssl/certs" "$root/tmp" && chmod 1777 "$root/tmp"
ln -s usr/lib "$root/lib" && ln -s usr/lib64 "$root/lib64"
packages=(libc6 libgcc-s1 libstdc++6 ca-certificates)
! $scratch || packages=()
for pkg in "${packages[@]}"; do
  dpkg -L "$pkg" | while read -r f; do
    [[ ! -d "$f" && ( -f "$f" || -L "$f" ) ]] || continue
    case "$f" in /usr/share/doc/* | /usr/share/man/* | /usr/share/lintian/* | /usr/sbin/* | /usr/bin/* | /sbin/* | /bin/*) continue ;; esac
    dest="$root$f"
    case "$f" in /lib/* | /lib64/*) dest="$root/usr$f" ;; esac
    mkdir -p "$(dirname "$dest")" && cp -a "$f" "$dest"
  done
done
# The package ships the certificates; the bundle programs read is made when it is installed.
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > "$root/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' > "$root/etc/group"
[[ ! -e "$root/bin/sh" && ! -e "$root/usr/bin/sh" ]] || fail "the image root has a shell"

# What the Dockerfile's final stage copies and declares, read from it.
grep -qx "COPY --from=build /$PROJECT /usr/local/bin/$PROJECT" Dockerfile || fail "the Dockerfile copies the binary elsewhere"
mkdir -p "$root/usr/local/bin" "$root/data"
cp "$bin" "$root/usr/local/bin/$PROJECT"
chown 65532:65532 "$root/data"
grep -q '^USER nonroot$' Dockerfile || fail "the Dockerfile does not run as nonroot"
mapfile -t image_env < <(awk '/^ENV /{on=1; sub(/^ENV /,"")} on{line=$0; more=sub(/ *\\$/,"",line); gsub(/^ +/,"",line); print line; if(!more) on=0}' Dockerfile)
(( ${#image_env[@]} >= 3 )) || fail "no ENV in the Dockerfile"
health_cmd=$(sed -n 's/^HEALTHCHECK .* CMD \[\(.*\)\]$/\1/p' Dockerfile | sed 's/", *"/ /g; s/"//g')
[[ "$health_cmd" == "/usr/local/bin/$PROJECT healthcheck" ]] || fail "unexpected exec-form HEALTHCHECK: $health_cmd"
serve_cmd="$(sed -n 's/^ENTRYPOINT \["\(.*\)"\]$/\1/p' Dockerfile) $(sed -n 's/^CMD \["\(.*\)"\]$/\1/p' Dockerfile)"
[[ "$serve_cmd" == "/usr/local/bin/$PROJECT serve" ]] || fail "unexpected ENTRYPOINT/CMD: $serve_cmd"

# A production configuration, as production.env would give it (README, "Deploy").
prod_env=(BASE_URL=https://auth.example.com SECRET_KEY="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  DATA_ENCRYPTION_KEYS="k1:$(head -c 32 /dev/urandom | base64)" MAIL_TRANSPORT=smtp SMTP_URL=smtp://127.0.0.1:2525
  TRUSTED_PROXIES=127.0.0.1)
# A command in the image: its environment, the non-root user, the root above.
in_image=(env -i "${image_env[@]}" "${prod_env[@]}" "$(command -v chroot)" --userspec=65532:65532 "$root")

echo "==> the binary in the runtime image's root, as user 65532, in a network namespace of its own"
unshare --net --fork bash -c "ip link set lo up; exec ${in_image[*]@Q} $serve_cmd" > "$log" 2>&1 &
unshare_pid=$!
# The server is unshare's child (bash execs env, env execs chroot, chroot execs the binary: one PID); commands run in
# its network namespace with nsenter.
in_netns() { nsenter --net="/proc/$server_pid/ns/net" "$@"; }
healthy=false
for _ in $(seq 1 100); do
  sleep 0.1
  kill -0 "$unshare_pid" 2>/dev/null || { cat "$log" >&2; fail "the server exited in the image root"; }
  [[ -n "$server_pid" ]] || server_pid=$(pgrep -P "$unshare_pid" | head -1)
  [[ -n "$server_pid" ]] || continue
  if in_netns "${in_image[@]}" $health_cmd >/dev/null 2>&1; then
    healthy=true
    break
  fi
done
$healthy || { cat "$log" >&2; fail "the HEALTHCHECK command never passed"; }
echo "ok: HEALTHCHECK ($health_cmd) passes while it serves"
owner=$(stat -c %u "$root/data/$PROJECT.db")
[[ "$owner" == 65532 ]] || fail "the database file belongs to $owner, not 65532"
echo "ok: /data/$PROJECT.db created by user 65532"
status=$(in_netns curl -s -o /dev/null -w '%{http_code}' -H 'X-Forwarded-Proto: https' http://127.0.0.1:3000/users/log-in)
[[ "$status" == 200 ]] || fail "the log-in page answered $status"
echo "ok: the log-in page answers 200 on 0.0.0.0:3000"
doctor=$(in_netns "${in_image[@]}" "/usr/local/bin/$PROJECT" doctor 2>&1 || true)
grep -Eq '^ok +database +SQLite, reachable, every migration applied' <<<"$doctor" \
  || { echo "$doctor" >&2; fail "doctor did not find the database ok"; }
echo "ok: doctor runs in the image root and finds the database ok"

stop_server
# In a network of its own again, where nothing else can be listening on port 3000.
! unshare --net bash -c "ip link set lo up; ${in_image[*]@Q} $health_cmd" >/dev/null 2>&1 \
  || fail "the HEALTHCHECK command passed with no server"
echo "ok: HEALTHCHECK fails once the server has stopped"
echo "==> the runtime image works as the Dockerfile declares it"
