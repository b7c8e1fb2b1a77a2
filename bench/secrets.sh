#!/usr/bin/env bash
# Secret-scanning benchmark (issue 3). Builds the history repository of
# ../shared/bench/make-history-repo.sh under target/bench/, then in one run measures:
#   - the floor: git cat-file --batch-all-objects --batch >/dev/null
#   - kiln secrets scan --history        vs  git secrets --scan-history (AWS patterns,
#     registered in a copy of the repository so the benchmark repository stays untouched)
#   - kiln secrets scan (working tree)   vs  detect-secrets scan (git-tracked files, as its
#     users run it) and, with DS_ALL_FILES=1, detect-secrets scan --all-files
#   - peak RSS of the history scan on prefixes of the history (bare repositories holding
#     the first 1, 5, 10, 15 and 21 commits): bytes scanned vs peak RSS
# with wall time and peak RSS (/usr/bin/time -v), and checks that every canary of
# DEST.canaries.tsv is found (history-only ones with the commit that introduced them).
# The slow tools run under `timeout` (GS_TIMEOUT, DS_TIMEOUT in seconds, default 1800); a
# tool stopped by it is reported as a lower bound.
# Usage: bench/secrets.sh   (KILN=path/to/kiln to skip the release build; SKIP_GIT_SECRETS=1,
#        SKIP_DETECT_SECRETS=1, SKIP_PREFIXES=1 to leave parts out)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/target/bench
REPO=$OUT/history
MAKE=${MAKE_REPO:-$ROOT/../shared/bench/make-history-repo.sh}
GS_TIMEOUT=${GS_TIMEOUT:-1800}
DS_TIMEOUT=${DS_TIMEOUT:-1800}
mkdir -p "$OUT"
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (Debian package time)"; exit 2; }

if [ ! -f "$REPO.canaries.tsv" ] || [ ! -d "$REPO/.git" ]; then
  bash "$MAKE" "$REPO" >"$OUT/make-history.log" 2>&1
fi
if [ -z "${KILN:-}" ]; then
  (cd "$ROOT" && cargo build --release -q -p kiln)
  KILN=$ROOT/target/release/kiln
fi
if [ -z "${SKIP_GIT_SECRETS:-}" ] && ! command -v git-secrets >/dev/null; then
  apt-get install -y -qq git-secrets >/dev/null   # Debian's git-secrets (1.3.0)
fi
if [ -z "${SKIP_DETECT_SECRETS:-}" ] && [ ! -x "$OUT/venv/bin/detect-secrets" ]; then
  python3 -m venv "$OUT/venv" && "$OUT/venv/bin/pip" install -q detect-secrets
fi
echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "# kiln: $KILN"

# run NAME [TIMEOUT] -- CMD...: runs CMD under /usr/bin/time -v (and `timeout TIMEOUT` when
# given); records "NAME wall_seconds rss_kib status" (status 124: stopped by the timeout).
run() {
  local name=$1; shift
  local limit=
  if [ "$1" != "--" ]; then limit=$1; shift; fi
  shift
  local rc=0
  if [ -n "$limit" ]; then
    /usr/bin/time -v -o "$OUT/$name.time" timeout "$limit" "$@" >"$OUT/$name.out" 2>"$OUT/$name.err" || rc=$?
  else
    /usr/bin/time -v -o "$OUT/$name.time" "$@" >"$OUT/$name.out" 2>"$OUT/$name.err" || rc=$?
  fi
  local wall rss cpu
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,t,":"); s=0; for(i=1;i<=n;i++) s=s*60+t[i]; print s}' "$OUT/$name.time")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$OUT/$name.time")
  cpu=$(awk -F': ' '/User time|System time/ {s+=$2} END {print s}' "$OUT/$name.time")
  echo "$name $wall $rss $rc $cpu" >>"$OUT/secrets-times.txt"
  printf '%-26s %9.2f s wall %9.2f s cpu %9d KiB peak RSS%s\n' "$name" "$wall" "$cpu" "$rss" \
    "$([ "$rc" = 124 ] && echo "  (stopped by the ${limit}s timeout)")"
}

: >"$OUT/secrets-times.txt"
git -C "$REPO" count-objects -vH | sed 's/^/# /'

# A copy of the repository for git-secrets, whose patterns live in the repository's config.
GS_REPO=$OUT/history-git-secrets
if [ -z "${SKIP_GIT_SECRETS:-}" ]; then
  if [ "$(git -C "$GS_REPO" rev-parse HEAD 2>/dev/null)" != "$(git -C "$REPO" rev-parse HEAD)" ]; then
    rm -rf "$GS_REPO"
    cp -a "$REPO" "$GS_REPO"
  fi
  git -C "$GS_REPO" secrets --register-aws >/dev/null
  echo "# git-secrets patterns: $(git -C "$GS_REPO" config --get-all secrets.patterns | wc -l)"
fi

