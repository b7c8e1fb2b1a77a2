#!/usr/bin/env bash
# Push and pull throughput of `kiln image copy` against skopeo, each on a fresh CNCF
# distribution registry on loopback (so neither tool benefits from blobs already there).
# Usage: bench/image.sh [LAYERS] [MIB_PER_LAYER]   (default 4 layers of 32 MiB)
# Needs: docker-registry, skopeo, curl, python3; builds target/release/kiln unless KILN=path.
set -euo pipefail
cd "$(dirname "$0")/.."
LAYERS=${1:-4}
MIB=${2:-32}
KILN=${KILN:-}
if [[ -z "$KILN" ]]; then
  cargo build --release -p kiln >/dev/null
  KILN=target/release/kiln
fi
W=$(mktemp -d)
REGDIR=""
stop_registry() { [[ -n "$REGDIR" ]] && scripts/services/registry stop "$REGDIR" || true; }
trap 'stop_registry; rm -rf "$W"' EXIT

# An OCI layout with LAYERS incompressible gzip layers.
L=$W/layout
mkdir -p "$L/blobs/sha256"
echo '{"imageLayoutVersion":"1.0.0"}' > "$L/oci-layout"
layers=""
diffs=""
for i in $(seq 1 "$LAYERS"); do
  head -c "$((MIB * 1024 * 1024))" /dev/urandom > "$W/l$i.tar"
  d=$(sha256sum "$W/l$i.tar" | cut -d' ' -f1)
  gzip -1 -n -c "$W/l$i.tar" > "$W/l$i.gz"
  g=$(sha256sum "$W/l$i.gz" | cut -d' ' -f1)
  mv "$W/l$i.gz" "$L/blobs/sha256/$g"
  rm "$W/l$i.tar"
  layers+="${layers:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:$g\",\"size\":$(stat -c %s "$L/blobs/sha256/$g")}"
  diffs+="${diffs:+,}\"sha256:$d\""
done
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[%s]}}' "$diffs" > "$W/config"
c=$(sha256sum "$W/config" | cut -d' ' -f1); mv "$W/config" "$L/blobs/sha256/$c"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[%s]}' \
  "$c" "$(stat -c %s "$L/blobs/sha256/$c")" "$layers" > "$W/manifest"
m=$(sha256sum "$W/manifest" | cut -d' ' -f1); msize=$(stat -c %s "$W/manifest"); mv "$W/manifest" "$L/blobs/sha256/$m"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"v1"}}]}' \
  "$m" "$msize" > "$L/index.json"

# wall seconds and peak RSS (MiB) of one command, as "S/MiB"
t() { /usr/bin/time -f '%e/%M' -o "$W/time" "$@" >/dev/null 2>&1; awk -F/ '{printf "%s/%d", $1, $2/1024}' "$W/time"; }

run_tool() { # tool -> "push pull", each "seconds/peak-RSS-MiB"
  REGDIR=$W/reg-$1; mkdir -p "$REGDIR"
  eval "$(scripts/services/registry start "$REGDIR")"
  local R=$KILN_TEST_REGISTRY push pull
  if [[ $1 == kiln ]]; then
    push=$(t "$KILN" image copy "oci:$L:v1" "$R/bench/app:v1")
    pull=$(t "$KILN" image copy "$R/bench/app:v1" "oci:$W/out-kiln:v1")
  else
    push=$(t skopeo copy --dest-tls-verify=false "oci:$L:v1" "docker://$R/bench/app:v1")
    pull=$(t skopeo copy --src-tls-verify=false "docker://$R/bench/app:v1" "oci:$W/out-skopeo:v1")
  fi
  stop_registry; REGDIR=""
  echo "$push $pull"
}

echo "image: $LAYERS layers x $MIB MiB (incompressible), manifest sha256:$m"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
printf '%-8s %14s %14s\n' tool push_s/MiB pull_s/MiB
for tool in kiln skopeo; do
  read -r push pull < <(run_tool $tool)
  printf '%-8s %14s %14s\n' "$tool" "$push" "$pull"
done
