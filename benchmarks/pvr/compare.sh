#!/usr/bin/env bash
# Encode latency side by side: RobotRuntime's encoder on ONNX Runtime vs PyTorch 1.13 (Debian)
# on the same architectures, at 1 and 2 threads, interleaved per model in one run.
# Needs: scripts/bootstrap, and for the reference side `apt-get install python3-torch
# python3-torchvision python3-onnx libopenblas0-pthread` (development tools, not run-time needs).
# Usage: benchmarks/pvr/compare.sh [iterations]     (default 200)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
iterations=${1:-200}
models="$repo/.native/bench-models"
mkdir -p "$models"
export_model() { # id size
  [ -f "$models/$1.onnx" ] || /usr/bin/python3 "$repo/models/export/export_pvr.py" "$1" --random-weights --out "$models/$1.onnx" >/dev/null 2>&1
}
dotnet build "$repo/benchmarks/RobotRuntime.Benchmarks" -c Release -v q --nologo >/dev/null
bench="$repo/benchmarks/RobotRuntime.Benchmarks/bin/Release/net10.0/RobotRuntime.Benchmarks.dll"
# PyTorch from Debian links the reference BLAS; OpenBLAS is what a fair comparison uses.
openblas=/usr/lib/x86_64-linux-gnu/openblas-pthread
out=$(mktemp)
for spec in "resnet18-pieg 112" "resnet18 224" "vit-s14-bench 224"; do
  set -- $spec
  export_model "$1"
  for threads in 1 2; do
    dotnet "$bench" pvr-latency "$models/$1.onnx" "$2" "$threads" "$iterations" >>"$out"
    LD_LIBRARY_PATH=$openblas OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads OMP_WAIT_POLICY=PASSIVE RR_BLAS=openblas \
      /usr/bin/python3 "$repo/benchmarks/pvr/pytorch_latency.py" "$1" "$2" "$threads" "$iterations" 2>/dev/null >>"$out"
  done
done
/usr/bin/python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ours = {(r["model"], r["threads"]): r for r in rows if "encoder_ms" in r}
torch = {(r["model"], r["threads"]): r for r in rows if "torch_ms" in r}
print("| model | px | threads | bare ORT run | binding run | overhead | encoder (pre+run) | preprocess | PyTorch | PyTorch / encoder |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for key in ours:
    o, t = ours[key], torch.get(key)
    bare, bind, enc = o["bare_ms"]["median"], o["binding_ms"]["median"], o["encoder_ms"]["median"]
    tm = t["torch_ms"]["median"] if t else float("nan")
    print(f"| {key[0]} | {o['size']} | {key[1]} | {bare:.3f} ms | {bind:.3f} ms | {100 * (bind / bare - 1):+.1f}% | "
          f"{enc:.3f} ms (p99 {o['encoder_ms']['p99']:.3f}) | {o['preprocess_ms']['median'] * 1000:.0f} µs | {tm:.3f} ms | {tm / enc:.2f}× |")
PY
rm -f "$out"
