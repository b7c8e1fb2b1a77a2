#!/usr/bin/env bash
# Wall time of `kiln key generate`, `kiln sign`, `kiln attest` and `kiln verify` on an
# image in an OCI layout, with openssl's ECDSA P-256 sign/verify of the same payload as the
# floor. Median of N runs (default 5). Each run is its own process.
# Usage: bench/sign.sh [N]    KILN=path picks the binary (default target/debug/kiln,
# built with `cargo build -p kiln` if absent). Needs: openssl, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-5}
KILN=${KILN:-target/debug/kiln}
[[ -x "$KILN" ]] || cargo build -p kiln >/dev/null
KILN=$(realpath "$KILN")
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cd "$W"
export KILN_PASSWORD=bench-password

# A one-layer image (1 MiB random layer) tagged v1 in an OCI layout.
L=$W/layout
mkdir -p "$L/blobs/sha256"
echo '{"imageLayoutVersion":"1.0.0"}' > "$L/oci-layout"
head -c 1048576 /dev/urandom > layer.tar
ld=$(sha256sum layer.tar | cut -d' ' -f1); cp layer.tar "$L/blobs/sha256/$ld"
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$ld" > config.json
cd_=$(sha256sum config.json | cut -d' ' -f1); cp config.json "$L/blobs/sha256/$cd_"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":1048576}]}' \
  "$cd_" "$(stat -c %s config.json)" "$ld" > manifest.json
md=$(sha256sum manifest.json | cut -d' ' -f1); cp manifest.json "$L/blobs/sha256/$md"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"annotations":{"org.opencontainers.image.ref.name":"v1"}}]}' \
  "$md" "$(stat -c %s manifest.json)" > "$L/index.json"
echo '{"spdxVersion":"SPDX-2.3","SPDXID":"SPDXRef-DOCUMENT","name":"bench"}' > sbom.json

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
timeit() { # label, command...
  local label=$1; shift
  local t
  t=$(for _ in $(seq "$N"); do
        s=$(date +%s.%N); "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }; e=$(date +%s.%N)
        echo "$e - $s" | bc
      done | median)
  printf '| %s | %.3f s |\n' "$label" "$t"
}

"$KILN" key generate --output-key-prefix k --force >/dev/null 2>&1
openssl ecparam -name prime256v1 -genkey -noout -out ossl.key 2>/dev/null
openssl ec -in ossl.key -pubout -out ossl.pub 2>/dev/null
printf '{"critical":{"identity":{"docker-reference":"oci:%s"},"image":{"docker-manifest-digest":"sha256:%s"},"type":"cosign container image signature"},"optional":null}' "$L" "$md" > payload.json
openssl dgst -sha256 -sign ossl.key -out ossl.sig payload.json

echo "| what | median wall time (N=$N) |"
echo "|---|---|"
timeit "openssl dgst -sha256 -sign (floor, P-256)" openssl dgst -sha256 -sign ossl.key -out ossl.sig payload.json
timeit "openssl dgst -sha256 -verify (floor)" openssl dgst -sha256 -verify ossl.pub -signature ossl.sig payload.json
timeit "kiln key generate (scrypt N=32768)" "$KILN" key generate --output-key-prefix g --force
timeit "kiln sign (cosign format, decrypts key)" "$KILN" sign --key k.key "oci:$L:v1"
timeit "kiln sign --bundle" "$KILN" sign --key k.key --bundle "oci:$L:v1"
timeit "kiln attest --type sbom" "$KILN" attest --key k.key --type sbom --predicate sbom.json "oci:$L:v1"
timeit "kiln verify (public key; all signatures)" "$KILN" verify --key k.pub "oci:$L:v1"
timeit "kiln verify --attestation sbom" "$KILN" verify --key k.pub --attestation sbom "oci:$L:v1"
echo "signature layers (identical signatures are stored once; ECDSA here is RFC 6979 deterministic): $(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['layers']))" "$L/blobs/sha256/$(python3 -c "
import json,sys; idx=json.load(open('$L/index.json'))
print([m['digest'] for m in idx['manifests'] if m.get('annotations',{}).get('org.opencontainers.image.ref.name')=='sha256-$md.sig'][0].split(':')[1])")") layers in the .sig manifest"
