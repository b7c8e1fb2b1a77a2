#!/usr/bin/env bash
# Load on the admission webhook: `oha` at a fixed request rate against `kiln admit` on
# loopback (HTTPS), for an image in a local distribution registry that Kiln signed and
# attested, under a policy that requires the signature and a SLSA provenance attestation
# with a Rego condition. Three servers:
# - cached: the defaults (decisions cached by digest and policy version);
# - uncached decisions: `--cache-size 0`: no decision cache, so every request verifies the
#   signature and the attestation (ECDSA) and evaluates the policy and its Rego; registry
#   reads go through the gate's shared registry cache (manifests and blobs by digest, the
#   tag, `.sig`/`.att` tags and referrers for --tag-ttl 30 s);
# - cold: `--cache-size 0 --tag-ttl "${COLD_TAG_TTL:-0s}" --registry-cache-bytes 0`: every request also reads
#   everything from the registry again (about 8 HTTP requests).
#
# Usage: bench/admit.sh             RATE=1000 LOW_RATE=20 DURATION=20s KILN=target/release/kiln
# Needs: docker-registry (scripts/apt-packages.txt), curl, python3; installs oha with
# `cargo install oha` into target/bench-tools when absent.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RATE=${RATE:-1000}
LOW_RATE=${LOW_RATE:-20}
DURATION=${DURATION:-20s}
KILN=${KILN:-target/release/kiln}
OHA=${OHA:-target/bench-tools/bin/oha}
if [[ ! -x "$KILN" ]]; then cargo build --release -p kiln; fi
if [[ ! -x "$OHA" ]]; then cargo install oha --locked --root target/bench-tools; fi
KILN=$(realpath "$KILN"); OHA=$(realpath "$OHA")

W=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  "$ROOT/scripts/services/registry" stop "$W/registry" || true
  rm -rf "$W"
}
trap cleanup EXIT
mkdir -p "$W/registry"
eval "$("$ROOT/scripts/services/registry" start "$W/registry")"
REG=$KILN_TEST_REGISTRY
export KILN_PASSWORD=bench-password
cd "$W"

echo "machine: nproc=$(nproc); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "kiln: $KILN"; echo "oha: $("$OHA" --version)"

# The factory's image: examples/hello built natively, pushed, signed, attested.
cp -r "$ROOT/examples/hello" app
(cd app && "$KILN" -q build >/dev/null)
IMAGE=$REG/bench/hello:v1
"$KILN" -q image copy "oci:app/.kiln/oci:0.1.0" "$IMAGE" >/dev/null
"$KILN" -q key generate --output-key-prefix factory >/dev/null 2>&1
"$KILN" -q sign --key factory.key "$IMAGE" >/dev/null
cat > provenance.json <<'JSON'
{"buildDefinition":{"buildType":"https://kiln.dev/build-type/v1","externalParameters":{"source":"git+https://git.example.com/team/hello"}},
 "runDetails":{"builder":{"id":"https://kiln.dev/builder@v1"}}}
JSON
"$KILN" -q attest --key factory.key --type slsaprovenance --predicate provenance.json "$IMAGE" >/dev/null

cat > policy.yaml <<YAML
apiVersion: kiln.dev/v1alpha1
kind: ImagePolicy
metadata:
  name: bench
spec:
  mode: enforce
  defaultAction: deny
  signers:
    - name: factory
      publicKeyFile: factory.pub
  rules:
    - name: factory-images
      images: ["$REG/bench/*"]
      signatures:
        signers: [factory]
      attestations:
        - name: provenance
          predicateType: https://slsa.dev/provenance/v1
          signers: [factory]
          conditions:
            - name: built-by-kiln
              rego: |
                allow if {
                    input.predicate.runDetails.builder.id == "https://kiln.dev/builder@v1"
                }
YAML
"$KILN" -q admit gen-certs --out certs --host localhost >/dev/null

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
serve() { # port, extra flags...
  local port=$1; shift
  "$KILN" admit --policy policy.yaml --tls-cert certs/tls.crt --tls-key certs/tls.key \
    --listen "127.0.0.1:$port" "$@" >"admit-$port.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 100); do
    curl -sfk "https://127.0.0.1:$port/readyz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  cat "admit-$port.log" >&2; exit 1
}

# A real AdmissionReview (a Pod from the shared vectors) pointing at the image.
python3 - "$ROOT/../shared/vectors/k8s-admission/pod_creation_signed.json" "$IMAGE" > review.json <<'PY'
import json, sys
review = json.load(open(sys.argv[1]))
for c in review["request"]["object"]["spec"]["containers"]:
    c["image"] = sys.argv[2]
review["request"]["namespace"] = "default"
print(json.dumps(review))
PY

check_allowed() { # port
  local answer
  answer=$(curl -sfk -X POST -H 'content-type: application/json' --data-binary @review.json "https://127.0.0.1:$1/validate")
  python3 -c 'import json,sys; r=json.loads(sys.argv[1])["response"]; sys.exit(0 if r["allowed"] else "not allowed: %s" % r)' "$answer"
}

load() { # label, port, [rate]
  local label=$1 port=$2 rate=${3:-$RATE}
  "$OHA" --no-tui --insecure -q "$rate" -z "$DURATION" -m POST -H 'content-type: application/json' \
    -D review.json --output-format json "https://127.0.0.1:$port/validate" > "oha-$port.json"
  python3 - "$label" "oha-$port.json" <<'PY'
import json, sys
label, path = sys.argv[1], sys.argv[2]
r = json.load(open(path))
s = r["summary"]; p = r["latencyPercentiles"]
codes = r.get("statusCodeDistribution", {})
errors = r.get("errorDistribution", {})
ok = codes.get("200", 0)
total = sum(codes.values()) + sum(errors.values())
print(f"| {label} | {s['requestsPerSec']:.0f} | {ok}/{total} | {p['p50']*1000:.2f} ms | {p['p99']*1000:.2f} ms | {s['slowest']*1000:.2f} ms | {errors or 'none'} |")
PY
}

P1=$(free_port); serve "$P1"
P2=$(free_port); serve "$P2" --cache-size 0
P3=$(free_port); serve "$P3" --cache-size 0 --tag-ttl "${COLD_TAG_TTL:-0s}" --registry-cache-bytes 0
check_allowed "$P1"; check_allowed "$P2"; check_allowed "$P3"
echo
echo "| decisions | achieved req/s | HTTP 200 / sent | p50 | p99 | slowest | errors |"
echo "|---|---|---|---|---|---|---|"
load "cached (rate $RATE/s, $DURATION)" "$P1"
load "uncached decisions, --cache-size 0 (rate $RATE/s, $DURATION)" "$P2"
load "cold, every read from the registry (rate $RATE/s, $DURATION)" "$P3"
sleep 5  # let the saturated server drain
# The cold path again at a rate it can sustain here, for the latency of one decision.
load "cold, every read from the registry (rate $LOW_RATE/s, $DURATION)" "$P3" "$LOW_RATE"
echo
echo "metrics of the cached server:"
curl -sfk "https://127.0.0.1:$P1/metrics" | grep -E '^kiln_admit_(decisions|cache)' || true
