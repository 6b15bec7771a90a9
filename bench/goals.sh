#!/usr/bin/env bash
# Issue 19's measurements on this machine in one go, each peer in the same BenchmarkDotNet run or minutes apart, then a
# table of every goal's ratio against its target for this machine's class (AVX-512 or AVX2):
#   1. FaceNet against ONNX Runtime at batch 1 and 16, and batch 16's share of the measured FMA peak (FaceNetBenchmarks)
#   2. the CLI's marginal time per image against ONNX Runtime's best, and its first embedding (bench/native/cli-vs-ort.sh)
#   3. MTCNN's time and allocation per photo (DetectBenchmarks), against facenet-pytorch when FACENET_PYTORCH names a
#      checkout of github.com/timesler/facenet-pytorch (tools/mtcnn_peer_timing.py; python3 with torch and PIL)
#   4. face-api at batch 1 (FaceApiBenchmarks), against face-api's own wasm backend (../shared/tools/faceapi_peer; node, npm)
#   5. identify over 10k and 1M vectors (SearchBenchmarks)
# Usage: bench/goals.sh [TAG]   from the repository root, on a quiet machine (nothing else building or running); about
# 15 minutes on 2 cores. Everything lands in bench/results/goals-TAG-<UTC time>/ (TAG defaults to the CPU's family and
# model): the reports, the peers' output, machine.txt and goals.md, the table. Commit the folder with the CPU it names.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d ../shared/fixtures ] || { echo "error: ../shared (fixtures, weights, images) is missing next to the repository" >&2; exit 2; }
family=$(sed -n 's/^cpu family[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
model=$(sed -n 's/^model[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
tag=${1:-family$family-model$model}
out=bench/results/goals-$tag-$(date -u +%Y%m%d-%H%M)
logs=$out/logs # each step's full output, kept only when a step fails
mkdir -p "$logs"
reports=BenchmarkDotNet.Artifacts/results

echo "building the benchmarks…" >&2
dotnet build -c Release bench/InceptionNet.Bench -nologo -v quiet >/dev/null
bench=bench/InceptionNet.Bench/bin/Release/net10.0/InceptionNet.Bench
dotnet build-server shutdown >/dev/null 2>&1 || true
{
  echo "CPU: $(lscpu | sed -n 's/^Model name: *//p') (family $family, model $model), $(nproc) cores," \
    "$(grep -q -m1 avx512f /proc/cpuinfo && echo AVX-512 || echo 'no AVX-512')"
  echo "commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src bench || echo ' (with uncommitted changes)'), started $(date -u '+%F %T') UTC, load $(cut -d' ' -f1-3 /proc/loadavg)"
  "$bench" --quick --peak
} | tee "$out/machine.txt" >&2

# One BenchmarkDotNet class (or, with a second argument, the methods of it matching that filter); its CSV and GitHub
# tables are copied into the folder.
run() {
  echo "$(date -u +%T) $1…" >&2
  rm -f "$reports/InceptionNet.Bench.$1-report"*
  dotnet run -c Release --no-build --project bench/InceptionNet.Bench -- --filter "${2:-*$1*}" >"$logs/$1.log" 2>&1 \
    || { tail -n 30 "$logs/$1.log" >&2; echo "error: $1 failed; its output: $logs/$1.log" >&2; exit 1; }
  cp "$reports/InceptionNet.Bench.$1-report.csv" "$reports/InceptionNet.Bench.$1-report-github.md" "$out/"
}

run FaceNetBenchmarks

echo "$(date -u +%T) CliEmbedBenchmarks (bench/native/cli-vs-ort.sh)…" >&2
rm -f "$reports/InceptionNet.Bench.CliEmbedBenchmarks-report"*
bash bench/native/cli-vs-ort.sh >"$logs/cli-vs-ort.txt" 2>&1 \
  || { tail -n 30 "$logs/cli-vs-ort.txt" >&2; echo "error: bench/native/cli-vs-ort.sh failed; its output: $logs/cli-vs-ort.txt" >&2; exit 1; }
cp "$reports/InceptionNet.Bench.CliEmbedBenchmarks-report.csv" "$reports/InceptionNet.Bench.CliEmbedBenchmarks-report-github.md" "$out/"

run DetectBenchmarks
if [ -n "${FACENET_PYTORCH:-}" ]; then
  echo "$(date -u +%T) facenet-pytorch's MTCNN…" >&2
  "${PYTHON:-python3}" tools/mtcnn_peer_timing.py --facenet-pytorch "$FACENET_PYTORCH" >"$out/mtcnn-peer.txt" 2>&1 \
    || { cat "$out/mtcnn-peer.txt" >&2; exit 1; }
fi

run FaceApiBenchmarks
if command -v node >/dev/null && command -v npm >/dev/null; then
  echo "$(date -u +%T) face-api's wasm backend…" >&2
  peer=$(mktemp -d)
  trap 'rm -rf "$peer"' EXIT
  cp ../shared/tools/faceapi_peer/package.json ../shared/tools/faceapi_peer/package-lock.json "$peer"/
  (cd "$peer" && npm ci --ignore-scripts --no-audit --no-fund >/dev/null)
  (cd ../shared/tools/faceapi_peer && NODE_PATH="$peer/node_modules" node time_descriptor.js --backend wasm) >"$out/faceapi-peer.json"
fi

run SearchBenchmarks '*SearchBenchmarks.Identify*' # the goal's rows only: the two kernels beside it add ten minutes

echo "finished $(date -u '+%F %T') UTC, load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/machine.txt" >&2
rm -rf "$logs"
"$bench" --goals "$out" | tee "$out/goals.md"
