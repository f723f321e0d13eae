#!/usr/bin/env bash
# The shipped UR5e agent (models/agents/ur5e-reach-frozen-pvr) driving the simulated UR5e-class arm
# through a separate `rr sim-server --arm ur5e` process, whose firmware takes joint positions only:
# the runtime solves inverse kinematics (arm.kinematics: ur5e). For each seed 1..N a fresh server and
# an 8 s `rr run` at 25 Hz with the front camera streamed over ZeroMQ; prints per seed whether the
# task's success held at some point (the server's "success at" line), its time, and the run's figures.
# Usage: [PACKAGE=DIR] [KEEP=1] benchmarks/scripts/ur5e-hil.sh [SEEDS]   (default 10; PACKAGE another agent
# package; KEEP=1 keeps the work folder with the servers' and runs' output and run folders)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
rr=${RR:-"$repo/scripts/rr"}
seeds=${1:-10}
work=$(mktemp -d)
[ -n "${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT; echo "work: $work"
"$rr" keygen --out "$work/arm.key" >/dev/null
reached=0
for seed in $(seq 1 "$seeds"); do
  port=$((5700 + 10 * seed))
  "$rr" sim-server --arm ur5e --task reach --seed "$seed" --camera-size 64 --key "$work/arm.key" \
    --state "tcp://127.0.0.1:$port" --command "tcp://127.0.0.1:$((port + 1))" --control "tcp://127.0.0.1:$((port + 2))" \
    --camera-front "tcp://127.0.0.1:$((port + 3))" --camera-wrist "tcp://127.0.0.1:$((port + 4))" \
    >"$work/server-$seed.out" 2>"$work/server-$seed.err" &
  server=$!
  for _ in $(seq 1 100); do grep -q "ready" "$work/server-$seed.out" 2>/dev/null && break; sleep 0.1; done
  cat >"$work/cell-$seed.yaml" <<YAML
rate_hz: 25
duration: 8s
runs_folder: $work/runs
arm: {state: "tcp://127.0.0.1:$port", command: "tcp://127.0.0.1:$((port + 1))", control: "tcp://127.0.0.1:$((port + 2))", key: "$work/arm.key", kinematics: ur5e}
cameras:
  - {name: front, backend: stream, endpoint: "tcp://127.0.0.1:$((port + 3))", width: 64, height: 64}
encoder: {zoo: $repo/models/pretrained/zoo.json, id: bc-cnn-s1}
policy: {kind: agent, package: ${PACKAGE:-$repo/models/agents/ur5e-reach-frozen-pvr}, planner: mppi}
YAML
  "$rr" run --config "$work/cell-$seed.yaml" >"$work/run-$seed.out" 2>&1 || true
  kill -TERM "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  first=$(grep -m1 -o "success at [0-9.]* s" "$work/server-$seed.err" || true)
  [ -n "$first" ] && reached=$((reached + 1))
  figures=$(grep -E "missed deadlines|plan p50|plan " "$work/run-$seed.out" | tail -2 | tr '\n' ' ')
  echo "seed $seed: ${first:-not reached} · $figures"
done
echo "reached: $reached of $seeds"
