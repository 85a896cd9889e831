#!/usr/bin/env bash
# Builds the browser bundle (WASM) and then the server binary that embeds it, with plain cargo.
#   scripts/build.sh            debug server (fast to build)
#   scripts/build.sh --release  release server
#   scripts/build.sh --wasm-only  only the browser bundle (the test suite builds the server with its test features)
# Installs what it lacks: the wasm32 target, wasm-bindgen-cli at exactly the version in Cargo.lock, and the splitter
# that cuts the bundle into lazily loaded chunks (wasm_split_cli_support, the one cargo-leptos uses for `--split`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/project.sh

profile=debug
[[ "${1:-}" == "--release" ]] && profile=release
wasm_only=false
[[ "${1:-}" == "--wasm-only" ]] && wasm_only=true
# scripts/dev.sh: the bundle only, built fast (no size optimisation, not precompressed; the server compresses it once).
wasm_profile=wasm-release
if [[ "${1:-}" == "--dev-bundle" ]]; then
  wasm_only=true
  wasm_profile=wasm-dev
fi
target_dir="${CARGO_TARGET_DIR:-target}"
site=target/site/pkg

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  echo "==> adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

wb_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
if ! command -v wasm-bindgen >/dev/null || [[ "$(wasm-bindgen --version | awk '{print $2}')" != "$wb_version" ]]; then
  echo "==> installing wasm-bindgen-cli $wb_version (once, a few minutes)"
  # Not --locked: the lock file published with 0.2.130 pins webpki-roots 1.0.11, which the registry here does not have.
  cargo install wasm-bindgen-cli --version "$wb_version"
fi

split_version=0.2.4
if ! cargo install --list | grep -q "^wasm_split_cli_support v$split_version:"; then
  echo "==> installing wasm_split_cli_support $split_version (once, a few minutes)"
  cargo install --locked wasm_split_cli_support --version "$split_version" --features build-binary
fi

echo "==> building the browser bundle"
# Linked with its relocations kept: the splitter needs them to move each lazy route's code into its own chunk.
cargo rustc -p frontend --lib --target wasm32-unknown-unknown --profile "$wasm_profile" -- -C link-arg=--emit-relocs
mkdir -p "$site"
rm -f "$site"/*.js "$site"/*.wasm
# The main module (what every page loads), the chunks, and the loader that fetches a chunk when its page is shown.
wasm-split-cli --target web --out-name "$PROJECT" "$target_dir/wasm32-unknown-unknown/$wasm_profile/frontend.wasm" "$site"
# The main module's JavaScript glue. Without the name section (function names for debuggers, about half the file);
# the chunks call the main module's functions by their linker names, so those stay exported.
wasm-bindgen --target web --no-typescript --remove-name-section --remove-producers-section --keep-lld-exports \
  --no-demangle --out-dir "$site" --out-name "$PROJECT" "$site/$PROJECT.wasm"
mv -f "$site/${PROJECT}_bg.wasm" "$site/$PROJECT.wasm"
# The chunks' debugging sections dropped, and brotli and gzip variants made here, once, and embedded with the bundle:
# no server compresses it at start.
if [[ "$wasm_profile" == wasm-release ]]; then
  echo "==> compressing the bundle"
  cargo run --release --quiet -p precompress -- "$site"
fi

$wasm_only && exit 0

echo "==> building the server ($profile)"
if [[ "$profile" == release ]]; then
  cargo build -p server --release --bin "$PROJECT"
else
  cargo build -p server --bin "$PROJECT"
fi
echo "==> built $target_dir/$profile/$PROJECT"
