#!/usr/bin/env bash
# Notation signing and verification through the kiln CLI, per key backend: a key file,
# a SoftHSM2 key (PKCS#11) and an AWS KMS key on moto (local), each signing N images in
# an OCI layout; then verification of every image against a trust policy and trust store.
# Usage: bench/notation.sh [N=20]   (builds target/debug/kiln if missing; needs
# softhsm2-util, pkcs11-tool, and a Python with moto[server] as $KILN_TEST_PYTHON or in
# target/test-tools/venv; backends whose tools are missing are skipped).
set -euo pipefail
N=${1:-20}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
KILN=${KILN:-$ROOT/target/debug/kiln}
[[ -x "$KILN" ]] || (cd "$ROOT" && cargo build -q -p kiln)
WORK=$(mktemp -d)
MOTO_DIR=$WORK/moto
cleanup() { "$ROOT/scripts/services/moto" stop "$MOTO_DIR" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
cd "$WORK"
export KILN_PASSWORD=bench-password

ms() { date +%s%N; }
report() { # name start end count
  awk -v n="$1" -v s="$2" -v e="$3" -v c="$4" \
    'BEGIN { t=(e-s)/1e9; printf "| %s | %d | %.2f s | %.1f ms |\n", n, c, t, 1000*t/c }'
}

python3 - "$N" <<'PY'
# N images (one config each, different os field) tagged i0..iN-1 in layout/
import hashlib, json, os, sys
n = int(sys.argv[1]); root = "layout"
os.makedirs(f"{root}/blobs/sha256", exist_ok=True)
open(f"{root}/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
def blob(b):
    d = hashlib.sha256(b).hexdigest(); open(f"{root}/blobs/sha256/{d}", "wb").write(b); return d
manifests = []
for i in range(n):
    cfg = json.dumps({"architecture": "amd64", "os": f"linux{i}", "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    m = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + blob(cfg), "size": len(cfg)},
        "layers": []}, separators=(",", ":")).encode()
    manifests.append({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + blob(m),
        "size": len(m), "annotations": {"org.opencontainers.image.ref.name": f"i{i}"}})
open(f"{root}/index.json", "w").write(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests}))
PY

keys=()
"$KILN" key generate --output-key-prefix file >/dev/null 2>&1 && keys+=("file:file.key")
if command -v softhsm2-util >/dev/null && command -v pkcs11-tool >/dev/null; then
  mkdir -p hsm && out=$("$ROOT/scripts/services/softhsm" start "$WORK/hsm") && eval "$out" && keys+=("pkcs11:$KILN_TEST_PKCS11_URI")
fi
PY=${KILN_TEST_PYTHON:-$ROOT/target/test-tools/venv/bin/python}
if [[ -x "$PY" ]] && "$PY" -c 'import moto' 2>/dev/null; then
  mkdir -p "$MOTO_DIR"
  eval "$(KILN_TEST_PYTHON=$PY "$ROOT/scripts/services/moto" start "$MOTO_DIR")"
  export AWS_ENDPOINT_URL=$KILN_TEST_MOTO AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
  id=$(curl -sf -X POST "$KILN_TEST_MOTO" -H 'Content-Type: application/x-amz-json-1.1' \
    -H 'X-Amz-Target: TrentService.CreateKey' \
    -H 'Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=0' \
    -d '{"KeySpec":"ECC_NIST_P256","KeyUsage":"SIGN_VERIFY"}' | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["KeyMetadata"]["KeyId"])')
  keys+=("awskms:awskms:///$id")
fi

echo "kiln: $KILN; N=$N images; $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo
echo "| kiln sign --signature-format notation, key | images | total | per image |"
echo "|---|---|---|---|"
for entry in "${keys[@]}"; do
  name=${entry%%:*}; key=${entry#*:}
  "$KILN" key cert --key "$key" --output-prefix "$name" --force >/dev/null 2>&1
  s=$(ms)
  for ((i = 0; i < N; i++)); do
    "$KILN" sign -q --key "$key" --signature-format notation --cert-chain "$name.chain.pem" "oci:layout:i$i" >/dev/null 2>&1
  done
  report "$name" "$s" "$(ms)" "$N"
done

mkdir -p truststore/x509/ca/kiln
cp file.ca.pem truststore/x509/ca/kiln/
cat > policy.json <<'JSON'
{"version":"1.0","trustPolicies":[{"name":"all","registryScopes":["*"],
 "signatureVerification":{"level":"strict"},"trustStores":["ca:kiln"],"trustedIdentities":["*"]}]}
JSON
echo
echo "| kiln verify --trust-policy (file-key signatures among ${#keys[@]} per image) | images | total | per image |"
echo "|---|---|---|---|"
s=$(ms)
for ((i = 0; i < N; i++)); do
  "$KILN" verify -q --trust-policy policy.json --trust-store truststore "oci:layout:i$i" >/dev/null 2>&1
done
report verify "$s" "$(ms)" "$N"
