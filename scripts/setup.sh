#!/usr/bin/env bash
# Installs every tool runwatch needs, idempotently: each step checks first and is
# skipped quickly when its tool is already present. Safe to run on every build.
#   - the wasm32 target for the one rustup toolchain
#   - wasm-bindgen-cli at exactly the version the crate pins (they must match)
#   - Debian's Chromium (tool-downloaded browsers do not work here)
#   - Python 3 with venv, for the simulator conformance kit (../shared/conformance), whose
#     run.sh makes its own venv with the recorder's one dependency
#   - the npm packages of the JavaScript test/bench/demo tooling (playwright-core,
#     typescript, vite, binaryen's wasm-opt, and the dashboard's react, react-dom, uplot and
#     @vitejs/plugin-react), from package-lock.json; and TypeScript 5.9 in tests/types/ts5
set -euo pipefail
cd "$(dirname "$0")/.."

# Single source of truth for the pin: the `wasm-bindgen = "=X"` line in Cargo.toml.
WASM_BINDGEN_VERSION=$(sed -n 's/^wasm-bindgen = { version = "=\([0-9.]*\)".*/\1/p; s/^wasm-bindgen = "=\([0-9.]*\)".*/\1/p' Cargo.toml | head -n1)
: "${WASM_BINDGEN_VERSION:?could not read the wasm-bindgen pin from Cargo.toml}"

step() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

if rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "wasm32-unknown-unknown: present"
else
  step "adding rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

# scripts/test.sh lints with clippy (it ships with rustup's default profile).
if cargo clippy --version >/dev/null 2>&1; then
  step "clippy: present"
else
  step "adding rust component clippy"
  rustup component add clippy
fi

if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" = "$WASM_BINDGEN_VERSION" ]; then
  step "wasm-bindgen-cli $WASM_BINDGEN_VERSION: present"
else
  step "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (a few minutes, once)"
  # --locked can fail when the CLI's lockfile names a crate version the registry no longer
  # serves (seen: webpki-roots 1.0.11); the version pin is what must match, so retry unlocked.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --locked --force ||
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

# The browser tests drive the system Chromium with playwright-core (no driver binary needed).
if [ -x /usr/bin/chromium ]; then
  step "chromium: present"
else
  step "installing Debian chromium"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq chromium >/dev/null
fi

# Debian's python3 lacks ensurepip (so `python3 -m venv` fails) until python3-venv is in.
if command -v python3 >/dev/null && python3 -c 'import venv, ensurepip' 2>/dev/null; then
  step "python3 + venv: present"
else
  step "installing Debian python3 + python3-venv"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq python3 python3-venv >/dev/null
fi

# Node.js and npm come with the machine. Vite 8 needs Node >= 20.19, and installs with npm 11
# (with npm 10 its install was seen failing here).
if ! command -v node >/dev/null || ! node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>20||(a===20&&b>=19)?0:1)'; then
  echo "[setup] Node.js >= 20.19 is required (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi
npm_major=$(npm --version 2>/dev/null | cut -d. -f1)
if [ "${npm_major:-0}" -lt 11 ]; then
  step "warning: npm $(npm --version 2>/dev/null) found; npm 11 is known to work (try: npm install -g npm@11)"
fi

# npm packages: reinstall only when a package-lock.json changed since its last install. The
# root's, and tests/types/ts5's (TypeScript 5.9 beside the root's 7, for the typings tests).
npm_ci() { # npm_ci <dir>
  local stamp="$1/node_modules/.runwatch-lock-stamp"
  if [ -f "$stamp" ] && cmp -s "$1/package-lock.json" "$stamp"; then
    step "npm packages in $1: up to date"
  else
    step "installing npm packages in $1 (npm ci)"
    (cd "$1" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$1/package-lock.json" "$stamp"
  fi
}
npm_ci .
npm_ci tests/types/ts5
step "done"
