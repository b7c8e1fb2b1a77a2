//! rpm distributions: a package matches only advisories of its own distribution and release
//! (`AlmaLinux:10`, `Red Hat:enterprise_linux:9::baseos`, `SUSE:Linux Enterprise Server 15
//! SP5`), by binary or source package name, with the epoch from the PURL. Real AlmaLinux
//! records from the shared samples; Red Hat and SUSE records written here in the form those
//! databases publish (no samples of them are shared).

use std::path::Path;

use kiln_vuln::db::Database;
use kiln_vuln::import::{Loaded, read_path};
use serde_json::json;

const RED_HAT: &str = r#"{
  "schema_version": "1.6.0",
  "id": "RHSA-2024:0001",
  "modified": "2024-06-01T00:00:00Z",
  "upstream": ["CVE-2023-38545"],
  "summary": "Important: curl security update",
  "affected": [
    {"package": {"ecosystem": "Red Hat:enterprise_linux:9::baseos", "name": "curl",
                 "purl": "pkg:rpm/redhat/curl?arch=src"},
     "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "0:7.76.1-26.el9_3.2"}]}]},
    {"package": {"ecosystem": "Red Hat:enterprise_linux:8::baseos", "name": "curl"},
     "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "0:7.61.1-33.el8_9.5"}]}]},
    {"package": {"ecosystem": "Red Hat:rhel_eus:9.2::baseos", "name": "curl"},
     "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "0:7.76.1-23.el9_2.4"}]}]}
  ],
  "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]
}"#;

const SUSE: &str = r#"{
  "schema_version": "1.6.0",
  "id": "SUSE-SU-2024:0001-1",
  "modified": "2024-06-01T00:00:00Z",
  "aliases": [],
  "related": ["CVE-2023-5678"],
  "summary": "Security update for openssl-3",
  "affected": [
    {"package": {"ecosystem": "SUSE:Linux Enterprise Server 15 SP5", "name": "openssl-3",
                 "purl": "pkg:rpm/suse/openssl-3&distro=SUSE%20Linux%20Enterprise%20Server%2015%20SP5"},
     "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.0.8-150500.5.20.1"}]}],
     "ecosystem_specific": {"binaries": [{"libopenssl3": "3.0.8-150500.5.20.1", "openssl-3": "3.0.8-150500.5.20.1"}]}},
    {"package": {"ecosystem": "SUSE:Linux Enterprise Server 15 SP4", "name": "openssl-3"},
     "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.0.1-150400.4.40.1"}]}]}
  ]
}"#;

fn rpm(name: &str, version: &str, purl_tail: &str) -> serde_json::Value {
    let (ns, rest) = purl_tail.split_once('|').unwrap();
    json!({
        "id": format!("{ns}-{name}"),
        "name": name,
        "version": version,
        "type": "rpm",
        "purl": format!("pkg:rpm/{ns}/{name}@{version}?arch=x86_64{rest}"),
    })
}

/// (purl, id, ecosystem, fixed versions, source package) of one finding.
type Row = (String, String, String, Vec<String>, Option<String>);

fn database(dir: &Path) -> Option<Database> {
    let samples = kiln_testutil::shared_vectors("osv/samples")?;
    let own = dir.join("own");
    std::fs::create_dir_all(&own).unwrap();
    std::fs::write(own.join("RHSA-2024:0001.json"), RED_HAT).unwrap();
    std::fs::write(own.join("SUSE-SU-2024:0001-1.json"), SUSE).unwrap();
    let mut loaded = Loaded::default();
    read_path(&samples, &mut loaded);
    read_path(&own, &mut loaded);
    let db = Database::open_or_create(&dir.join("v.db")).unwrap();
    let report = db.import(loaded.records).unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    Some(db)
}

