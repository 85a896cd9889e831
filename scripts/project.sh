# Sourced by the scripts: PROJECT, the project's name in code — the binary's and the browser bundle's — read from
# .cargo/config.toml (LEPTOS_OUTPUT_NAME), where a fork made with `cargo generate` has its own.
PROJECT=$(sed -n 's/^LEPTOS_OUTPUT_NAME *= *"\(.*\)"/\1/p' "$(dirname "${BASH_SOURCE[0]}")/../.cargo/config.toml")
[[ -n "$PROJECT" ]] || { echo "no LEPTOS_OUTPUT_NAME in .cargo/config.toml" >&2; exit 1; }
