#!/usr/bin/env bash
# Peak resident memory of the CLI over 1 and N photos (default 500), MTCNN + face-api: the pipeline streams, so the peak
# must not grow with the number of photos. Usage: bench/memory/run.sh [N]   (from the repository root; needs
# ../shared and GNU time). Prints a Markdown table; bench/results/memory.md holds the last one with its machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-500}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dotnet publish -c Release src/InceptionNet.Cli -o "$work/cli" >/dev/null
cli=(dotnet "$work/cli/inceptionnet.dll")
# The largest photo first (biden.jpg, 970×2204): the 1-photo column is the peak of the set's largest photo alone, which
# is what a run over many photos can at best come down to.
photos=(../shared/images/faces/train/biden/biden.jpg ../shared/images/faces/train/*/* ../shared/images/faces/test/obama1.jpg ../shared/images/faces/test/alex_lacamoire1.jpg ../shared/images/faces/two_people.jpg)

# A folder of k photos (links to the shared ones, cycling) and a folder of k photos as 20 people (for eval).
make_set() {
  local k=$1 dir=$2
  mkdir -p "$dir/flat" "$dir/people"
  for ((i = 0; i < k; i++)); do
    src=$(realpath "${photos[i % ${#photos[@]}]}")
    ln -s "$src" "$dir/flat/$(printf '%04d' "$i").${src##*.}"
    mkdir -p "$dir/people/p$((i % 20))"
    ln -s "$src" "$dir/people/p$((i % 20))/$(printf '%04d' "$i").${src##*.}"
  done
}

peak() { # peak RSS of the command in MiB (GNU time's last stderr line), and its exit code
  local code=0
  /usr/bin/time -f '%M' "${cli[@]}" "$@" >/dev/null 2>"$work/err" || code=$?
  tail -n 1 "$work/err" | awk -v c="$code" '{ printf "%.0f MiB (exit %s)", $1 / 1024, c }'
}

"${cli[@]}" enroll -g "$work/g.json" -n obama --model faceapi ../shared/images/faces/train/obama/* >/dev/null
echo "| command | 1 photo | $n photos |"  # eval needs two photos of someone: its small set is 40
echo "|---|---|---|"
for k in $(printf "%s\n" 1 40 "$n" | sort -un); do make_set "$k" "$work/set$k"; done
row() { # name, the small set's size, then the command: SET stands for the set's folder, FILES for its photos
  local name=$1 small=$2; shift 2
  local cells=()
  for k in "$small" "$n"; do
    local args=()
    for a in "$@"; do
      if [ "$a" = FILES ]; then args+=("$work/set$k/flat/"*); else args+=("${a//SET/$work/set$k}"); fi
    done
    cells+=("$(peak "${args[@]}")")
  done
  echo "| $name | ${cells[0]} | ${cells[1]} |"
}
row "detect --largest --json" 1 detect --largest --json FILES
row "embed --model faceapi --largest --json" 1 embed --model faceapi --largest --json FILES
row "identify --largest --json" 1 identify -g "$work/g.json" --largest --json FILES
row "enroll --from-dir" 1 enroll -g SET/g.json -n crowd --model faceapi --from-dir SET/flat
row "eval (20 people; small set: 40 photos)" 40 eval SET/people --model faceapi --out SET/report --force
