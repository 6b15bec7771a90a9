#!/usr/bin/env bash
# Fuzzes one parser with AFL++ and SharpFuzz for a fixed time, then prints the campaign's numbers.
#   tools/fuzz/run.sh TARGET MINUTES        TARGET: npy pickle tfjs h5 jpeg png gallery
# Environment: FUZZ_WORK (default /tmp/inceptionnet-fuzz) holds the build, seeds and findings; SHARED (default
# ../shared next to the repository) is where the seed files come from. Runs afl-fuzz under nice -n 10.
set -euo pipefail

if [[ $# -ne 2 || ! $2 =~ ^[0-9]+$ ]]; then
  echo "usage: $0 TARGET MINUTES   (TARGET: npy pickle tfjs h5 jpeg png gallery)" >&2
  exit 2
fi

target=$1
minutes=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
work_root=${FUZZ_WORK:-/tmp/inceptionnet-fuzz}
shared=${SHARED:-$root/../shared}
work=$work_root/$target
bin=$work/bin
tools=$work_root/tools

# Which assemblies carry the code under test (only those are instrumented, so the coverage map is about the parser).
case $target in
  npy|pickle|tfjs) instrument=(InceptionNet.Weights.dll) ;;
  h5) instrument=(InceptionNet.Weights.dll) ;;
  jpeg|png) instrument=(InceptionNet.Vision.dll) ;;
  gallery) instrument=(InceptionNet.Recognition.dll) ;;
  *) echo "unknown target '$target'" >&2; exit 2 ;;
esac

command -v afl-fuzz >/dev/null || { echo "afl-fuzz not found (Debian: apt-get install afl++)" >&2; exit 1; }
mkdir -p "$work_root"

# Build, tool install and instrumentation share obj/ folders and the tool path: one campaign at a time does them.
(
  flock 9
  if [[ ! -x $tools/sharpfuzz ]]; then
    dotnet tool install SharpFuzz.CommandLine --version 2.3.0 --tool-path "$tools" >/dev/null
  fi
  rm -rf "$bin"
  nice -n 10 dotnet publish "$root/tools/fuzz/InceptionNet.Fuzz/InceptionNet.Fuzz.csproj" -c Release -o "$bin" --nologo -v quiet
  # Seeds first: instrumented code outside afl-fuzz has no coverage map to write to (the h5 seeds use PureHDF).
  # The previous campaign's findings are kept beside the new ones, not deleted.
  rm -rf "$work/seeds"
  if [[ -d $work/findings ]]; then
    mv "$work/findings" "$work/findings.$(date +%Y%m%d-%H%M%S)"
  fi
  dotnet "$bin/InceptionNet.Fuzz.dll" --seeds "$target" "$work/seeds" "$shared"
  # The PNG decoder's test files (every colour type, bit depth and interlace, a few hundred bytes each) as seeds too.
  if [[ $target == png ]]; then
    cp "$root"/tests/InceptionNet.Vision.Tests/Png/*-5x3.png "$work/seeds/"
  fi
  # The JPEG decoder's reference files (progressive scripts, restart intervals, damaged scans, a few KB each) as seeds too.
  if [[ $target == jpeg ]]; then
    for f in "$root"/tests/InceptionNet.Vision.Tests/Fixtures/jpeg-*/*.jpg; do
      cp "$f" "$work/seeds/$(basename "$(dirname "$f")")-$(basename "$f")"
    done
  fi
  for dll in "${instrument[@]}"; do
    "$tools/sharpfuzz" "$bin/$dll"
  done
) 9>"$work_root/.build.lock"

# AFL_SKIP_BIN_CHECK: the target is `dotnet`, not an AFL-compiled binary; SharpFuzz provides the fork server.
# -G 65536: the parsers promise bounded cost for inputs up to 64 KB. -t 3000: the promise is 1 s; the slack covers
# JIT and GC pauses on a shared machine, and the replay test checks 1 s on every saved file.
# DOTNET_GCHeapHardLimit (1 GiB): a runaway allocation becomes an OutOfMemoryException, which AFL records as a crash.
export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
export DOTNET_GCHeapHardLimit=0x40000000 DOTNET_TieredPGO=0
# A dictionary where the format's tokens are parsed by uninstrumented framework code (System.Text.Json).
dictionary=()
if [[ -f $root/tools/fuzz/$target.dict ]]; then
  dictionary=(-x "$root/tools/fuzz/$target.dict")
fi

nice -n 10 afl-fuzz -i "$work/seeds" -o "$work/findings" -V $((minutes * 60)) -t 3000 -m none -G 65536 "${dictionary[@]}" \
  -- dotnet "$bin/InceptionNet.Fuzz.dll" "$target" > "$work/afl.log" 2>&1 || {
    echo "afl-fuzz failed; last lines of $work/afl.log:" >&2
    tail -n 20 "$work/afl.log" >&2
    exit 1
  }

stats=$work/findings/default/fuzzer_stats
value() { awk -F' *: *' -v k="$1" '$1 == k { print $2 }' "$stats"; }
echo "target:      $target"
echo "duration:    $(value run_time) s"
echo "executions:  $(value execs_done) ($(value execs_per_sec) /s)"
echo "crashes:     $(value saved_crashes)"
echo "hangs:       $(value saved_hangs)"
echo "coverage:    $(value bitmap_cvg) of the map, $(value corpus_count) corpus entries"
echo "findings:    $work/findings/default/{crashes,hangs}"
