#!/usr/bin/env bash
# Publishes the native (NativeAOT) CLI: one self-contained binary per target, no .NET needed on the device.
#
#   tools/native/publish.sh linux-x64   [OUT]   three binaries side by side: inceptionnet (x86-64-v2, Vector128 kernels;
#                                               runs on any x64 PC with SSE4.2), inceptionnet-x86-64-v3 (AVX2: Vector256)
#                                               and inceptionnet-x86-64-v4 (AVX-512: Vector512). Start `inceptionnet`; it
#                                               hands over to the best sibling this CPU can run. Copy all three.
#   tools/native/publish.sh linux-arm64 [OUT]   one binary (AdvSimd/NEON: Vector128). Cross-compiling from x64 needs
#                                               `apt-get install clang gcc-aarch64-linux-gnu libc6-dev-arm64-cross`.
#
# OUT defaults to artifacts/native/RID. Only the binaries land there (symbols stay in the publish folder).
set -euo pipefail
cd "$(dirname "$0")/../.."
rid=${1:?usage: tools/native/publish.sh linux-x64|linux-arm64 [OUT]}
out=${2:-artifacts/native/$rid}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

publish() { # publish LEVEL_PROPERTY DEST_NAME
  local dir="$work/$2"
  echo "== publish $rid $2 ${1:+($1)}"
  dotnet publish src/InceptionNet.Cli -c Release -r "$rid" -p:PublishAot=true ${1:+-p:IlcInstructionSet=$1} -o "$dir" -nologo -v quiet \
    | grep -E 'warning|error' || true
  [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "error: publishing $rid $2 failed" >&2; exit 1; }
  install -m 755 "$dir/inceptionnet" "$out/$2"
}

case "$rid" in
  linux-x64)
    publish x86-64-v2 inceptionnet
    publish x86-64-v3 inceptionnet-x86-64-v3
    publish x86-64-v4 inceptionnet-x86-64-v4
    ;;
  linux-arm64)
    publish "" inceptionnet
    ;;
  *) echo "error: unknown target '$rid' (linux-x64 or linux-arm64)" >&2; exit 2 ;;
esac
ls -l "$out"
