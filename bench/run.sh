#!/usr/bin/env bash
# Measures what `kiln run` adds to the build itself for examples/hello: the time of
# `kiln run` (secrets, build, sbom, vuln, sign, attest, push to the local layout, ledger and
# evidence) minus the time of `kiln build` alone, on warm copies (key already made).
# The vulnerability stage runs against a database of the shared OSV samples when
# ../shared/vectors is present, else it is skipped (say so in the figures).
# Usage: bench/run.sh [N]  (default 5 runs each; median reported)
# KILN=path/to/kiln (default: target/release/kiln if built, else target/debug/kiln).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-5}
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
export KILN_VULN_DB=$WORK/vuln.db
if [[ -d $SAMPLES ]]; then
  "$KILN" db import "$SAMPLES" >/dev/null 2>&1 || true
  echo "vulnerability database: $(ls "$SAMPLES" | wc -l) OSV samples"
else
  echo "vulnerability database: none (the vuln stage is skipped)"
fi

cp -r "$ROOT/examples/hello" "$WORK/hello"; rm -rf "$WORK/hello/.kiln"
"$KILN" run -C "$WORK/hello" >/dev/null 2>&1   # first run: makes the key pair
for i in $(seq "$N"); do secs "$KILN" build -C "$WORK/hello"; done | median > "$WORK/build"
for i in $(seq "$N"); do secs "$KILN" run -C "$WORK/hello"; done | median > "$WORK/run"
B=$(cat "$WORK/build"); R=$(cat "$WORK/run")
printf 'kiln build (examples/hello):      %.3f s (median of %d)\n' "$B" "$N"
printf 'kiln run (every stage):           %.3f s (median of %d)\n' "$R" "$N"
printf 'added by kiln run beyond build:   %.3f s (target < 2 s)\n' "$(echo "$R - $B" | bc)"
"$KILN" run -C "$WORK/hello" --format json 2>/dev/null \
  | python3 -c 'import json,sys; r=json.load(sys.stdin); print("stages (ms):", ", ".join("%s %d" % (s["name"], s["duration_ms"]) for s in r["stages"]))'
