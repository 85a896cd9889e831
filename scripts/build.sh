#!/usr/bin/env bash
# Builds the browser bundle (WASM) and then the server binary that embeds it, with plain cargo.
#   scripts/build.sh            debug server (fast to build)
#   scripts/build.sh --release  release server
#   scripts/build.sh --wasm-only  only the browser bundle (the test suite builds the server with its test features)
# Installs what it lacks: the wasm32 target and wasm-bindgen-cli at exactly the version in Cargo.lock.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=debug
[[ "${1:-}" == "--release" ]] && profile=release
wasm_only=false
[[ "${1:-}" == "--wasm-only" ]] && wasm_only=true
target_dir="${CARGO_TARGET_DIR:-target}"
site=target/site/pkg

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  echo "==> adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

wb_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
if ! command -v wasm-bindgen >/dev/null || [[ "$(wasm-bindgen --version | awk '{print $2}')" != "$wb_version" ]]; then
  echo "==> installing wasm-bindgen-cli $wb_version (once, a few minutes)"
  cargo install wasm-bindgen-cli --version "$wb_version"
fi

echo "==> building the browser bundle"
cargo build -p frontend --lib --target wasm32-unknown-unknown --profile wasm-release
mkdir -p "$site"
# Without the name section (function names for debuggers, about half the file): every page loads this bundle.
wasm-bindgen --target web --no-typescript --remove-name-section --remove-producers-section \
  --out-dir "$site" --out-name portcullis \
  "$target_dir/wasm32-unknown-unknown/wasm-release/frontend.wasm"
mv -f "$site/portcullis_bg.wasm" "$site/portcullis.wasm"
# Brotli and gzip variants made here, once, and embedded with the bundle: no server compresses it at start.
echo "==> compressing the bundle"
cargo run --release --quiet -p precompress -- "$site"

$wasm_only && exit 0

echo "==> building the server ($profile)"
if [[ "$profile" == release ]]; then
  cargo build -p server --release --bin portcullis
else
  cargo build -p server --bin portcullis
fi
echo "==> built $target_dir/$profile/portcullis"
