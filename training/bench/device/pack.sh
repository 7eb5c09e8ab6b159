#!/usr/bin/env bash
# Packs what training/bench/device/run.sh needs on a GPU machine that reaches no network and
# has no Node: the bench and data CLIs bundled with esbuild, the kernels, Dawn's linux-x64
# binary, this machine's Node binary, ML-1M and Debian's Vulkan loader, into .device/ (ignored
# by git; about 40 MB, under the device tool's 64 MiB). Run here, then on the GPU machine:
#   bash training/bench/device/run.sh        (with .device carried)
set -euo pipefail
if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then
  printf '%b\n' "Usage: bash training/bench/device/pack.sh\nPacks .device/ (bundled bench and data CLIs, kernels, Dawn, Node, ML-1M, libvulkan1) for run.sh on a GPU machine with no network.\nReads ML-1M from MOVIELENS_DIR (default ../shared/datasets)."
  exit 0
fi
cd "$(dirname "$0")/../../.."
out=.device
data="${MOVIELENS_DIR:-../shared/datasets}"
rm -rf "$out"
mkdir -p "$out/node_modules/webgpu/dist/linux-x64" "$out/data/ml-1m" "$out/debs"

npm run build >/dev/null
for entry in bench:training/bench/train.ts data:training/src/cli/data.ts; do
  name="${entry%%:*}"
  npx esbuild "${entry#*:}" --bundle --platform=node --format=esm --target=node22 --external:webgpu \
    --banner:js="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" \
    --outfile="$out/$name.mjs" --log-level=warning
done
cp training/build/kernels.wasm training/src/engine/wasm/worker.mjs "$out/"
cp node_modules/webgpu/package.json node_modules/webgpu/index.js "$out/node_modules/webgpu/"
xz -T0 -6 -c node_modules/webgpu/dist/linux-x64/dawn.node >"$out/node_modules/webgpu/dist/linux-x64/dawn.node.xz"
xz -T0 -6 -c "$(command -v node)" >"$out/node.xz"
for f in ratings.dat movies.dat users.dat README; do
  if [ -e "$data/ml-1m/$f" ]; then xz -T0 -6 -c "$data/ml-1m/$f" >"$out/data/ml-1m/$f.xz"; fi
done
# the Vulkan loader, for a machine whose image lacks it (unpacked there only when missing)
(cd "$out/debs" && apt-get download libvulkan1 >/dev/null 2>&1) || echo "pack: could not download libvulkan1 (run apt-get update); run.sh will use the machine's loader"
du -sh "$out"
echo "packed $out: now run training/bench/device/run.sh on the GPU machine with carry [\"$out\"]"
