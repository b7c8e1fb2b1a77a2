#!/usr/bin/env bash
# Vulnerability-scan benchmark: imports 200,000 generated advisories (an osv.dev-style
# all.zip) and scans an SBOM of 2,000 packages against them, with a release build.
# Usage: [NO_BUILD=1] bench/vuln.sh [ADVISORIES] [PACKAGES]  (NO_BUILD=1 reuses target/release/kiln)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200000}
M=${2:-2000}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
[[ -n "${NO_BUILD:-}" && -x target/release/kiln ]] || cargo build --release -p kiln >/dev/null
[[ -n "${NO_BUILD:-}" && -x target/release/examples/scan_timing ]] || cargo build --release -p kiln-vuln --example scan_timing >/dev/null
KILN=target/release/kiln
python3 bench/vuln/gen.py "$N" "$M" "$WORK/all.zip" "$WORK/sbom.json"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
start=$(date +%s.%N)
"$KILN" db import --db "$WORK/vuln.db" "$WORK/all.zip" -q
end=$(date +%s.%N)
python3 -c "import sys; s=$end-$start; print(f'import: {$N} advisories in {s:.2f} s = {$N/s:,.0f} advisories/s')"
for run in 1 2 3; do
  start=$(date +%s.%N)
  KILN_LOG=info "$KILN" vuln scan --db "$WORK/vuln.db" -f json -o "$WORK/out.json" "$WORK/sbom.json" 2>"$WORK/err"
  end=$(date +%s.%N)
  match=$(grep -o 'matched [0-9]* packages in [0-9.]* ms' "$WORK/err")
  findings=$(python3 -c "import json; print(len(json.load(open('$WORK/out.json'))['findings']))")
  python3 -c "print(f'scan run $run: $match (database open), whole command {($end-$start)*1000:.0f} ms, $findings findings')"
done
# Repeated scans in one process, database open (the first run reads pages from disk).
# It imports into its own file so it measures the kiln-vuln just built even with NO_BUILD.
target/release/examples/scan_timing "$WORK/timing.db" "$WORK/sbom.json" 5 "$WORK/all.zip"
# The first scan after Database::open, in fresh processes.
for run in 1 2 3; do
  echo "process $run: $(target/release/examples/scan_timing "$WORK/timing.db" "$WORK/sbom.json" 3 | tr '\n' ' ')"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
