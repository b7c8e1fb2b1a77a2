#!/usr/bin/env bash
# Measures `kiln rescan`: M images recorded by `kiln run` (copies of examples/hello, each
# with an npm lodash 4.17.19 and a distinct file so the digests differ), re-scanned
# against a database of the shared OSV samples (decrypting each stored SBOM, matching,
# recording the scan). Reports the median wall time of N re-scans and per image.
# Usage: bench/rescan.sh [M images] [N rescans]   (default 5 and 5)
# KILN=path/to/kiln (default: target/release/kiln if built, else target/debug/kiln).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
M=${1:-5}
N=${2:-5}
KILN=${KILN:-$ROOT/target/release/kiln}
[[ -x "$KILN" ]] || KILN=$ROOT/target/debug/kiln
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
unset KILN_PASSWORD COSIGN_PASSWORD

secs() { local s=$(date +%s.%N); "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }; echo "$(date +%s.%N) - $s" | bc; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "kiln binary: $KILN"
SAMPLES=$ROOT/../shared/vectors/osv/samples
[[ -d $SAMPLES ]] || { echo "needs $SAMPLES" >&2; exit 1; }
export KILN_VULN_DB=$WORK/vuln.db
"$KILN" db import "$SAMPLES" >/dev/null 2>&1 || true
echo "vulnerability database: $(ls "$SAMPLES" | wc -l) OSV samples"

P=$WORK/hello
cp -r "$ROOT/examples/hello" "$P"; rm -rf "$P/.kiln"
mkdir -p "$P/node_modules/lodash"
echo '{"name":"lodash","version":"4.17.19","license":"MIT"}' > "$P/node_modules/lodash/package.json"
sed -i 's|^  config:$|    - files:\n        - src: node_modules\n          dest: /srv/app/node_modules\n  config:|' "$P/kiln.yaml"
for i in $(seq "$M"); do
  echo "$i" > "$P/www/n.txt"
  "$KILN" run -C "$P" >/dev/null 2>&1
done
"$KILN" rescan -C "$P" 2>/dev/null | grep -c "^sha256" | xargs echo "images re-scanned:"
for i in $(seq "$N"); do secs "$KILN" rescan -C "$P"; done | median > "$WORK/t"
T=$(cat "$WORK/t")
printf 'kiln rescan, %d images:   %.3f s (median of %d)\n' "$M" "$T" "$N"
printf 'per image:               %.3f s\n' "$(echo "$T / $M" | bc -l)"
