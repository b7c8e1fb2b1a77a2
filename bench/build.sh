#!/usr/bin/env bash
# Benchmarks `kiln build` (native assembly) against buildah (FROM scratch + COPY, pushed to
# an OCI layout) on the same synthetic tree, and times the hello example.
# Usage: bench/build.sh [FILES] [MIB]   (default 2000 files, 64 MiB in total)
# KILN=path/to/kiln (default: target/release/kiln if built, else target/debug/kiln).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
FILES=${1:-2000}
MIB=${2:-64}
KILN=${KILN:-$ROOT/target/release/kiln}
[[ -x "$KILN" ]] || KILN=$ROOT/target/debug/kiln
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

secs() { local s=$(date +%s.%N); "$@" >/dev/null 2>&1; echo "$(date +%s.%N) - $s" | bc; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "kiln binary: $KILN"

# 1. The hello example, from a clean copy each time.
for i in 1 2 3 4 5; do
  rm -rf "$WORK/hello"; cp -r "$ROOT/examples/hello" "$WORK/hello"; rm -rf "$WORK/hello/.kiln"
  secs "$KILN" build --dir "$WORK/hello"
done | median | xargs printf 'hello example, clean build: %.3f s (median of 5)\n'

# 2. A synthetic tree: FILES files, MIB MiB (half random, half text).
P=$WORK/proj; mkdir -p "$P/data"
python3 - "$P/data" "$FILES" "$MIB" <<'PY'
import os, random, sys
root, n, mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(42)
per = mib * 1024 * 1024 // n
for i in range(n):
    d = os.path.join(root, f"d{i % 50:02d}")
    os.makedirs(d, exist_ok=True)
    body = rnd.randbytes(per // 2) + (b"kiln benchmark line %d\n" % i) * (per // 2 // 24)
    with open(os.path.join(d, f"f{i:05d}.bin"), "wb") as f:
        f.write(body)
PY
cat > "$P/kiln.yaml" <<YML
build:
  layers:
    - files: [ { src: data, dest: /data } ]
YML
printf 'FROM scratch\nCOPY data /data\n' > "$P/Containerfile"
printf '.kiln\n' > "$P/.containerignore"
echo "tree: $FILES files, $(du -sm "$P/data" | cut -f1) MiB"

for i in 1 2 3; do rm -rf "$P/.kiln"; secs "$KILN" build --dir "$P"; done | median \
  | xargs printf 'kiln build (native, gzip level 6): %.2f s (median of 3)\n'
B="buildah --root $WORK/bs --runroot $WORK/br --storage-driver vfs"
bud() {
  $B bud --isolation chroot --timestamp 0 -t localhost/bench:1 -f "$P/Containerfile" "$P" &&
    $B push localhost/bench:1 "oci:$WORK/out-$1:1" && $B rmi -a -f
}
if command -v buildah >/dev/null; then
  for i in 1 2 3; do rm -rf "$WORK/bs" "$WORK/br"; secs bud "$i"; done | median \
    | xargs printf 'buildah bud + push to oci: (FROM scratch, COPY): %.2f s (median of 3)\n'
fi
