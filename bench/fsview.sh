#!/usr/bin/env bash
# Image filesystem view benchmark (issue 2, kiln-oci fsview). Builds an OCI image with
# umoci under target/bench/fsview (layer 0: a copy of /usr/share; layer 1: /usr/lib/python3*
# added and /usr/share/doc deleted, so it carries whiteouts), then measures, each in its own
# process under /usr/bin/time -v (wall time, peak RSS):
#   floor      gzip -dc of every layer blob > /dev/null (decompression only)
#   tar-list   tar -tzf of every layer blob (headers only)       vs  kiln index (build the view)
#   umoci      umoci unpack --rootless (extracts to disk)         vs  kiln files (read every file
#              of the merged tree through visit_files)
#   kiln few   3 files through visit_files; kiln layers: every file of every layer
# Usage: bench/fsview.sh   (SRC=/some/dir to use another tree for layer 0)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/target/bench/fsview
SRC=${SRC:-/usr/share}
mkdir -p "$OUT"
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (Debian package time)"; exit 2; }
command -v umoci >/dev/null || { echo "needs umoci"; exit 2; }

L=$OUT/layout
if [ ! -f "$OUT/image.done" ]; then
  rm -rf "$L" "$OUT/b1" "$OUT/b2"
  umoci init --layout "$L" && umoci new --image "$L:bench"
  umoci unpack --rootless --image "$L:bench" "$OUT/b1" >/dev/null
  mkdir -p "$OUT/b1/rootfs/usr" && cp -a "$SRC" "$OUT/b1/rootfs/usr/share"
  umoci repack --image "$L:bench" "$OUT/b1"
  umoci unpack --rootless --image "$L:bench" "$OUT/b2" >/dev/null
  rm -rf "$OUT/b2/rootfs/usr/share/doc"
  mkdir -p "$OUT/b2/rootfs/usr/lib" && cp -a /usr/lib/python3* "$OUT/b2/rootfs/usr/lib/"
  umoci repack --image "$L:bench" "$OUT/b2"
  rm -rf "$OUT/b1" "$OUT/b2"
  touch "$OUT/image.done"
fi
MANIFEST=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"].split(":")[1])' "$L/index.json")
LAYERS=$(python3 -c 'import json,sys; print(" ".join(l["digest"].split(":")[1] for l in json.load(open(sys.argv[1]))["layers"]))' "$L/blobs/sha256/$MANIFEST")

BIN=$(cd "$ROOT" && cargo test --release -p kiln-oci --test fsview_bench --no-run 2>&1 | sed -n 's/.*Executable .*(\(.*\)).*/\1/p' | tail -1)
[ -x "$ROOT/$BIN" ] && BIN=$ROOT/$BIN
[ -x "$BIN" ] || { echo "no bench binary"; exit 2; }

run() {
  local name=$1; shift
  /usr/bin/time -v -o "$OUT/$name.time" "$@" >"$OUT/$name.out" 2>"$OUT/$name.err"
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,t,":"); s=0; for(i=1;i<=n;i++) s=s*60+t[i]; print s}' "$OUT/$name.time")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$OUT/$name.time")
  printf '%-14s %8.2f s  %8d KiB peak RSS\n' "$name" "$wall" "$rss"
}
blobs() { for l in $LAYERS; do echo "$L/blobs/sha256/$l"; done; }

echo "image: $(du -sh "$L" | cut -f1) layout, layers: $(for l in $LAYERS; do stat -c %s "$L/blobs/sha256/$l"; done | paste -sd+) bytes"
run floor bash -c "for b in $(blobs | paste -sd' '); do gzip -dc \$b; done >/dev/null"
run tar-list bash -c "for b in $(blobs | paste -sd' '); do tar -tzf \$b; done >/dev/null"
for mode in index few files layers; do
  KILN_FSVIEW_BENCH_LAYOUT=$L KILN_FSVIEW_BENCH_TAG=bench KILN_FSVIEW_BENCH_MODE=$mode \
    run "kiln-$mode" "$BIN" --ignored --exact fsview_bench --nocapture --test-threads 1
  grep -ho 'fsview-bench .*' "$OUT/kiln-$mode.out" || { cat "$OUT/kiln-$mode.err"; exit 1; }
done
rm -rf "$OUT/unpacked"
run umoci-unpack umoci unpack --rootless --image "$L:bench" "$OUT/unpacked"
rm -rf "$OUT/unpacked"
