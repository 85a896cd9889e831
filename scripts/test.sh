#!/usr/bin/env bash
# The whole test suite: unit and integration tests on SQLite and on PostgreSQL, the browser journeys in
# Chromium on both, then the README recipe check and the template check (a generated fork, built and tested). The
# container's runtime stage is checked without a container runtime (scripts/check-image.sh).
# Installs what it lacks (see scripts/test-deps.sh) and starts/stops its own servers.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

scripts/test-deps.sh
# The browser bundle first (the server embeds it); `cargo test` then builds the server binary the browser
# tests use, with the same features as the integration tests, so it is compiled once.
scripts/build.sh --wasm-only

source scripts/pg.sh
trap pg_stop EXIT
pg_start

export SMTP_SINK_PYTHON="$PWD/target/smtp-sink-venv/bin/python"

echo "==> Rust tests on SQLite"
cargo test -p domain -p backend -p app -p server -p bench -p xtask --no-fail-fast

echo "==> Rust integration tests on PostgreSQL"
TEST_DATABASE_URL="$PG_URL" cargo test -p domain -p backend -p app -p server -p bench -p xtask --no-fail-fast

echo "==> The container's runtime stage: the Dockerfile's final stage rebuilt as a root filesystem, run under chroot"
if [[ "$(id -u)" == 0 ]]; then scripts/check-image.sh; else sudo --preserve-env=CARGO_TARGET_DIR scripts/check-image.sh; fi

echo "==> Browser tests in Chromium (SQLite, then PostgreSQL)"
E2E_POSTGRES_URL="$PG_URL" end2end/run.sh

echo "==> The README's recipe for a page behind log in, applied to a copy and tested"
scripts/check-recipe.sh

echo "==> The repository as a cargo-generate template: a fork named tollgate-id, built and tested"
scripts/check-template.sh

echo "==> all tests passed in $(( $(date +%s) - start )) s"