sync
cat "$REPO"/.git/objects/pack/* >/dev/null   # same warm page cache for everyone
run floor -- git -C "$REPO" cat-file --batch-all-objects --batch
run kiln-history -- "$KILN" -q secrets scan --history "$REPO" --format json --no-redact --exit-code 0 -o "$OUT/kiln-history.json"
if [ -x "${ENGINE:-$ROOT/target/release/examples/history_scan}" ]; then
  # The engine alone (kiln-secrets' history_scan example, built with
  # `cargo build --release -p kiln-secrets --example history_scan`): no CLI, no report.
  run engine-history -- "${ENGINE:-$ROOT/target/release/examples/history_scan}" "$REPO"
fi
run kiln-tree -- "$KILN" -q secrets scan "$REPO" --format json --no-redact --exit-code 0 -o "$OUT/kiln-tree.json"
if [ -z "${SKIP_GIT_SECRETS:-}" ]; then
  cat "$GS_REPO"/.git/objects/pack/* >/dev/null
  run git-secrets "$GS_TIMEOUT" -- git -C "$GS_REPO" secrets --scan-history
fi
if [ -z "${SKIP_DETECT_SECRETS:-}" ]; then
  run detect-secrets "$DS_TIMEOUT" -- bash -c "cd '$REPO' && '$OUT/venv/bin/detect-secrets' scan"
  if [ -n "${DS_ALL_FILES:-}" ]; then
    run detect-secrets-all "$DS_TIMEOUT" -- bash -c "cd '$REPO' && '$OUT/venv/bin/detect-secrets' scan --all-files"
  fi
fi

# Peak memory against history length: bare repositories holding only the first N commits.
if [ -z "${SKIP_PREFIXES:-}" ]; then
  : >"$OUT/secrets-prefixes.txt"
  total=$(git -C "$REPO" rev-list --count HEAD)
  for n in 1 5 10 15 "$total"; do
    p=$OUT/prefix-$n.git
    sha=$(git -C "$REPO" rev-list --reverse HEAD | sed -n "${n}p")
    if [ "$(git -C "$p" rev-parse main 2>/dev/null)" != "$sha" ]; then
      rm -rf "$p"
      git init -q --bare "$p"
      git -C "$REPO" push -q "$p" "$sha:refs/heads/main"
    fi
    cat "$p"/objects/pack/* >/dev/null
    run "kiln-history-prefix-$n" -- "$KILN" secrets scan --history "$p" --format json --exit-code 0 -o "$OUT/kiln-history-prefix-$n.json"
    mib=$(grep -o '[0-9]* MiB' "$OUT/kiln-history-prefix-$n.err" | tail -1 | cut -d' ' -f1)
    pack=$(du -sk "$p/objects" | cut -f1)
    echo "$n $mib $pack $(awk -v n="kiln-history-prefix-$n" '$1==n {print $3}' "$OUT/secrets-times.txt")" >>"$OUT/secrets-prefixes.txt"
  done
  echo
  echo "commits  MiB scanned  objects KiB  peak RSS KiB"
  awk '{printf "%7d %12d %12d %13d\n", $1, $2, $3, $4}' "$OUT/secrets-prefixes.txt"
fi

python3 - "$OUT" "$REPO.canaries.tsv" <<'PY'
import csv, datetime, json, sys
out, tsv = sys.argv[1], sys.argv[2]
times = {}
for l in open(f"{out}/secrets-times.txt"):
    f = l.split()
    times[f[0]] = (float(f[1]), int(f[2]), int(f[3]), float(f[4]))
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
    want = datetime.datetime.fromtimestamp(want_date, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if r["status"] == "history-only" and any(f["commit"]["date"] == want and f["path"] == r["file"] for f in fs):
        ok_commit += 1
tree_keys = {f["secret"] for f in tree}
in_head = [r for r in rows if r["status"] == "present-in-HEAD"]
tree_found = sum(1 for r in in_head if r["key_id"] in tree_keys)

def ratio(slow, fast, what="wall"):
    i = 0 if what == "wall" else 3
    s, f = times[slow], times[fast]
    bound = ">= " if s[2] == 124 else ""
    if bound and what != "wall":
        return "n/a (the timeout killed its workers before they were reaped)"
    return f"{bound}{s[i] / f[i]:.1f}x"

floor = times["floor"][0]
kh = times["kiln-history"][0]
print()
print(f"canaries found in history: {found}/{len(rows)}; history-only with introducing commit: {ok_commit}/{len(history_only)}")
print(f"canaries present in HEAD found by the tree scan: {tree_found}/{len(in_head)}")
print(f"kiln history / floor: {kh/floor:.2f}x wall, {times['kiln-history'][3]/times['floor'][3]:.2f}x cpu (target <= 2x)")
if "engine-history" in times:
    print(f"engine history / floor: {times['engine-history'][0]/floor:.2f}x wall, {times['engine-history'][3]/times['floor'][3]:.2f}x cpu")
if "git-secrets" in times:
    print(f"git-secrets / kiln history: {ratio('git-secrets', 'kiln-history')} wall, {ratio('git-secrets', 'kiln-history', 'cpu')} cpu (target >= 20x)")
    if "engine-history" in times:
        print(f"git-secrets / engine history: {ratio('git-secrets', 'engine-history')} wall, {ratio('git-secrets', 'engine-history', 'cpu')} cpu")
for ds in ["detect-secrets", "detect-secrets-all"]:
    if ds in times:
        print(f"{ds} / kiln tree: {ratio(ds, 'kiln-tree')} wall, {ratio(ds, 'kiln-tree', 'cpu')} cpu")
ok = found == len(rows) and ok_commit == len(history_only) and tree_found == len(in_head)
sys.exit(0 if ok else 1)
PY
