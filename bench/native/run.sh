#!/usr/bin/env bash
# The native (NativeAOT) CLI against the JIT build, as a user runs them: whole processes, wall clock and peak RSS.
#   - cold start: process start to JSON out, `embed` of one image, per model (median of RUNS runs, JIT and native
#     interleaved so a noisy neighbour hits both alike);
#   - steady state: the marginal time per image of `embed` over 64 vs 8 copies of one image (load and warm-up cancel),
#     batch 1 and batch 16, FaceNet-160, at each kernel level: the native binary the launcher picks for the level
#     against the JIT capped to the same level (INCEPTIONNET_SIMD; for Vector128 the JIT also loses AVX2/FMA, as an
#     x86-64-v2 machine would);
#   - binary size and peak RSS.
# Usage: bench/native/run.sh [RUNS]  (from the repository root; needs ../shared, GNU time, and
# tools/native/publish.sh linux-x64 already run). Prints Markdown; bench/results/native.md holds a run with its machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-5}
native=artifacts/native/linux-x64/inceptionnet
[ -x "$native" ] || { echo "error: run tools/native/publish.sh linux-x64 first" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dotnet publish -c Release src/InceptionNet.Cli -o "$work/jit" -nologo -v quiet >/dev/null
jit=(dotnet "$work/jit/inceptionnet.dll")
face=../shared/images/course/younes.jpg

declare -A weights=([facenet]=../shared/fixtures/facenet-synthetic/weights.h5 [openface]=../shared/fixtures/openface-synthetic/weights.h5 [faceapi]=../shared/weights/faceapi)

measure() { # measure CMD...: "seconds peak_kib" of one run (stdout discarded)
  /usr/bin/time -f '%e %M' "$@" >/dev/null 2>"$work/time" || { echo "error: $* failed: $(cat "$work/time")" >&2; exit 1; }
  tail -n 1 "$work/time"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; kernels here: $("$native" info --json | sed -E 's/.*"kernels":"([^"]*)".*/\1/'); $(date -u +%F)"
echo
echo "| cold start, embed 1 image | JIT | native | native / JIT | JIT peak RSS | native peak RSS |"
echo "|---|---|---|---|---|---|"
for model in facenet openface faceapi; do
  args=(embed --model "$model" --weights "${weights[$model]}" --json "$face")
  : >"$work/j"; : >"$work/n"
  for ((r = 0; r < runs; r++)); do
    measure "${jit[@]}" "${args[@]}" >>"$work/j"
    measure "$native" "${args[@]}" >>"$work/n"
  done
  jt=$(cut -d' ' -f1 "$work/j" | median); nt=$(cut -d' ' -f1 "$work/n" | median)
  jm=$(cut -d' ' -f2 "$work/j" | median); nm=$(cut -d' ' -f2 "$work/n" | median)
  awk -v m="$model" -v jt="$jt" -v nt="$nt" -v jm="$jm" -v nm="$nm" \
    'BEGIN { printf "| %s | %.2f s | %.2f s | **%.2f** | %.0f MiB | %.0f MiB |\n", m, jt, nt, nt / jt, jm / 1024, nm / 1024 }'
done

mkdir -p "$work/faces"
for ((i = 0; i < 64; i++)); do ln -s "$(realpath "$face")" "$work/faces/$(printf '%02d' "$i").jpg"; done
few=("$work"/faces/0[0-7].jpg)
many=("$work"/faces/*.jpg)
marginal() { # marginal CMD...: ms per image between 8 and 64 images (median of the runs)
  : >"$work/m"
  for ((r = 0; r < runs; r++)); do
    a=$(measure "$@" "${few[@]}" | cut -d' ' -f1); b=$(measure "$@" "${many[@]}" | cut -d' ' -f1)
    awk -v a="$a" -v b="$b" 'BEGIN { print (b - a) * 1000 / 56 }' >>"$work/m"
  done
  median <"$work/m"
}

echo
echo "| FaceNet-160 embed, marginal per image | level | JIT | native (binary) | native / JIT |"
echo "|---|---|---|---|---|"
for level in 512 256 128; do
  jitenv=(env INCEPTIONNET_SIMD=$level)
  [ "$level" = 128 ] && jitenv+=(DOTNET_EnableAVX2=0)
  target=$(INCEPTIONNET_SIMD=$level "$native" info --json | sed -E 's/.*"target":"([^"]*)".*/\1/')
  best=$(INCEPTIONNET_SIMD=$level "$native" info --json | sed -E 's/.*"kernels":"([^"]*)".*/\1/')
  for batch in 1 16; do
    args=(embed --model facenet --weights "${weights[facenet]}" --json --batch "$batch")
    j=$(marginal "${jitenv[@]}" "${jit[@]}" "${args[@]}")
    n=$(marginal env INCEPTIONNET_SIMD=$level "$native" "${args[@]}")
    awk -v l="$best" -v b="$batch" -v j="$j" -v n="$n" -v t="$target" \
      'BEGIN { printf "| batch %s | %s | %.1f ms | %.1f ms (%s) | **%.2f** |\n", b, l, j, n, t, n / j }'
  done
done

echo
echo "| binary | size |"
echo "|---|---|"
for f in artifacts/native/linux-*/inceptionnet*; do
  [ -f "$f" ] && echo "| \`${f#artifacts/native/}\` | $(du -m "$f" | cut -f1) MiB ($(stat -c %s "$f") bytes) |"
done
