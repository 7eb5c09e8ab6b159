#!/usr/bin/env bash
# On a GPU machine (the device tool's H100/H200, 16 cores), from the repo root with .device/
# carried (see pack.sh): reports what Dawn sees, then times in one run
#   1. the ML-1M LightGCN epoch at batch 4096 on the GPU backend;
#   2. the same on the CPU backend with every core;
#   3. steps on a generated graph of MovieLens-32M's shape on the GPU, and 4. on the CPU.
# Every bench ends with one JSON line; they are collected in $OUT/results.jsonl, the whole log
# in $OUT/log.txt. Nothing here fails the run early: a failed part is reported and the rest go on.
set -uo pipefail
if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then
  printf '%b\n' "Usage: [OUT=dir] [QUICK=1] bash training/bench/device/run.sh\nOn the GPU machine, with .device/ carried: prints what Dawn sees, then times LightGCN on the GPU and CPU backends\n(ML-1M epoch at batch 4096; ML-32M-shape steps at batch 262,144) into \$OUT/results.jsonl and \$OUT/log.txt.\nQUICK=1: a few ML-1M steps only (a check of this script without a GPU)."
  exit 0
fi
cd "$(dirname "$0")/../../.."
D="$PWD/.device"
OUT="${OUT:-/tmp/edgerec-out}"
W=/tmp/edgerec
mkdir -p "$OUT" "$W/data/ml-1m"
exec > >(tee "$OUT/log.txt") 2>&1
[ -d "$D" ] || { echo "run.sh: .device/ is missing: run training/bench/device/pack.sh here first and carry .device"; exit 2; }

xz -dc "$D/node.xz" >"$W/node" && chmod +x "$W/node"
xz -dc "$D/node_modules/webgpu/dist/linux-x64/dawn.node.xz" >"$D/node_modules/webgpu/dist/linux-x64/dawn.node"
for f in "$D"/data/ml-1m/*.xz; do xz -dc "$f" >"$W/data/ml-1m/$(basename "$f" .xz)"; done
export PATH="$W:$PATH" EDGEREC_KERNELS_WASM="$D/kernels.wasm"

echo "== machine"
nproc; free -g | head -2; nvidia-smi -L 2>&1 || echo "nvidia-smi: not found"
echo "== Vulkan"
if ! ldconfig -p | grep -q 'libvulkan.so.1'; then
  echo "no Vulkan loader on this machine: unpacking Debian's libvulkan1 from .device/debs"
  for f in "$D"/debs/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
ldconfig -p | grep libvulkan || echo "still no libvulkan.so.1"
for dir in /usr/share/vulkan/icd.d /etc/vulkan/icd.d /usr/local/nvidia/share/vulkan/icd.d; do
  [ -d "$dir" ] && { echo "$dir:"; ls "$dir"; }
done
if ! ls /usr/share/vulkan/icd.d/nvidia* /etc/vulkan/icd.d/nvidia* >/dev/null 2>&1 && [ -e /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  echo "using VK_DRIVER_FILES=$VK_DRIVER_FILES"
fi
echo "== what Dawn sees"
(cd "$D" && node -e '
import("webgpu").then(async ({ create }) => {
  const gpu = create([]);
  for (const powerPreference of ["high-performance", "low-power"]) {
    const a = await gpu.requestAdapter({ powerPreference });
    console.log(powerPreference, a ? JSON.stringify({ vendor: a.info.vendor, architecture: a.info.architecture, device: a.info.device, description: a.info.description, maxStorageBufferBindingSize: a.limits.maxStorageBufferBindingSize, maxBufferSize: a.limits.maxBufferSize }) : "no adapter");
  }
  process.exit(0);
});')

bench() {
  local label="$1"
  shift
  echo "== $label: bench $*"
  local line
  line=$(cd "$D" && timeout 240 node bench.mjs --data-dir "$W/data" "$@" 2> >(grep -v "artificially reduced" >&2) | tee /dev/stderr | tail -1)
  if [[ "$line" == "{"* ]]; then echo "{\"label\":\"$label\",\"result\":$line}" >>"$OUT/results.jsonl"; else echo "{\"label\":\"$label\",\"failed\":true}" >>"$OUT/results.jsonl"; fi
}

cores=$(nproc)
if [ -n "${QUICK:-}" ]; then
  # a check of this script on a machine without a GPU (lavapipe): a few steps, no ML-32M shape
  bench "ml-1m gpu (quick)" --dataset ml-1m --device gpu --batch 4096 --steps 3 --repeat 3
  bench "ml-1m cpu (quick)" --dataset ml-1m --device cpu --threads "$cores" --batch 4096 --steps 3 --repeat 3
  (cd "$D" && node data.mjs --help | head -3)
  exit 0
fi
bench "ml-1m gpu" --dataset ml-1m --device gpu --batch 4096 --repeat 20
bench "ml-1m cpu" --dataset ml-1m --device cpu --threads "$cores" --batch 4096 --repeat 20

echo "== generating synthetic-ml-32m"
(cd "$D" && timeout 300 node data.mjs --synthetic ml-32m --data-dir "$W/data") || echo "generation failed"
bench "ml-32m-shape gpu" --dataset synthetic-ml-32m --device gpu --batch 262144 --steps 8 --repeat 5
bench "ml-32m-shape cpu" --dataset synthetic-ml-32m --device cpu --threads "$cores" --batch 262144 --steps 3 --repeat 3
echo "== results"
cat "$OUT/results.jsonl"
