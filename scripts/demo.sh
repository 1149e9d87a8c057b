#!/usr/bin/env bash
# THE demo command (README): `bash scripts/demo.sh`.
#   1. scripts/setup.sh and scripts/build-pkg.sh (the npm package in pkg/dist)
#   2. builds the React dashboard (www/) with Vite into target/www-dist
#   3. builds and starts the simulator: runwatch-sim --scenario demo --fixed-exit-code --port 5565
#      (clean exits reported as completed, as newer servers do; failures stay failures); the
#      same port speaks fleet-rlm (/api/v1/ws/execution, the probes) for the fleet-rlm tab
#   4. serves the dashboard on http://127.0.0.1:8080/ (www/serve.mjs), which also proxies the
#      simulator's control API (/_sim/, for the fault panel and the fleet-rlm tab's dev
#      token) and keeps three more scripted
#      pipelines running beside the demo scenario's three (a long one, a failing one, one
#      with warnings)
#   5. prints the URL and runs until Ctrl-C, then stops both.
# Ports: RUNWATCH_SIM_PORT (default 5565), RUNWATCH_HTTP_PORT (default 8080).
# Logs: target/demo-logs/.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNWATCH_SCRIPT=demo
source scripts/lib.sh

SIM_PORT=${RUNWATCH_SIM_PORT:-5565}
HTTP_PORT=${RUNWATCH_HTTP_PORT:-8080}

bash scripts/setup.sh
bash scripts/build-pkg.sh
step "vite build www → $(target_dir)/www-dist"
node_modules/.bin/vite build www --logLevel warn
step "cargo build -p runwatch-sim"
cargo build -p runwatch-sim
sim_bin="$(target_dir)/debug/runwatch-sim"

logs="$(target_dir)/demo-logs"
mkdir -p "$logs"
sim_pid=""; http_pid=""
stop() {
  trap - EXIT INT TERM
  step "stopping"
  for pid in $http_pid $sim_pid; do kill "$pid" 2>/dev/null || true; done
  for pid in $http_pid $sim_pid; do wait "$pid" 2>/dev/null || true; done
}
trap stop EXIT
trap 'exit 130' INT TERM

step "starting runwatch-sim --scenario demo --fixed-exit-code --port $SIM_PORT (log: $logs/sim.log)"
"$sim_bin" --scenario demo --fixed-exit-code --port "$SIM_PORT" >"$logs/sim.log" 2>&1 &
sim_pid=$!
for _ in $(seq 100); do
  grep -q 'runwatch-sim listening on' "$logs/sim.log" 2>/dev/null && break
  kill -0 "$sim_pid" 2>/dev/null || { tail -n 20 "$logs/sim.log" >&2; die "runwatch-sim exited (port $SIM_PORT busy? set RUNWATCH_SIM_PORT)"; }
  sleep 0.2
done
grep -q 'runwatch-sim listening on' "$logs/sim.log" || die "runwatch-sim did not start within 20 s; see $logs/sim.log"

step "serving the dashboard on port $HTTP_PORT (log: $logs/http.log)"
node www/serve.mjs --sim "http://127.0.0.1:$SIM_PORT" --port "$HTTP_PORT" --root "$(target_dir)/www-dist" --feed >"$logs/http.log" 2>&1 &
http_pid=$!
for _ in $(seq 50); do
  grep -q 'dashboard on' "$logs/http.log" 2>/dev/null && break
  kill -0 "$http_pid" 2>/dev/null || { cat "$logs/http.log" >&2; die "static server exited (port $HTTP_PORT busy? set RUNWATCH_HTTP_PORT)"; }
  sleep 0.1
done

engine=$(sed -n 's/.*runwatch-sim listening on \(ws:[^ ]*\).*/\1/p' "$logs/sim.log" | head -n1)
cat <<EOF

  dashboard:  http://127.0.0.1:$HTTP_PORT/
  engine:     $engine   (key: sim-key; control API: http://127.0.0.1:$SIM_PORT/_sim/)
  fleet-rlm:  http://127.0.0.1:$HTTP_PORT/#/fleet  (the simulator's fleet-rlm side on port $SIM_PORT;
              try a message with #long, #error, #hitl_wait or #cancel)

  Ctrl-C stops both.
EOF
# Returns when either process exits (Ctrl-C reaches both); the EXIT trap stops the other.
rc=0
wait -n "$sim_pid" "$http_pid" || rc=$?
step "demo stopped (exit status $rc); logs: $logs/"
exit "$rc"
