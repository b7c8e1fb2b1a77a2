#!/usr/bin/env bash
# Regenerates deploy/kubernetes/kiln-admit.yaml from the Helm chart with its default values.
# usage: scripts/render-deploy.sh [PYTHON]   (PYTHON needs PyYAML; the test venv has it)
set -euo pipefail
cd "$(dirname "$0")/.."
py="${1:-${KILN_TEST_PYTHON:-target/test-tools/venv/bin/python}}"
out=deploy/kubernetes/kiln-admit.yaml
{
  sed -n '1,/^# --- rendered below ---$/p' "$out"
  "$py" scripts/render-chart.py deploy/helm/kiln-admit --release kiln-admit --namespace kiln-system
} > "$out.tmp"
mv "$out.tmp" "$out"
