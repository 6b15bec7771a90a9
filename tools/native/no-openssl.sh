#!/usr/bin/env bash
# The CLI on a host without OpenSSL (minimal images where nothing may be installed): hides every libssl/libcrypto in a
# private mount namespace and checks that `info` says hashing is managed, that `embed` prints the same bytes as with
# OpenSSL (weights digest included), that `keys add` and `keys webhook-secret` work, and that `serve` answers an
# authenticated request (key hash and audit chain) — where .NET alone would abort with "No usable version of libssl".
# usage: tools/native/no-openssl.sh CLI...   (as root: needs unshare -m; e.g. artifacts/native/linux-x64/inceptionnet,
#                                             or `dotnet path/inceptionnet.dll`). Traffic only to 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -ge 1 ] || { echo "usage: tools/native/no-openssl.sh CLI..." >&2; exit 2; }
cli=("$@")
[ "$(id -u)" = 0 ] || { echo "error: needs root (a private mount namespace hides the libraries)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
shared=$(realpath ../shared)
args=(embed --model openface --weights "$shared/fixtures/openface-synthetic/weights.h5" --json "$shared/images/course/younes.jpg")
"${cli[@]}" "${args[@]}" >"$work/with-openssl.json"

mapfile -t hide < <(for f in /usr/lib/*/libssl.so* /usr/lib/*/libcrypto.so* /lib*/libssl.so* /lib*/libcrypto.so*; do
  [ -e "$f" ] && realpath "$f"; done | sort -u)
printf '%q ' "${cli[@]}" >"$work/cli"
cat >"$work/inside.sh" <<INSIDE
set -euo pipefail
for f in ${hide[*]}; do mount --bind /dev/null "\$f"; done
cli=($(cat "$work/cli"))
"\${cli[@]}" info --json | grep -q '"hashing":"managed"' || { echo "error: info does not say hashing is managed"; exit 1; }
"\${cli[@]}" ${args[*]} >"$work/without-openssl.json"
key=\$("\${cli[@]}" keys add -k "$work/keys.json" -n check -s admin --json | sed -E 's/.*"key":"([^"]*)".*/\1/')
[ -n "\$key" ] || { echo "error: keys add gave no key"; exit 1; }
"\${cli[@]}" keys webhook-secret -k "$work/keys.json" >/dev/null
mkdir -p "$work/data"
"\${cli[@]}" serve -l 127.0.0.1:0 -d "$work/data" -k "$work/keys.json" -m openface \
  -w "$shared/fixtures/openface-synthetic/weights.h5" >"$work/serve.log" 2>&1 &
pid=\$!
port=
for i in \$(seq 1 120); do
  port=\$(sed -nE 's|.*Listening on http://127\.0\.0\.1:([0-9]+)/.*|\1|p' "$work/serve.log" | head -n 1)
  grep -q '^Ready' "$work/serve.log" && [ -n "\$port" ] && break
  kill -0 \$pid 2>/dev/null || { cat "$work/serve.log"; exit 1; }
  sleep 0.5
done
[ -n "\$port" ] || { echo "error: serve did not get ready"; cat "$work/serve.log"; kill \$pid; exit 1; }
exec 3<>/dev/tcp/127.0.0.1/\$port
printf 'GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n' "\$key" >&3
status=\$(timeout 10 head -n 1 <&3)
exec 3<&-
kill \$pid; wait \$pid || true
case "\$status" in *" 200 "*) ;; *) echo "error: GET /metrics gave '\$status'"; cat "$work/serve.log"; exit 1 ;; esac
[ "\$(grep -c . "$work/data/audit.jsonl")" -ge 1 ] || { echo "error: the request left no audit line"; exit 1; }
"\${cli[@]}" audit verify "$work/data/audit.jsonl" >/dev/null || { echo "error: the audit chain does not verify"; exit 1; }
INSIDE
unshare -m bash "$work/inside.sh"
cmp -s "$work/with-openssl.json" "$work/without-openssl.json" || { echo "error: embed without OpenSSL differs" >&2; exit 1; }
echo "ok: without OpenSSL (${#hide[@]} libraries hidden) info, embed (same bytes), keys, webhook secret and serve work"
