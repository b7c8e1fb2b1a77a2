#!/usr/bin/env python3
"""Writes hand-made fuzz seeds into fuzz/corpus/TARGET/ (see make-seeds.sh).

make-seeds.py CORPUS                      hand-written seeds
make-seeds.py CORPUS --classify BLOBDIR   sorts the JSON blobs of an OCI layout (manifests,
                                          configs, DSSE envelopes, bundles, payloads, JWS)
"""
import base64, gzip, io, json, os, sys, tarfile, zipfile

corpus = sys.argv[1]


def put(target, name, data):
    d = os.path.join(corpus, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def classify(blobdir):
    for name in sorted(os.listdir(blobdir)):
        raw = open(os.path.join(blobdir, name), "rb").read()
        try:
            doc = json.loads(raw)
        except Exception:
            continue
        if not isinstance(doc, dict):
            continue
        short = name[:12]
        mt = doc.get("mediaType", "")
        if "manifests" in doc or "config" in doc and "layers" in doc:
            put("oci-manifest", short + ".json", raw)
        elif "rootfs" in doc:
            put("oci-config", short + ".json", raw)
        elif "payloadType" in doc:
            put("dsse-envelope", short + ".json", raw)
            try:
                put("intoto-statement", short + ".json", base64.b64decode(doc["payload"]))
            except Exception:
                pass
        elif mt.startswith("application/vnd.dev.sigstore.bundle"):
            put("cosign-bundle", short + ".json", raw)
            env = doc.get("dsseEnvelope")
            if env:
                put("dsse-envelope", short + "-b.json", json.dumps(env))
        elif "critical" in doc:
            put("cosign-payload", short + ".json", raw)
        elif "protected" in doc and "signature" in doc:
            put("notation-jws", short + ".json", raw)


def tar_seeds():
    def mk(entries, fmt=tarfile.PAX_FORMAT):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
            for e in entries:
                kind, name = e[0], e[1]
                ti = tarfile.TarInfo(name)
                ti.mtime = 1700000000
                if kind == "f":
                    data = e[2].encode()
                    ti.size = len(data)
                    t.addfile(ti, io.BytesIO(data))
                elif kind == "d":
                    ti.type = tarfile.DIRTYPE
                    ti.mode = 0o755
                    t.addfile(ti)
                elif kind == "l":
                    ti.type = tarfile.SYMTYPE
                    ti.linkname = e[2]
                    t.addfile(ti)
                elif kind == "h":
                    ti.type = tarfile.LNKTYPE
                    ti.linkname = e[2]
                    t.addfile(ti)
        return buf.getvalue()

    seeds = {
        "basic.tar": mk([("d", "etc/"), ("f", "etc/os-release", "ID=debian\nVERSION_ID=12\n"),
                         ("f", "usr/bin/x", "#!/bin/sh\n"), ("l", "bin", "usr/bin"),
                         ("h", "usr/bin/y", "usr/bin/x")]),
        "whiteouts.tar": mk([("d", "a/"), ("f", "a/.wh.gone", ""), ("f", "a/.wh..wh..opq", ""),
                             ("f", "a/kept", "k"), ("f", ".wh.etc", "")]),
        "traversal.tar": mk([("f", "../../escape", "x"), ("l", "up", "../../.."),
                             ("f", "up/file", "y"), ("l", "loop1", "loop2"), ("l", "loop2", "loop1"),
                             ("f", "./a//b/../c", "z")]),
        "gnu-long.tar": mk([("f", "d/" + "n" * 200, "long"), ("l", "s" * 150, "t" * 300)],
                           fmt=tarfile.GNU_FORMAT),
        "ustar.tar": mk([("d", "x/"), ("f", "x/y", "hello")], fmt=tarfile.USTAR_FORMAT),
        "hardlinks.tar": mk([("f", "a", "data"), ("h", "b", "a"), ("h", "c", "missing"),
                             ("h", "d", "b")]),
    }
    for name, data in seeds.items():
        put("layer-tar", name, data)
        put("layer-tar-gzip", name, data)
        put("layer-gzip", name + ".gz", gzip.compress(data, mtime=0))
    try:
        import subprocess
        for name, data in seeds.items():
            z = subprocess.run(["zstd", "-q", "-c"], input=data, capture_output=True, check=True).stdout
            put("layer-zstd", name + ".zst", z)
    except Exception:
        # zstd frame of the tar built by hand is not possible without the tool; keep magic.
        put("layer-zstd", "magic.zst", b"\x28\xb5\x2f\xfd\x00\x58\x01\x00\x00")


def forge_seeds():
    commit = "0123456789abcdef0123456789abcdef01234567"
    github = {"ref": "refs/heads/main", "before": "0" * 40, "after": commit,
              "repository": {"full_name": "acme/hello", "name": "hello",
                             "clone_url": "https://github.com/acme/hello.git"},
              "pusher": {"name": "a"}, "commits": [{"id": commit, "message": "m"}]}
    gitlab = {"object_kind": "push", "ref": "refs/heads/main", "before": commit,
              "after": commit, "checkout_sha": commit,
              "project": {"path_with_namespace": "acme/hello", "name": "hello"}}
    gitea = {"ref": "refs/heads/main", "before": commit, "after": "0" * 40,
             "repository": {"full_name": "acme/hello", "name": "hello"}, "deleted": True}
    hook = {"ref": "refs/tags/v1", "before": "0" * 64, "after": "ab" * 32,
            "repository": {"name": "hello"}}
    put("forge-push", "github.json", json.dumps(github))
    put("forge-push", "gitlab.json", json.dumps(gitlab))
    put("forge-push", "gitea-delete.json", json.dumps(gitea))
    put("forge-push", "hook-sha256.json", json.dumps(hook))


def json_seeds():
    digest = "sha256:" + "a" * 64
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           "digest": digest, "size": 2},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                            "digest": digest, "size": 10, "annotations": {"a": "b"}}],
                "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                            "digest": digest, "size": 3}, "annotations": {"x": "y"}}
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                            "digest": digest, "size": 5,
                            "platform": {"architecture": "amd64", "os": "linux"}}]}
    docker = {"schemaVersion": 2,
              "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
              "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                         "digest": digest, "size": 7}, "layers": []}
    put("oci-manifest", "image.json", json.dumps(manifest))
    put("oci-manifest", "index.json", json.dumps(index))
    put("oci-manifest", "docker.json", json.dumps(docker))
    config = {"architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
              "config": {"Env": ["PATH=/usr/bin"], "Entrypoint": ["/app"], "User": "1000",
                         "Labels": {"a": "b"}, "ExposedPorts": {"80/tcp": {}}},
              "rootfs": {"type": "layers", "diff_ids": [digest]},
              "history": [{"created_by": "kiln", "empty_layer": True}]}
    put("oci-config", "config.json", json.dumps(config))
    for i, r in enumerate(["oci:/tmp/layout:v1", "oci:layout@" + digest, "ghcr.io/acme/app:1.0",
                           "localhost:5000/a/b@" + digest, "busybox", "[::1]:5000/x:y"]):
        put("oci-reference", "ref%d" % i, r)
    put("sbom-apk-installed", "installed",
        "C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\nS:383152\nI:622592\nT:the musl c library\n"
        "U:https://musl.libc.org/\nL:MIT\no:musl\nm:Maintainer <m@example.com>\nt:1700000000\n"
        "c:abc\nD:so:libc.musl-x86_64.so.1\np:so:libc.musl-x86_64.so.1=1\nF:lib\n"
        "R:ld-musl-x86_64.so.1\na:0:0:755\nZ:Q1xyz=\n\nP:busybox\nV:1.36.1-r5\nL:GPL-2.0-only\n"
        "D:musl\nF:bin\nR:busybox\n")
    put("sbom-dotnet-deps", "app.deps.json", json.dumps({
        "runtimeTarget": {"name": ".NETCoreApp,Version=v8.0"},
        "targets": {".NETCoreApp,Version=v8.0": {"app/1.0.0": {"dependencies": {"Newtonsoft.Json": "13.0.1"}},
                                                 "Newtonsoft.Json/13.0.1": {"runtime": {"lib/x.dll": {}}}}},
        "libraries": {"app/1.0.0": {"type": "project"},
                      "Newtonsoft.Json/13.0.1": {"type": "package", "sha512": "sha512-abc",
                                                 "path": "newtonsoft.json/13.0.1"}}}))
    mf = ("Manifest-Version: 1.0\nImplementation-Title: demo\nImplementation-Version: 2.3.4\n"
          "Implementation-Vendor-Id: org.example\nBundle-SymbolicName: org.example.demo\n"
          "Long-Line: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n bbbb\n\n"
          "Name: x\nKey: v\n")
    put("sbom-jar-manifest", "MANIFEST.MF", mf)
    put("sbom-jar-manifest", "pom.properties", "groupId=org.example\nartifactId=demo\nversion=2.3.4\n")
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        z.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\nImplementation-Version: 0.1\n")
        z.writestr("META-INF/maven/org.dep/dep/pom.properties", "groupId=org.dep\nartifactId=dep\nversion=0.1\n")
    outer = io.BytesIO()
    with zipfile.ZipFile(outer, "w") as z:
        z.writestr("META-INF/MANIFEST.MF", mf)
        z.writestr("META-INF/maven/org.example/demo/pom.properties",
                   "groupId=org.example\nartifactId=demo\nversion=2.3.4\n")
        z.writestr("BOOT-INF/lib/dep-0.1.jar", inner.getvalue())
    put("sbom-jar", "app.jar", outer.getvalue())
    put("sbom-jar", "stored.jar", inner.getvalue())
    put("sbom-document", "spdx-min.json", json.dumps({
        "spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT", "name": "x",
        "documentNamespace": "https://example.com/x", "creationInfo": {"created": "2024-01-01T00:00:00Z", "creators": ["Tool: x"]},
        "packages": [{"name": "lodash", "SPDXID": "SPDXRef-p1", "versionInfo": "4.17.20", "downloadLocation": "NOASSERTION",
                      "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                                        "referenceLocator": "pkg:npm/lodash@4.17.20"}]}],
        "relationships": [{"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": "SPDXRef-p1"}]}))
    put("sbom-document", "cdx-min.json", json.dumps({
        "bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
        "components": [{"type": "library", "bom-ref": "c1", "name": "openssl", "version": "3.0.11-1~deb12u2",
                        "purl": "pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64&distro=debian-12"}],
        "dependencies": [{"ref": "c1", "dependsOn": []}]}))
    put("vex", "openvex.json", json.dumps({
        "@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/1", "author": "a",
        "timestamp": "2024-01-01T00:00:00Z", "version": 1,
        "statements": [{"vulnerability": {"name": "CVE-2024-0001"}, "products": [{"@id": "pkg:npm/lodash@4.17.20"}],
                        "status": "not_affected", "justification": "vulnerable_code_not_present"},
                       {"vulnerability": {"name": "GHSA-xxxx-yyyy-zzzz"}, "products": [{"@id": "pkg:oci/app@" + digest}],
                        "status": "fixed"}]}))
    put("vex", "cdx-vex.json", json.dumps({
        "bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
        "vulnerabilities": [{"id": "CVE-2024-0001", "analysis": {"state": "not_affected", "justification": "code_not_reachable"},
                             "affects": [{"ref": "pkg:npm/lodash@4.17.20"}]}]}))
    for i, p in enumerate(["pkg:npm/%40scope/name@1.0.0?a=b#sub/path", "pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64&distro=debian-12",
                           "pkg:maven/org.apache/commons@1.2", "pkg:golang/github.com/a/b@v1.2.3", "pkg:rpm/redhat/bash@5.1-2.el9?epoch=1",
                           "pkg:pypi/Django@4.2", "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64"]):
        put("purl", "p%d" % i, p)
    # version: first byte picks the scheme (index into Semver, Pub, Pep440, Maven, RubyGems,
    # NuGet, Composer, Dpkg, Rpm, Apk, Cran, Hackage), then "A\nB".
    pairs = ["1.2.3-alpha.1+b\n1.2.3", "2.0.0+1\n2.0.0", "1.0.post1.dev2\n1!0.9rc1", "1.0-SNAPSHOT\n1.0.sp1",
             "1.0.0.pre.a\n1.0.0", "1.0.0-beta.1\n1.0.0.0", "dev-main\n1.0.0-RC2", "1:2.3~rc1-4ubuntu1\n2.3-4",
             "1:2.3-4.el9_1\n2.3~beta-4", "1.2.3_rc1-r4\n1.2.3-r10", "1.2-3\n1.2.4", "0.1.2.3\n0.1.2"]
    for i, p in enumerate(pairs):
        put("version", "v%02d" % i, bytes([i]) + p.encode())
    put("notation-trust-policy", "trustpolicy.json", json.dumps({
        "version": "1.0", "trustPolicies": [{"name": "p", "registryScopes": ["*"],
            "signatureVerification": {"level": "strict"}, "trustStores": ["ca:kiln"],
            "trustedIdentities": ["x509.subject: C=US, ST=WA, O=Kiln, CN=Kiln Signer"]}]}))
    put("admission-review", "pod.json", json.dumps({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": "u1", "kind": {"group": "", "version": "v1", "kind": "Pod"}, "namespace": "default",
                    "operation": "CREATE", "dryRun": False,
                    "object": {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "ghcr.io/a/b@" + digest}],
                                                                 "initContainers": [{"name": "i", "image": "busybox"}]}}}}))
    put("gitleaks-config", "small.toml",
        'title = "fuzz"\n[extend]\nuseDefault = true\ndisabledRules = ["generic-api-key"]\n'
        '[[rules]]\nid = "r1"\ndescription = "d"\nregex = \'\'\'(?i)token[=:]\\s*([a-z0-9]{16,})\'\'\'\n'
        'secretGroup = 1\nentropy = 3.5\nkeywords = ["token"]\npath = \'\'\'\\.env$\'\'\'\n'
        '[[rules.allowlists]]\nregexTarget = "match"\nregexes = [\'\'\'example\'\'\']\nstopwords = ["dummy"]\n'
        '[allowlist]\npaths = [\'\'\'vendor/\'\'\']\ncommits = ["abc"]\n')
    put("osv-record", "ghsa.json", json.dumps({
        "schema_version": "1.6.0", "id": "GHSA-fuzz-0000-0000", "modified": "2024-01-01T00:00:00Z",
        "published": "2024-01-01T00:00:00Z", "aliases": ["CVE-2024-0001"], "summary": "s",
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
        "affected": [{"package": {"ecosystem": "npm", "name": "lodash", "purl": "pkg:npm/lodash"},
                      "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "4.17.21"}]}],
                      "versions": ["4.17.20"], "database_specific": {"x": 1}},
                     {"package": {"ecosystem": "Debian:12", "name": "openssl"},
                      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"last_affected": "3.0.11-1~deb12u1"}]}]}],
        "references": [{"type": "ADVISORY", "url": "https://example.com"}]}))
    put("sbom-os-release", "alpine", 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.20.3\nPRETTY_NAME="Alpine Linux v3.20"\n')


if len(sys.argv) > 3 and sys.argv[2] == "--classify":
    classify(sys.argv[3])
else:
    tar_seeds()
    json_seeds()
    forge_seeds()