#[test]
fn rpm_packages_match_their_own_distribution_and_release() {
    let t = tempfile::tempdir().unwrap();
    let Some(db) = database(t.path()) else {
        return;
    };
    let alma10 = "&distro=almalinux-10.1";
    let sbom = json!({
        "kilnSbom": 1,
        "source": "test",
        "packages": [
            // AlmaLinux 10: below the fix (a finding), at the fix (none).
            rpm("ruby-doc", "3.3.10-10.el10", &format!("almalinux|&upstream=ruby-3.3.10-10.el10.src.rpm{alma10}")),
            rpm("firefox", "140.12.0-1.el10_2", &format!("almalinux|{alma10}")),
            // The same old ruby-doc on AlmaLinux 9: the advisory is for 10 only.
            rpm("ruby-doc", "3.3.10-9.el9", "almalinux|&distro=almalinux-9.4"),
            // RHEL 9.4: curl by binary name; libcurl through its source rpm; the 9.2 EUS
            // stream does not apply to 9.4.
            rpm("curl", "7.76.1-26.el9", "rhel|&upstream=curl-7.76.1-26.el9.src.rpm&distro=rhel-9.4"),
            rpm("libcurl", "7.76.1-26.el9", "rhel|&upstream=curl-7.76.1-26.el9.src.rpm&distro=rhel-9.4"),
            // RHEL 8 curl with an epoch above every fix: none.
            rpm("curl", "7.61.1-30.el8", "rhel|&epoch=1&distro=rhel-8.9"),
            // SLES 15 SP5: libopenssl3 through its source package openssl-3.
            rpm("libopenssl3", "3.0.8-150500.5.8.1", "sles|&upstream=openssl-3-3.0.8-150500.5.8.1.src.rpm&distro=sles-15.5"),
            // SLES 15 SP3: no advisory for that service pack.
            rpm("libopenssl3", "3.0.8-150500.5.8.1", "sles|&upstream=openssl-3-3.0.8-150500.5.8.1.src.rpm&distro=sles-15.3"),
            // Fedora has no OSV data of its own: never matched against Red Hat's.
            rpm("curl", "7.76.1-1.fc40", "fedora|&distro=fedora-40"),
        ]
    });
    let catalog = kiln_sbom::format::read(sbom.to_string().as_bytes(), "sbom.json").unwrap();
    let result = kiln_vuln::scan::scan(&db.reader().unwrap(), &catalog).unwrap();
    assert!(result.warnings.is_empty(), "{:?}", result.warnings);
    let got: Vec<Row> = result
        .findings
        .iter()
        .map(|f| {
            (
                f.package.purl.clone(),
                f.id.clone(),
                f.package.ecosystem.clone(),
                f.fixed_versions.clone(),
                f.package.source_name.clone(),
            )
        })
        .collect();
    let purl = |p: &serde_json::Value| p["purl"].as_str().unwrap().to_string();
    let pk = &sbom["packages"];
    let s = |x: &str| vec![x.to_string()];
    assert_eq!(
        got,
        [
            (
                purl(&pk[0]),
                "ALSA-2026:18065".to_string(),
                "AlmaLinux".to_string(),
                s("3.3.10-12.el10_1"),
                None
            ),
            (
                purl(&pk[3]),
                "RHSA-2024:0001".to_string(),
                "Red Hat".to_string(),
                s("0:7.76.1-26.el9_3.2"),
                None
            ),
            (
                purl(&pk[4]),
                "RHSA-2024:0001".to_string(),
                "Red Hat".to_string(),
                s("0:7.76.1-26.el9_3.2"),
                Some("curl".to_string())
            ),
            (
                purl(&pk[6]),
                "SUSE-SU-2024:0001-1".to_string(),
                "SUSE".to_string(),
                s("3.0.8-150500.5.20.1"),
                Some("openssl-3".to_string())
            ),
        ]
    );
    let rhsa = &result.findings[1];
    assert_eq!(rhsa.severity, kiln_vuln::severity::Rating::Critical);
    assert_eq!(rhsa.package.version, "7.76.1-26.el9");
}
