#!/usr/bin/env bash
# Tensor engine vs libtorch 2.10 (TorchSharp-cpu 0.107.0) on convolutions, alternated in one process.
#
#   benchmarks/TorchCompare/run.sh [ROUNDS [THREADS]] [program options]
#   benchmarks/TorchCompare/run.sh 5 1,2
#   benchmarks/TorchCompare/run.sh --smoke --rounds 1 --threads 1
#   benchmarks/TorchCompare/run.sh --check-only
#   benchmarks/TorchCompare/run.sh --help            (the program's options)
#
# Idempotent steps, each redone only when its inputs changed:
#  1. patchelf (apt) if missing;
#  2. build this project (not in RobotRuntime.sln) with its outputs under
#     ~/.cache/robotruntime/torchcompare/artifacts (not in the repository's bin/obj folders);
#  3. in ~/.cache/robotruntime/torchsharp-shim/: the std::ios_base_library_init() shim, a diag
#     library (libtorch build facts), and a patched COPY of TorchSharp's libLibTorchSharp.so
#     (the NuGet cache is never modified);
#  4. put those three next to the program (replacing the unpatched copy the build put there);
#  5. run, printing markdown (with GLIBC_TUNABLES set for libtorch's allocator unless already set).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/robotruntime
shim_dir=$cache/torchsharp-shim
artifacts=$cache/torchcompare/artifacts
out=$artifacts/bin/TorchCompare/release_linux-x64
packages=${NUGET_PACKAGES:-$HOME/.nuget/packages}
torchsharp_version=0.107.0
libtorch_version=2.10.0

args=()
if [[ $# -ge 1 && $1 =~ ^[0-9]+$ ]]; then args+=(--rounds "$1"); shift
  if [[ $# -ge 1 && $1 =~ ^[0-9,]+$ ]]; then args+=(--threads "$1"); shift; fi
fi
args+=("$@")

log() { echo "run.sh: $*" >&2; }

# 1. patchelf
if ! command -v patchelf >/dev/null; then
  log "installing patchelf (apt)"
  apt-get update -qq >/dev/null && apt-get install -y -qq patchelf >/dev/null
fi

# 2. build (restores TorchSharp 0.107.0 and libtorch-cpu-linux-x64 2.10.0, ~600 MB, the first time).
#    TORCHCOMPARE_SKIP_BUILD=1 reuses the last build (e.g. while someone's edit elsewhere breaks it).
mkdir -p "$cache/torchcompare"
build_log=$cache/torchcompare/build.log
if [[ ${TORCHCOMPARE_SKIP_BUILD:-0} == 1 && -f $out/TorchCompare.dll ]]; then
  log "TORCHCOMPARE_SKIP_BUILD=1: reusing $out (built $(date -r "$out/TorchCompare.dll" '+%F %T'))"
else
  log "building (log: $build_log)"
  if ! dotnet build "$here/TorchCompare.csproj" -c Release --nologo -v q \
       --artifacts-path "$artifacts" >"$build_log" 2>&1; then
    tail -40 "$build_log" >&2
    log "build failed"
    exit 1
  fi
fi

torchsharp_native=$packages/torchsharp/$torchsharp_version/runtimes/linux-x64/native
libtorch_native=$packages/libtorch-cpu-linux-x64/$libtorch_version/runtimes/linux-x64/native
[[ -f $torchsharp_native/libLibTorchSharp.so && -f $libtorch_native/libtorch_cpu.so ]] || {
  log "TorchSharp/libtorch natives not found under $packages"; exit 1; }

# 3. native pieces in the cache
mkdir -p "$shim_dir"
shim=$shim_dir/libstdcxx_ios_init_shim.so
diag=$shim_dir/libtorchcompare_diag.so
patched=$shim_dir/libLibTorchSharp.so
if [[ ! -f $shim || $here/native/ios_base_library_init_shim.cpp -nt $shim ]]; then
  log "building $shim"
  g++ -shared -fPIC -O2 -o "$shim.tmp" "$here/native/ios_base_library_init_shim.cpp"
  mv "$shim.tmp" "$shim"
fi
if [[ ! -f $diag || $here/native/torch_diag.cpp -nt $diag ]]; then
  log "building $diag"
  g++ -shared -fPIC -O2 -o "$diag.tmp" "$here/native/torch_diag.cpp" \
    -L"$libtorch_native" -l:libtorch_cpu.so -Wl,-rpath,'$ORIGIN' -Wl,-rpath-link,"$libtorch_native"
  mv "$diag.tmp" "$diag"
fi
stamp=$(cat "$torchsharp_native/libLibTorchSharp.so" "$here/native/mark_verneed_weak.py" | sha256sum | cut -d' ' -f1)
if [[ ! -f $patched || $(cat "$patched.stamp" 2>/dev/null) != "$stamp" ]]; then
  log "patching a copy of libLibTorchSharp.so into $patched"
  cp "$torchsharp_native/libLibTorchSharp.so" "$patched.tmp"
  chmod u+w "$patched.tmp"
  # The one symbol needing GLIBCXX_3.4.32 becomes unversioned (the shim defines it), the version
  # need becomes WEAK (Debian 12's libstdc++ stops at 3.4.30), and the shim becomes a DT_NEEDED
  # found through the library's RUNPATH $ORIGIN.
  patchelf --clear-symbol-version _ZSt21ios_base_library_initv "$patched.tmp"
  patchelf --add-needed libstdcxx_ios_init_shim.so "$patched.tmp"
  python3 "$here/native/mark_verneed_weak.py" "$patched.tmp" GLIBCXX_3.4.32
  mv "$patched.tmp" "$patched"
  echo "$stamp" >"$patched.stamp"
fi

# 4. next to the program (the build copies the unpatched library there each time it changes)
for f in "$patched" "$shim" "$diag"; do
  if ! cmp -s "$f" "$out/$(basename "$f")"; then
    rm -f "$out/$(basename "$f")"
    cp "$f" "$out/"
  fi
done

# 5. run. libtorch's large buffers go back to the OS after each call and are faulted in again unless
#    glibc keeps them (README, "Allocator note"); the engine does not use malloc for tensors. Set
#    GLIBC_TUNABLES yourself (even to "") to override.
export GLIBC_TUNABLES=${GLIBC_TUNABLES-glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967296}
log "lscpu: $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
exec dotnet "$out/TorchCompare.dll" "${args[@]}"
