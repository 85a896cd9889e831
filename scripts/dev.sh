#!/usr/bin/env bash
# Runs Portcullis on http://localhost:3000 with a SQLite file under ./data and the development mailbox at
# /dev/mailbox. Nothing to configure; a .env file, if present, overrides the defaults (see .env.example).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
exec "${CARGO_TARGET_DIR:-target}/debug/portcullis" serve
