#!/usr/bin/env bash
# Issue 19's measurements on this machine in one go, each peer in the same BenchmarkDotNet run or minutes apart, then a
# table of every goal's ratio against its target for this machine's class (AVX-512 or AVX2, as the engine runs here):
#   1. FaceNet against ONNX Runtime at batch 1 and 16, as separate cases and in pairs, and batch 16's share of the measured
#      FMA peak (FaceNetBenchmarks, FaceNetPairedBenchmarks)
#   2. the CLI's marginal time per image against ONNX Runtime's, round by round, and its first embedding (bench/native/cli-vs-ort.sh)
#   3. MTCNN's time and allocation per photo (DetectBenchmarks), against facenet-pytorch when FACENET_PYTORCH names a
#      checkout of github.com/timesler/facenet-pytorch (tools/mtcnn_peer_timing.py; python3 with torch and PIL)
#   4. face-api at batch 1 (FaceApiBenchmarks), against face-api's own wasm backend (../shared/tools/faceapi_peer; node, npm)
#   5. identify over 10k and 1M vectors (SearchBenchmarks, its identify rows)
# Usage: bench/goals.sh [TAG]   from the repository root, on a quiet machine (nothing else building or running); about
# 17 minutes on 2 cores. The results land in bench/results/goals-TAG-<UTC time>/ (TAG defaults to the CPU's family and
# model): the reports, the peers' output, machine.txt and goals.md, the table. Commit the folder with the CPU it names.
# A run that fails stops at once, says which step and where its output is, and leaves its folder as
# bench/results/goals-…-partial, which is not a result.
# Env: FACENET_PYTORCH (goal 3's peer; without it that row is "not measured"), PYTHON (default python3).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d ../shared/fixtures ] || { echo "error: ../shared (fixtures, weights, images) is missing next to the repository" >&2; exit 2; }
family=$(sed -n 's/^cpu family[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
model=$(sed -n 's/^model[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
tag=${1:-family$family-model$model}
final=bench/results/goals-$tag-$(date -u +%Y%m%d-%H%M)
out=$final-partial
logs=$out/logs # each step's full output, dropped once every step has passed
rm -rf "$out"
mkdir -p "$logs"
reports=BenchmarkDotNet.Artifacts/results
peer=$(mktemp -d)
trap 'rm -rf "$peer"' EXIT
fail() { echo "error: $1; its output: $2 (this run's folder, $out, is not a result)" >&2; exit 1; }

# The peers' tools first, so a missing one stops the run before the long steps, not after them.
if [ -n "${FACENET_PYTORCH:-}" ]; then
  "${PYTHON:-python3}" -c 'import torch, PIL' >"$logs/python.txt" 2>&1 \
    || fail "FACENET_PYTORCH is set but ${PYTHON:-python3} cannot import torch and PIL (Debian: python3-torch python3-pil; or set PYTHON)" "$logs/python.txt"
  [ -f "$FACENET_PYTORCH/models/mtcnn.py" ] || { echo "error: FACENET_PYTORCH=$FACENET_PYTORCH holds no models/mtcnn.py" >&2; exit 2; }
fi
if command -v node >/dev/null && command -v npm >/dev/null; then
  echo "installing face-api's peer (npm ci)…" >&2
  cp ../shared/tools/faceapi_peer/package.json ../shared/tools/faceapi_peer/package-lock.json "$peer"/
  (cd "$peer" && npm ci --ignore-scripts --no-audit --no-fund) >"$logs/npm.txt" 2>&1 || fail "npm ci of face-api's peer failed" "$logs/npm.txt"
fi

echo "building the benchmarks…" >&2
dotnet build -c Release bench/InceptionNet.Bench -nologo -v quiet >"$logs/build.txt" 2>&1 || fail "the build failed" "$logs/build.txt"
bench=bench/InceptionNet.Bench/bin/Release/net10.0/InceptionNet.Bench
dotnet build-server shutdown >/dev/null 2>&1 || true
{
  echo "CPU: $(lscpu | sed -n 's/^Model name: *//p') (family $family, model $model), $(nproc) cores," \
    "$(grep -q -m1 avx512f /proc/cpuinfo && echo 'AVX-512 in /proc/cpuinfo' || echo 'no AVX-512')"
  "$bench" --simd-level
  echo "commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src bench || echo ' (with uncommitted changes)'), started $(date -u '+%F %T') UTC, load $(cut -d' ' -f1-3 /proc/loadavg)${INCEPTIONNET_SIMD:+, INCEPTIONNET_SIMD=$INCEPTIONNET_SIMD}"
  "$bench" --quick --peak
} | tee "$out/machine.txt" >&2

# Copies one class's reports into the folder; a run that wrote none (a filter matching nothing) is an error.
keep() {
  [ -f "$reports/InceptionNet.Bench.$1-report.csv" ] || fail "$1 wrote no report" "$2"
  cp "$reports/InceptionNet.Bench.$1-report.csv" "$reports/InceptionNet.Bench.$1-report-github.md" "$out/"
}

# One BenchmarkDotNet class (or, with a second argument, the methods of it matching that filter). The bench exits non-zero
# when a case fails.
run() {
  echo "$(date -u +%T) $1…" >&2
  rm -f "$reports/InceptionNet.Bench.$1-report"*
  dotnet run -c Release --no-build --project bench/InceptionNet.Bench -- --filter "${2:-*$1*}" >"$logs/$1.txt" 2>&1 \
    || fail "$1 failed" "$logs/$1.txt"
  keep "$1" "$logs/$1.txt"
}

run FaceNetBenchmarks
run FaceNetPairedBenchmarks

echo "$(date -u +%T) CliEmbedBenchmarks (bench/native/cli-vs-ort.sh)…" >&2
rm -f "$reports/InceptionNet.Bench.CliEmbedBenchmarks-report"*
bash bench/native/cli-vs-ort.sh >"$logs/cli-vs-ort.txt" 2>&1 || fail "bench/native/cli-vs-ort.sh failed" "$logs/cli-vs-ort.txt"
keep CliEmbedBenchmarks "$logs/cli-vs-ort.txt"

run DetectBenchmarks
if [ -n "${FACENET_PYTORCH:-}" ]; then
  echo "$(date -u +%T) facenet-pytorch's MTCNN…" >&2
  "${PYTHON:-python3}" tools/mtcnn_peer_timing.py --facenet-pytorch "$FACENET_PYTORCH" >"$logs/mtcnn-peer.txt" 2>&1 \
    || fail "tools/mtcnn_peer_timing.py failed" "$logs/mtcnn-peer.txt"
  cp "$logs/mtcnn-peer.txt" "$out/"
fi

run FaceApiBenchmarks
if [ -d "$peer/node_modules" ]; then
  echo "$(date -u +%T) face-api's wasm backend…" >&2
  (cd ../shared/tools/faceapi_peer && NODE_PATH="$peer/node_modules" node time_descriptor.js --backend wasm) >"$logs/faceapi-peer.json" 2>"$logs/faceapi-peer.err" \
    || fail "face-api's peer (node time_descriptor.js) failed" "$logs/faceapi-peer.err"
  cp "$logs/faceapi-peer.json" "$out/"
fi

run SearchBenchmarks '*SearchBenchmarks.Identify*' # the goal's rows only: the two kernels beside it add ten minutes

echo "finished $(date -u '+%F %T') UTC, load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/machine.txt" >&2
"$bench" --goals "$out" >"$logs/goals.md" 2>&1 || fail "reading the reports back (bench --goals) failed" "$logs/goals.md"
cp "$logs/goals.md" "$out/"
rm -rf "$logs"
mv "$out" "$final"
cat "$final/goals.md"
echo "saved in $final" >&2
