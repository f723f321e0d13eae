#!/usr/bin/env bash
# How long `scripts/rr doctor --json` takes once rr is built, beside what the script used to run
# (`dotnet run --project src/RobotRuntime.Cli -c Release -- doctor --json`: an MSBuild up-to-date
# check, then the same program), alternated run by run. Prints each side's median and the ratio.
# Usage: benchmarks/scripts/rr-startup.sh [ROUNDS]   (default 9; rr must be built: scripts/rr builds it)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
rounds=${1:-9}
"$repo/scripts/rr" doctor --json >/dev/null   # build if needed, warm the disk cache
elapsed() { local start end; start=$(date +%s%N); "$@" >/dev/null 2>&1; end=$(date +%s%N); echo $(( (end - start) / 1000000 )); }
script=() runner=()
for _ in $(seq 1 "$rounds"); do
  script+=("$(elapsed "$repo/scripts/rr" doctor --json)")
  runner+=("$(elapsed env MSBUILDDISABLENODEREUSE=1 dotnet run --project "$repo/src/RobotRuntime.Cli" -c Release -- doctor --json)")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
s=$(median "${script[@]}"); r=$(median "${runner[@]}")
echo "scripts/rr doctor --json: median ${s} ms over ${rounds} runs (all: ${script[*]})"
echo "dotnet run ... doctor --json: median ${r} ms over ${rounds} runs (all: ${runner[*]})"
awk -v s="$s" -v r="$r" 'BEGIN { printf "ratio dotnet run / scripts/rr: %.1f\n", r / s }'
