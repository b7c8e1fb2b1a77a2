#!/usr/bin/env python3
"""Generates the vulnerability-scan benchmark inputs: an osv.dev-style all.zip of N advisories
over npm, PyPI, Maven, Go, crates.io and Debian packages, and a Kiln JSON SBOM of M packages,
a fifth of which fall inside an advisory's range."""
import json, random, sys, zipfile

n_adv = int(sys.argv[1]); n_pkg = int(sys.argv[2]); out_zip = sys.argv[3]; out_sbom = sys.argv[4]
random.seed(42)
ecos = [("npm", "npm"), ("PyPI", "pypi"), ("Maven", "maven"), ("Go", "golang"), ("crates.io", "cargo"), ("Debian:12", "deb")]
names = 20000  # distinct package names per ecosystem
def name(eco, i):
    if eco == "Maven": return f"org.bench{i % 97}:artifact-{i}"
    if eco == "Go": return f"github.com/bench/mod{i}"
    return f"bench-pkg-{i}"
def ver(a, b, c, eco):
    if eco.startswith("Debian"): return f"{a}.{b}.{c}-1"
    if eco == "Go": return f"v{a}.{b}.{c}"
    return f"{a}.{b}.{c}"
with zipfile.ZipFile(out_zip, "w", zipfile.ZIP_DEFLATED) as z:
    for k in range(n_adv):
        eco, _ = ecos[k % len(ecos)]
        i = random.randrange(names)
        a = random.randrange(5)
        rec = {
            "schema_version": "1.6.0", "id": f"BENCH-{k:07d}", "modified": "2026-01-01T00:00:00Z",
            "aliases": [f"CVE-2099-{k:07d}"], "summary": f"benchmark advisory {k}",
            "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}],
            "affected": [{"package": {"ecosystem": eco, "name": name(eco.split(":")[0], i)},
                          "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": ver(a, 0, 0, eco)}, {"fixed": ver(a, 5, 0, eco)}]}]}],
        }
        z.writestr(f"BENCH-{k:07d}.json", json.dumps(rec))
pkgs = []
for j in range(n_pkg):
    eco, kind = ecos[j % len(ecos)]
    i = random.randrange(names)
    base = eco.split(":")[0]
    nm = name(base, i)
    v = ver(random.randrange(5), random.randrange(10), 0, eco)
    if kind == "maven":
        g, art = nm.split(":"); purl = f"pkg:maven/{g}/{art}@{v}"
    elif kind == "deb":
        purl = f"pkg:deb/debian/{nm}@{v}?arch=amd64"
    else:
        purl = f"pkg:{kind}/{nm}@{v}"
    pkgs.append({"id": f"p{j}", "name": nm, "version": v, "type": kind, "purl": purl})
json.dump({"kilnSbom": 1, "source": "bench", "distro": {"id": "debian", "version_id": "12"}, "packages": pkgs}, open(out_sbom, "w"))
