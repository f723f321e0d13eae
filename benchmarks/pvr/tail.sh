#!/usr/bin/env bash
# What partial and full fine-tuning of a PVR cost: ORT trunk + the engine's tail against ORT on the
# whole model, side by side in one process, for torchvision's ResNet-18 (PIEG cut and full) and a
# ViT-S/14-shaped ViT (random weights: the cost does not depend on them), at 1 and 2 threads.
# Needs: scripts/bootstrap, and to export the models `apt-get install python3-torch python3-torchvision
# python3-onnx` (development tools). Usage: benchmarks/pvr/tail.sh [iterations]   (default 3)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
iterations=${1:-3}
models="$repo/.native/bench-models"
mkdir -p "$models"
for id in resnet18-pieg resnet18 vit-s14-bench; do
  [ -f "$models/$id.onnx" ] || /usr/bin/python3 "$repo/models/export/export_pvr.py" "$id" --random-weights --out "$models/$id.onnx" >/dev/null 2>&1
done
dotnet build "$repo/benchmarks/RobotRuntime.Benchmarks" -c Release -v q --nologo >/dev/null
bench="$repo/benchmarks/RobotRuntime.Benchmarks/bin/Release/net10.0/RobotRuntime.Benchmarks.dll"
for spec in "resnet18-pieg 112 /body/body.5/" "resnet18 224 /resnet/layer4/" "vit-s14-bench 224 /encoder/layers/encoder_layer_11/"; do
  set -- $spec
  for threads in 1 2; do
    dotnet "$bench" pvr-tail "$models/$1.onnx" "$2" "$3" 8 "$threads" "$iterations"
  done
done
