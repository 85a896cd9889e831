#!/usr/bin/env bash
# Installs what the test suite needs and is not there yet: Chromium (Debian), PostgreSQL (Debian), the SMTP sink
# (aiosmtpd from PyPI, in a venv under target/), Playwright (npm, no browser download), and the OpenID provider the
# sign-in-with-provider tests run on loopback (oidc-provider from npm), and cargo-generate for the template check
# (0.23.14: the newest whose locked dependencies build with this rustc; cargo-leptos 0.3.10 embeds 0.23 too).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [[ "$(id -u)" == 0 ]]; then "$@"; else sudo "$@"; fi; }

need=()
command -v chromium >/dev/null || need+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
if ((${#need[@]})); then
  echo "==> apt-get install ${need[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

venv=target/smtp-sink-venv
if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import aiosmtpd' 2>/dev/null; then
  echo "==> installing the SMTP sink (aiosmtpd) in $venv"
  mkdir -p target
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q aiosmtpd
fi

if [[ ! -d end2end/oidc/node_modules/oidc-provider ]]; then
  echo "==> npm ci (the test OpenID provider: oidc-provider)"
  (cd end2end/oidc && npm ci --no-audit --no-fund --loglevel=error)
fi

if [[ ! -d end2end/node_modules/@playwright/test ]]; then
  echo "==> npm ci (Playwright test runner; Chromium comes from Debian)"
  (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi

cg_version=0.23.14
if [[ "$(cargo generate --version 2>/dev/null | awk '{print $NF}')" != "$cg_version" ]]; then
  echo "==> installing cargo-generate $cg_version (once, about 15 minutes)"
  cargo install --locked cargo-generate --version "$cg_version"
fi
