#!/usr/bin/env bash
# Secret-scanning benchmark (issue 3). Builds the history repository of
# ../shared/bench/make-history-repo.sh under target/bench/, then in one run measures:
#   - the floor: git cat-file --batch-all-objects --batch >/dev/null
#   - kiln secrets scan --history        vs  git secrets --scan-history (AWS patterns)
#   - kiln secrets scan (working tree)   vs  detect-secrets scan
# with wall time and peak RSS (/usr/bin/time -v), and checks that every canary of
# DEST.canaries.tsv is found (history-only ones with the commit that introduced them).
# Usage: bench/secrets.sh   (KILN=path/to/kiln to skip the release build; SKIP_GIT_SECRETS=1)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/target/bench
REPO=$OUT/history
MAKE=${MAKE_REPO:-$ROOT/../shared/bench/make-history-repo.sh}
mkdir -p "$OUT"
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (Debian package time)"; exit 2; }

if [ ! -f "$REPO.canaries.tsv" ] || [ ! -d "$REPO/.git" ]; then
  bash "$MAKE" "$REPO" >"$OUT/make-history.log" 2>&1
fi
if [ -z "${KILN:-}" ]; then
  (cd "$ROOT" && cargo build --release -q -p kiln)
  KILN=$ROOT/target/release/kiln
fi
if [ ! -x "$OUT/venv/bin/detect-secrets" ]; then
  python3 -m venv "$OUT/venv" && "$OUT/venv/bin/pip" install -q detect-secrets
fi

# run NAME CMD...: runs CMD under /usr/bin/time -v; records "NAME wall_seconds rss_kib".
run() {
  local name=$1; shift
  /usr/bin/time -v -o "$OUT/$name.time" "$@" >"$OUT/$name.out" 2>"$OUT/$name.err" || true
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,t,":"); s=0; for(i=1;i<=n;i++) s=s*60+t[i]; print s}' "$OUT/$name.time")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$OUT/$name.time")
  echo "$name $wall $rss" >>"$OUT/secrets-times.txt"
  printf '%-22s %8.2f s  %8d KiB peak RSS\n' "$name" "$wall" "$rss"
}

: >"$OUT/secrets-times.txt"
git -C "$REPO" count-objects -vH | sed 's/^/# /'
sync
cat "$REPO"/.git/objects/pack/* >/dev/null   # same warm page cache for everyone
run floor git -C "$REPO" cat-file --batch-all-objects --batch
run kiln-history "$KILN" -q secrets scan --history "$REPO" --format json --no-redact --exit-code 0 -o "$OUT/kiln-history.json"
run kiln-tree "$KILN" -q secrets scan "$REPO" --format json --no-redact --exit-code 0 -o "$OUT/kiln-tree.json"
run detect-secrets bash -c "cd '$REPO' && '$OUT/venv/bin/detect-secrets' scan --all-files"
if [ -z "${SKIP_GIT_SECRETS:-}" ]; then
  git -C "$REPO" secrets --register-aws >/dev/null 2>&1 || true
  run git-secrets git -C "$REPO" secrets --scan-history
fi

python3 - "$OUT" "$REPO.canaries.tsv" <<'PY'
import json, sys, csv
out, tsv = sys.argv[1], sys.argv[2]
times = {l.split()[0]: (float(l.split()[1]), int(l.split()[2])) for l in open(f"{out}/secrets-times.txt")}
hist = json.load(open(f"{out}/kiln-history.json"))
tree = json.load(open(f"{out}/kiln-tree.json"))
rows = list(csv.DictReader(open(tsv), delimiter="\t"))
by_secret = {}
for f in hist:
    by_secret.setdefault(f["secret"], []).append(f)
found = ok_commit = 0
history_only = [r for r in rows if r["status"] == "history-only"]
for r in rows:
    fs = by_secret.get(r["key_id"], [])
    if fs:
        found += 1
    want_date = 1700000000 + int(r["commit_idx"]) * 86400
    import datetime
    want = datetime.datetime.fromtimestamp(want_date, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if r["status"] == "history-only" and any(f["commit"]["date"] == want and f["path"] == r["file"] for f in fs):
        ok_commit += 1
tree_keys = {f["secret"] for f in tree}
in_head = [r for r in rows if r["status"] == "present-in-HEAD"]
tree_found = sum(1 for r in in_head if r["key_id"] in tree_keys)
floor = times["floor"][0]
kh = times["kiln-history"][0]
print()
print(f"canaries found in history: {found}/{len(rows)}; history-only with introducing commit: {ok_commit}/{len(history_only)}")
print(f"canaries present in HEAD found by the tree scan: {tree_found}/{len(in_head)}")
print(f"kiln history / floor: {kh/floor:.2f}x (target <= 2x)")
if "git-secrets" in times:
    print(f"git-secrets / kiln history: {times['git-secrets'][0]/kh:.1f}x faster (target >= 20x)")
print(f"detect-secrets / kiln tree: {times['detect-secrets'][0]/times['kiln-tree'][0]:.1f}x faster")
ok = found == len(rows) and ok_commit == len(history_only) and tree_found == len(in_head)
sys.exit(0 if ok else 1)
PY
