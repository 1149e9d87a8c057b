# Shared helpers for scripts/*.sh. Source it after `cd` to the repository root:
#   cd "$(dirname "$0")/.." && source scripts/lib.sh

step() { printf '\033[1m[%s]\033[0m %s\n' "${RUNWATCH_SCRIPT:-runwatch}" "$*"; }
die() { printf '\033[1;31m[%s] error:\033[0m %s\n' "${RUNWATCH_SCRIPT:-runwatch}" "$*" >&2; exit 1; }

# cargo's target dir, as cargo resolves it (CARGO_TARGET_DIR or ./target).
target_dir() { printf '%s\n' "${CARGO_TARGET_DIR:-target}"; }
# Where cargo keeps its crate cache (rustup's default unless CARGO_HOME says otherwise).
cargo_home() { printf '%s\n' "${CARGO_HOME:-$HOME/.cargo}"; }

# The `wasm-bindgen = "=X"` pin in Cargo.toml (the CLI must be exactly this version).
wasm_bindgen_pin() {
  sed -n 's/^wasm-bindgen = { version = "=\([0-9.]*\)".*/\1/p; s/^wasm-bindgen = "=\([0-9.]*\)".*/\1/p' Cargo.toml | head -n1
}

# The npm dev tools (wasm-opt, tsc, vite, playwright-core) come from node_modules.
require_node_modules() {
  [ -x node_modules/.bin/wasm-opt ] && [ -d node_modules/playwright-core ] ||
    die "node_modules is missing or incomplete; run: bash scripts/setup.sh"
}

# Print the gzip -9 size of a file in bytes.
gz_size() { gzip -9 -c "$1" | wc -c | tr -d ' '; }

# The flag Node needs for a global WebSocket (Node 20: --experimental-websocket; Node 22 has
# it built in), or nothing. Tests that drive Chromium over raw CDP (bench/cdp.mjs) use it.
node_websocket_flag() {
  node -e 'process.exit(typeof WebSocket === "undefined" ? 0 : 1)' && printf '%s\n' --experimental-websocket || true
}
