#!/usr/bin/env bash
# Regenerates the project-made seed inputs under fuzz/corpus/ (hand-written documents,
# tar layers with whiteouts/links/traversal, and real signatures made by the kiln binary).
# Test fixtures of the crates and ../shared/vectors are NOT copied: crates/kiln-fuzz/src/
# seeds.rs reads them in place. Usage: fuzz/make-seeds.sh [path/to/kiln]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
kiln=${1:-$root/target/debug/kiln}
corpus=$root/fuzz/corpus
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 "$root/fuzz/make-seeds.py" "$corpus"

# A small ELF holding a Go build-info section (a real Go binary is megabytes).
if command -v gcc >/dev/null && command -v objcopy >/dev/null; then
  python3 - "$work/buildinfo" <<'PY'
import sys
def s(b):
    n, out = len(b), bytearray()
    while True:
        x = n & 0x7f; n >>= 7
        out.append(x | (0x80 if n else 0))
        if not n: return bytes(out) + b
sent = b"0123456789abcdef"
mod = (b"path\texample.com/app\nmod\texample.com/app\t(devel)\t\n"
       b"dep\tgolang.org/x/text\tv0.14.0\th1:abc=\n"
       b"dep\tgithub.com/a/b\tv1.0.0\t\n=>\tgithub.com/c/d\tv1.1.0\th1:x=\n"
       b"build\t-compiler=gc\nbuild\tGOOS=linux\n")
hdr = b"\xff Go buildinf:" + bytes([8, 2]) + b"\0" * 16
open(sys.argv[1], "wb").write(hdr + s(b"go1.22.1") + s(sent + mod + b"\n" + sent[:15] + b"x"))
PY
  printf 'int main(void){return 0;}\n' > "$work/m.c"
  gcc -Os -s -o "$work/m" "$work/m.c"
  objcopy --add-section .go.buildinfo="$work/buildinfo" "$work/m" "$work/go-app"
  mkdir -p "$corpus/sbom-go-binary"
  cp "$work/go-app" "$corpus/sbom-go-binary/elf-with-buildinfo"
fi

# Real signatures, attestations, bundles and Notation envelopes from the kiln binary.
if [ -x "$kiln" ] && command -v umoci >/dev/null; then
  cd "$work"
  mkdir -p "$corpus"/{cosign-public-key,cosign-private-key,notation-certs,sbom-document}
  export KILN_PASSWORD=fuzz-seed-password
  umoci init --layout img >/dev/null
  umoci new --image img:v1 >/dev/null
  "$kiln" -q key generate --output-key-prefix k >/dev/null
  "$kiln" -q key generate --output-key-prefix ed --key-type ed25519 >/dev/null
  "$kiln" -q sign --key k.key oci:img:v1 >/dev/null
  "$kiln" -q sign --key k.key --bundle oci:img:v1 >/dev/null
  printf '{"buildType":"https://example.com/fuzz","builder":{"id":"fuzz"}}' > pred.json
  "$kiln" -q attest --key k.key --predicate pred.json oci:img:v1 >/dev/null
  "$kiln" -q attest --key ed.key --bundle --predicate pred.json oci:img:v1 >/dev/null
  "$kiln" -q key cert --key k.key --output-prefix n >/dev/null
  "$kiln" -q sign --key k.key --signature-format notation --cert-chain n.chain.pem oci:img:v1 >/dev/null
  cp n.chain.pem "$corpus/notation-certs/chain.pem"
  openssl x509 -in n.ca.pem -outform DER -out "$corpus/notation-certs/ca.der" 2>/dev/null || true
  "$kiln" -q sbom -f spdx-json -o "$corpus/sbom-document/kiln-spdx.json" "dir:$root/crates/kiln-sbom/tests/fixtures/project" || true
  "$kiln" -q sbom -f cyclonedx-json -o "$corpus/sbom-document/kiln-cdx.json" "dir:$root/crates/kiln-sbom/tests/fixtures/project" || true
  "$kiln" -q sbom -f json -o "$corpus/sbom-document/kiln-native.json" "dir:$root/crates/kiln-sbom/tests/fixtures/debian" || true
  cp k.pub "$corpus/cosign-public-key/kiln-p256.pub"
  cp ed.pub "$corpus/cosign-public-key/kiln-ed25519.pub"
  cp k.key "$corpus/cosign-private-key/kiln-p256.key"
  cp ed.key "$corpus/cosign-private-key/kiln-ed25519.key"
  python3 "$root/fuzz/make-seeds.py" "$corpus" --classify img/blobs/sha256
fi
