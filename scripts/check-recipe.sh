#!/usr/bin/env bash
# Checks the README's "Add a page behind log in" recipe: copies the project (its tracked files, as they are now) to a
# scratch directory, applies the recipe (scripts/apply-recipe.py) and runs the test it adds, then the guard tests
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
python3 scripts/apply-recipe.py
cargo test -p server --test it -- projects:: guards::
rm -rf "$scratch"
