#!/usr/bin/env bash
# Checks the README's recipes ("Add a page behind log in", "… of an organization", "Add an admin page"): copies the
# project (its tracked files, as they are now) to a scratch directory, generates the first recipe's page, a second one
# from it, an organization's page and an admin page (`cargo xtask new-page`, tools/xtask) and runs the tests they
# add, then the guard tests
# beside it. Build output goes to the shared target directory, under the copy's own path (the project's own
# artifacts are left as they are).
set -euo pipefail
cd "$(dirname "$0")/.."
scratch="${TMPDIR:-/tmp}/portcullis-recipe"
rm -rf "$scratch"
mkdir -p "$scratch"
git ls-files -z --cached --others --exclude-standard | xargs -0 tar -cf - | tar -xf - -C "$scratch"
# The browser bundle the server embeds (built by scripts/build.sh).
mkdir -p "$scratch/target"
cp -r target/site "$scratch/target/"
cd "$scratch"
cargo xtask new-page projects
cargo xtask new-page widgets
cargo xtask new-page boards --org
cargo xtask new-page notices --admin
cargo test -p server --test it -- projects:: widgets:: boards:: notices:: guards::
rm -rf "$scratch"
