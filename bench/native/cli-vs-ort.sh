#!/usr/bin/env bash
# The CLI as a user runs it against ONNX Runtime, in one BenchmarkDotNet run (issue 19, goal 2): `inceptionnet embed
# --model facenet` over one course image as a whole process (the first embedding), and rounds of a 64-image and a
# 16-image process with ONNX Runtime over 16 images at batch 16 between them, so the marginal per image and its ratio to
# ONNX Runtime come from measurements seconds apart (JIT build; the native one too when tools/native/publish.sh
# linux-x64 has been run); ONNX Runtime and the engine in process at batch 1 and 16, 2 threads. Prints the table
# (CliEmbedBenchmarks.cs: per-image columns; "Marginal / ORT" on a rounds row is the goal's ratio, asked ≤ 0.85).
# Usage: bench/native/cli-vs-ort.sh  (from the repository root; needs ../shared; about 8 minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dotnet publish -c Release -r linux-x64 --self-contained false src/InceptionNet.Cli -o "$work/jit" -nologo -v quiet >/dev/null # ReadyToRun, as shipped
export INCEPTIONNET_JIT_CLI=$work/jit/inceptionnet.dll
native=artifacts/native/linux-x64/inceptionnet
if [ -x "$native" ]; then export INCEPTIONNET_NATIVE_CLI=$PWD/$native; else unset INCEPTIONNET_NATIVE_CLI; fi
dotnet build-server shutdown >/dev/null 2>&1 || true
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(date -u '+%F %T') UTC; load before: $(cut -d' ' -f1-3 /proc/loadavg); native build: ${INCEPTIONNET_NATIVE_CLI:-none}"
dotnet run -c Release --project bench/InceptionNet.Bench -- --filter '*CliEmbed*' >"$work/bdn.log" 2>&1 \
  || { tail -n 40 "$work/bdn.log" >&2; exit 1; }
cat BenchmarkDotNet.Artifacts/results/InceptionNet.Bench.CliEmbedBenchmarks-report-github.md
echo; echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
