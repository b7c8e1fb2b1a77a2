#!/bin/sh
# Policy evaluation speed: the example policy (2 rules, 2 signers, 2 Rego conditions)
# against the 10 recorded cases, repeated. Usage: bench/policy.sh [ITERATIONS]
set -eu
cd "$(dirname "$0")/.."
echo "nproc: $(nproc); cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
cargo run --quiet --release -p kiln-policy --example bench_eval -- "${1:-2000}"
