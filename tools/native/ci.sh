#!/usr/bin/env bash
# The native stage of .ci/run: builds the NativeAOT CLI for linux-x64 (three binaries, tools/native/publish.sh) and for
# linux-arm64, and proves them:
#   - x64: NativeBinaryTests through the launcher at every INCEPTIONNET_SIMD cap (no cap, 256, 128, 0), so each binary
#     the launcher picks meets the fixtures and prints the JIT build's bytes at its level; and the CLI with every
#     libssl/libcrypto hidden (tools/native/no-openssl.sh): managed hashing, same bytes, keys and serve work;
#   - arm64, under qemu-aarch64-static: NativeBinaryTests' fixture checks (OpenFace, face-api, MTCNN detect) through the
#     arm64 CLI, and the kernel tests (scalar and Vector128 = NEON, awkward sizes) as a self-running xunit v3 executable.
# usage: tools/native/ci.sh RESULTS_DIR   (trx files land there; needs a prior `dotnet build`/`dotnet test` in Debug)
set -euo pipefail
cd "$(dirname "$0")/../.."
results=${1:?usage: tools/native/ci.sh RESULTS_DIR}
mkdir -p "$results"
status=0

# Cross toolchain and emulator (Debian multiarch; run arm64 binaries without -L: with both the multiarch and the cross
# libc installed, -L /usr/aarch64-linux-gnu made even a hello world hang here). No libssl3:arm64 installed: without it the
# CLI hashes with its managed SHA-256, which the fixture checks then cover too (the kernel tests get a private copy below).
need=()
command -v clang >/dev/null || need+=(clang)
command -v aarch64-linux-gnu-gcc >/dev/null || need+=(gcc-aarch64-linux-gnu)
[ -d /usr/aarch64-linux-gnu/lib ] || need+=(libc6-dev-arm64-cross)
command -v qemu-aarch64-static >/dev/null || need+=(qemu-user-static)
for p in libc6:arm64 libstdc++6:arm64; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing ${need[*]}"
  dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
    || { echo "error: could not install the arm64 cross toolchain and qemu (${need[*]})" >&2; exit 1; }
fi

run_tests() { # run_tests PREFIX [ENV=VALUE...]: NativeBinaryTests with the given environment
  local prefix=$1; shift
  env "$@" dotnet test tests/InceptionNet.Cli.Tests --no-build --filter "FullyQualifiedName~NativeBinaryTests" \
    --logger "trx;LogFilePrefix=$prefix" --results-directory "$results" 2>&1 | grep -E 'Passed!|Failed!|error|  Failed ' || true
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
}

start=$SECONDS
tools/native/publish.sh linux-x64 artifacts/native/linux-x64
x64="$(pwd)/artifacts/native/linux-x64/inceptionnet"
for cap in "" 256 128 0; do
  echo "== native linux-x64 through the launcher, INCEPTIONNET_SIMD=${cap:-unset}"
  run_tests "native-x64-simd${cap:-best}" INCEPTIONNET_NATIVE_CLI="$x64" INCEPTIONNET_SIMD="$cap"
done
echo "== native linux-x64 on a host without OpenSSL"
tools/native/no-openssl.sh "$x64" || status=1
echo "(x64 native stage: $((SECONDS - start)) s)"

start=$SECONDS
tools/native/publish.sh linux-arm64 artifacts/native/linux-arm64
echo "== native linux-arm64 under qemu: fixture checks through the CLI"
run_tests native-arm64 INCEPTIONNET_NATIVE_CLI="$(pwd)/artifacts/native/linux-arm64/inceptionnet" INCEPTIONNET_NATIVE_RUNNER=qemu-aarch64-static

echo "== linux-arm64 under qemu: the kernel tests (scalar, Vector128 = NEON)"
tests_dir=artifacts/native/linux-arm64-kernel-tests
dotnet publish tests/InceptionNet.Tensors.Tests.Native -c Release -r linux-arm64 --self-contained -o "$tests_dir" -nologo -v quiet \
  | grep -E 'warning|error' || true
[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "error: publishing the arm64 kernel tests failed" >&2; exit 1; }
# The JIT writes code through a second, writable mapping (W^X); qemu-user does not see those writes as code changes and
# runs stale translations (an "illegal instruction" in the first reflection stub). One mapping avoids that under qemu.
# The whole output is kept beside the trx; a crash (no trx) prints its first lines and the innermost frames.
# The xunit v3 executable aborts at start-up without libssl ("No usable version of libssl was found"; our CLI has its own
# managed fallback, xunit does not). libssl3:arm64 is unpacked into a private folder and given to this run alone
# (LD_LIBRARY_PATH), so the CLI checks above keep running on a host without OpenSSL.
ssl_dir=$(pwd)/artifacts/native/arm64-libssl
ssl_lib=$ssl_dir/root/usr/lib/aarch64-linux-gnu
if [ ! -e "$ssl_lib/libssl.so.3" ]; then
  mkdir -p "$ssl_dir" && rm -f "$ssl_dir"/*.deb
  ( cd "$ssl_dir" && { apt-get download -qq libssl3:arm64 2>/dev/null || { apt-get update -qq && apt-get download -qq libssl3:arm64 2>/dev/null; }; } ) \
    && dpkg-deb -x "$ssl_dir"/libssl3_*_arm64.deb "$ssl_dir/root" \
    || { echo "error: could not fetch libssl3:arm64 for the arm64 kernel tests" >&2; exit 1; }
fi
log="$results/native-arm64-kernels.log"
rm -f "$results/native-arm64-kernels.trx"
rc=0
( cd "$tests_dir" && DOTNET_EnableWriteXorExecute=0 LD_LIBRARY_PATH="$ssl_lib" timeout 1200 qemu-aarch64-static ./InceptionNet.Tensors.Tests.Native \
    -result-trx "$results/native-arm64-kernels.trx" >"$log" 2>&1 ) || rc=$?
grep -E 'TEST EXECUTION SUMMARY|Total:|\[FAIL\]' "$log" || true
if ! grep -q 'failed="0"' "$results/native-arm64-kernels.trx" 2>/dev/null; then
  echo "error: arm64 kernel tests failed or did not run (exit $rc); the crash, if any:" >&2
  grep -m1 -A8 -E 'Fatal error|Unhandled exception|uncaught target signal' "$log" >&2 || tail -n 20 "$log" >&2
  status=1
fi
echo "(arm64 native stage: $((SECONDS - start)) s)"
exit $status
