#!/usr/bin/env bash
# Checks that the repository works as a cargo-generate template (cargo-generate.toml, tools/xtask/src/template.rs):
# generates a fork named tollgate-id from the project's files as they are now, checks that only the files carrying the
# names changed and that the names are the fork's everywhere they appear, then builds the fork's browser bundle and
# runs its unit and integration tests and two of its Chromium journeys. Build output goes to the shared target
# directory, under the fork's own path.
set -euo pipefail
cd "$(dirname "$0")/.."
project=$PWD
scratch="${TMPDIR:-/tmp}/portcullis-template"
rm -rf "$scratch"
mkdir -p "$scratch/src"
git ls-files -z --cached --others --exclude-standard | xargs -0 tar -cf - | tar -xf - -C "$scratch/src"

echo "==> cargo generate --name tollgate-id"
cargo generate --path "$scratch/src" --name tollgate-id --silent --vcs none --destination "$scratch"
fork="$scratch/tollgate-id"
cd "$fork"

fail() { echo "check-template: $*" >&2; exit 1; }
# The files that carry the names are those with a twin (FILE.liquid) in the template.
(cd "$scratch/src" && git init -q . && git add -A && git -c user.email=t@t -c user.name=t commit -qm t)
mapfile -t twins < <(git -C "$scratch/src" ls-files -- '*.liquid' | sed 's/\.liquid$//')
(( ${#twins[@]} > 0 )) || fail "the template has no twins"
# Nothing else touched: every other file is the template's, byte for byte; the twins and the configuration are gone.
excludes=()
for f in "${twins[@]}"; do excludes+=(":!$f"); done
changed=$(git --git-dir="$scratch/src/.git" --work-tree="$fork" status --porcelain -- . "${excludes[@]}")
expected=$(git -C "$scratch/src" ls-files -- '*.liquid' cargo-generate.toml | sed 's/^/ D /')
[[ "$changed" == "$expected" ]] || fail "files other than the twins differ from the template:
$(diff <(echo "$expected") <(echo "$changed") || true)"
for f in "${twins[@]}"; do
  ! grep -n '{{\|{%\|portcullis\|Portcullis' "$f" || fail "$f still has a placeholder or the template's name"
done
grep -qx 'LEPTOS_OUTPUT_NAME = "tollgate_id"' .cargo/config.toml || fail "the bundle is not named tollgate_id"
grep -qx 'APP_NAME_DEFAULT = "Tollgate Id"' .cargo/config.toml || fail "the display name is not Tollgate Id"
grep -A1 '^\[\[bin\]\]' server/Cargo.toml | grep -qx 'name = "tollgate_id"' || fail "the binary is not tollgate_id"
grep -qx 'APP_NAME=Tollgate Id' .env.example || fail ".env.example does not name Tollgate Id"
echo "==> the fork has its names and nothing else changed"

# The fork builds and its tests pass under its own names (its cookies, bundle and binary are tollgate_id's). The test
# OpenID provider's npm packages are the template's (scripts/test-deps.sh installed them there).
cp -r "$project/end2end/oidc/node_modules" end2end/oidc/
scripts/build.sh --wasm-only
[[ -f target/site/pkg/tollgate_id.wasm ]] || fail "no target/site/pkg/tollgate_id.wasm"
cargo test -p domain -p backend -p app -p server -p xtask --no-fail-fast
# Its pages in Chromium, on the debug binary the tests built: a new user's journey (with and without JavaScript, on
# the fork's own cookies) and the bundle (tollgate_id.wasm loads, the pages hydrate and fetch their chunks).
cp -r "$project/end2end/node_modules" end2end/
end2end/run.sh journey bundle
cd /
rm -rf "$scratch"
