#!/usr/bin/env bash
# The native (NativeAOT) CLI against the JIT build, as a user runs them: whole processes (issue 18).
#   - timings by BenchmarkDotNet (bench/InceptionNet.Bench, NativeBenchmarks.cs), one process per invocation:
#     cold start (process start to JSON out, `embed` of one image, per model) and steady state (FaceNet-160 `embed` of
#     8 and 64 copies of one image, batch 1 and 16, at each kernel level; the marginal time per image between them);
#   - peak RSS of one `embed` per model (GNU time, median of RUNS) and the binary sizes.
# Usage: bench/native/run.sh [RUNS]  (from the repository root; needs ../shared, GNU time, and
# tools/native/publish.sh linux-x64 already run; about 15 minutes on 2 cores). Prints Markdown and leaves the
# BenchmarkDotNet tables in BenchmarkDotNet.Artifacts/results; bench/results/native.md holds a run with its machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-3}
native=artifacts/native/linux-x64/inceptionnet
[ -x "$native" ] || { echo "error: run tools/native/publish.sh linux-x64 first" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dotnet publish -c Release src/InceptionNet.Cli -o "$work/jit" -nologo -v quiet >/dev/null
export INCEPTIONNET_NATIVE_CLI=$PWD/$native INCEPTIONNET_JIT_CLI=$work/jit/inceptionnet.dll
face=../shared/images/course/younes.jpg

echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; kernels here: $("$native" info --json | sed -E 's/.*"kernels":"([^"]*)".*/\1/'); $(date -u +%F); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
dotnet run -c Release --project bench/InceptionNet.Bench -- --filter '*NativeColdStart*' '*NativeSteadyState*' >"$work/bdn.log" 2>&1 \
  || { tail -n 40 "$work/bdn.log" >&2; exit 1; }
for table in BenchmarkDotNet.Artifacts/results/InceptionNet.Bench.NativeColdStartBenchmarks-report-github.md \
             BenchmarkDotNet.Artifacts/results/InceptionNet.Bench.NativeSteadyStateBenchmarks-report-github.md; do
  echo; cat "$table"
done
echo; echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

declare -A weights=([facenet]=../shared/fixtures/facenet-synthetic/weights.h5 [openface]=../shared/fixtures/openface-synthetic/weights.h5 [faceapi]=../shared/weights/faceapi)
peak() { # peak CMD...: peak RSS in KiB of one run (stdout discarded)
  /usr/bin/time -f '%M' "$@" >/dev/null 2>"$work/time" || { echo "error: $* failed: $(cat "$work/time")" >&2; exit 1; }
  tail -n 1 "$work/time"
}
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo
echo "| peak RSS, embed 1 image | JIT | native |"
echo "|---|---|---|"
for model in facenet openface faceapi; do
  args=(embed --model "$model" --weights "${weights[$model]}" --json "$face")
  : >"$work/j"; : >"$work/n"
  for ((r = 0; r < runs; r++)); do
    peak dotnet "$INCEPTIONNET_JIT_CLI" "${args[@]}" >>"$work/j"
    peak "$native" "${args[@]}" >>"$work/n"
  done
  awk -v m="$model" -v j="$(median <"$work/j")" -v n="$(median <"$work/n")" 'BEGIN { printf "| %s | %.0f MiB | %.0f MiB |\n", m, j / 1024, n / 1024 }'
done

echo
echo "| binary | size |"
echo "|---|---|"
for f in artifacts/native/linux-*/inceptionnet*; do
  [ -f "$f" ] && echo "| \`${f#artifacts/native/}\` | $(du -m "$f" | cut -f1) MiB ($(stat -c %s "$f") bytes) |"
done
