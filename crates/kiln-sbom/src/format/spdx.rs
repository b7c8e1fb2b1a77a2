//! SPDX 2.3 JSON: a writer with hand-written serde structs (one root package for the
//! scanned source, an OPERATING-SYSTEM package for the distribution, a package per catalog
//! entry with its PURL and CPEs as external references, DESCRIBES / CONTAINS / DEPENDS_ON
//! relationships), and a reader for Kiln's and syft's documents.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;

use super::time::rfc3339;
use super::{ReadError, WriteOptions, fingerprint, purl_info, writable_license};
use crate::package::{Catalog, Distro, Location, Package, PackageType};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Document {
    spdx_version: &'static str,
    data_license: &'static str,
    #[serde(rename = "SPDXID")]
    spdx_id: &'static str,
    name: String,
    document_namespace: String,
    creation_info: CreationInfo,
    packages: Vec<SpdxPackage>,
    relationships: Vec<Relationship>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreationInfo {
    created: String,
    creators: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SpdxPackage {
    name: String,
    #[serde(rename = "SPDXID")]
    spdx_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_info: Option<String>,
    supplier: &'static str,
    download_location: &'static str,
    files_analyzed: bool,
    license_concluded: &'static str,
    license_declared: String,
    copyright_text: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_info: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    external_refs: Vec<ExternalRef>,
    primary_package_purpose: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExternalRef {
    reference_category: &'static str,
    reference_type: &'static str,
    reference_locator: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Relationship {
    spdx_element_id: String,
    relationship_type: &'static str,
    related_spdx_element: String,
}

const ROOT: &str = "SPDXRef-DocumentRoot";
const OS: &str = "SPDXRef-OperatingSystem";

fn spdx_id(id: &str) -> String {
    let clean: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("SPDXRef-Package-{clean}")
}

fn source_info(p: &Package) -> Option<String> {
    let locs: Vec<String> = p
        .locations
        .iter()
        .map(|l| match &l.layer {
            Some(layer) => format!("{} (layer {layer})", l.path),
            None => l.path.clone(),
        })
        .collect();
    (!locs.is_empty()).then(|| format!("acquired package info from {}", locs.join(", ")))
}

/// Writes the catalog as an SPDX 2.3 JSON document.
pub fn write(catalog: &Catalog, opts: &WriteOptions) -> String {
    let fp = fingerprint(catalog, opts);
    let is_image = catalog.image_digest.is_some();
    let mut packages = vec![SpdxPackage {
        name: catalog.source.clone(),
        spdx_id: ROOT.into(),
        version_info: catalog.image_digest.clone(),
        supplier: "NOASSERTION",
        download_location: "NOASSERTION",
        files_analyzed: false,
        license_concluded: "NOASSERTION",
        license_declared: "NOASSERTION".into(),
        copyright_text: "NOASSERTION",
        source_info: None,
        external_refs: Vec::new(),
        primary_package_purpose: if is_image { "CONTAINER" } else { "FILE" },
    }];
    let mut rels = vec![Relationship {
        spdx_element_id: "SPDXRef-DOCUMENT".into(),
        relationship_type: "DESCRIBES",
        related_spdx_element: ROOT.into(),
    }];
    if let Some(d) = &catalog.distro {
        packages.push(SpdxPackage {
            name: d.id.clone(),
            spdx_id: OS.into(),
            version_info: Some(d.version_id.clone()).filter(|v| !v.is_empty()),
            supplier: "NOASSERTION",
            download_location: "NOASSERTION",
            files_analyzed: false,
            license_concluded: "NOASSERTION",
            license_declared: "NOASSERTION".into(),
            copyright_text: "NOASSERTION",
            source_info: d.pretty_name.clone(),
            external_refs: Vec::new(),
            primary_package_purpose: "OPERATING-SYSTEM",
        });
        rels.push(Relationship {
            spdx_element_id: ROOT.into(),
            relationship_type: "CONTAINS",
            related_spdx_element: OS.into(),
        });
    }
    for p in &catalog.packages {
        let mut refs = vec![ExternalRef {
            reference_category: "PACKAGE-MANAGER",
            reference_type: "purl",
            reference_locator: p.purl.clone(),
        }];
        for c in &p.cpes {
            refs.push(ExternalRef {
                reference_category: "SECURITY",
                reference_type: "cpe23Type",
                reference_locator: c.clone(),
            });
        }
        packages.push(SpdxPackage {
            name: p.name.clone(),
            spdx_id: spdx_id(&p.id),
            version_info: Some(p.version.clone()).filter(|v| !v.is_empty()),
            supplier: "NOASSERTION",
            download_location: "NOASSERTION",
            files_analyzed: false,
            license_concluded: "NOASSERTION",
            license_declared: writable_license(&p.license)
                .unwrap_or("NOASSERTION")
                .to_string(),
            copyright_text: "NOASSERTION",
            source_info: source_info(p),
            external_refs: refs,
            primary_package_purpose: "LIBRARY",
        });
        rels.push(Relationship {
            spdx_element_id: ROOT.into(),
            relationship_type: "CONTAINS",
            related_spdx_element: spdx_id(&p.id),
        });
        for d in &p.depends_on {
            rels.push(Relationship {
                spdx_element_id: spdx_id(&p.id),
                relationship_type: "DEPENDS_ON",
                related_spdx_element: spdx_id(d),
            });
        }
    }
    let doc = Document {
        spdx_version: "SPDX-2.3",
        data_license: "CC0-1.0",
        spdx_id: "SPDXRef-DOCUMENT",
        name: catalog.source.clone(),
        document_namespace: format!("https://kiln.invalid/spdx/{}", &fp[..32]),
        creation_info: CreationInfo {
            created: rfc3339(opts.created),
            creators: vec![format!("Tool: kiln-{}", opts.tool_version)],
        },
        packages,
        relationships: rels,
    };
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

/// Reads an SPDX 2.x JSON document (Kiln's or syft's) into a catalog: every package with a
/// PURL becomes a package; the described root and OPERATING-SYSTEM packages give the source
/// name and distribution.
pub fn read(doc: &Value, what: &str) -> Result<Catalog, ReadError> {
    let bad = |r: &str| ReadError::Invalid {
        what: what.to_string(),
        reason: r.to_string(),
    };
    let pkgs = doc
        .get("packages")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("no packages array"))?;
    let mut catalog = Catalog {
        source: doc
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or(what)
            .to_string(),
        ..Catalog::default()
    };
    let mut ids: HashMap<String, String> = HashMap::new();
    for p in pkgs {
        let sid = p.get("SPDXID").and_then(Value::as_str).unwrap_or("");
        let name = p.get("name").and_then(Value::as_str).unwrap_or("");
        let version = p.get("versionInfo").and_then(Value::as_str).unwrap_or("");
        if p.get("primaryPackagePurpose").and_then(Value::as_str) == Some("OPERATING-SYSTEM") {
            catalog.distro = Some(Distro {
                id: name.to_string(),
                version_id: version.to_string(),
                pretty_name: None,
            });
            continue;
        }
        let refs = p
            .get("externalRefs")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let locator = |t: &str| {
            refs.iter()
                .filter(|r| r.get("referenceType").and_then(Value::as_str) == Some(t))
                .filter_map(|r| {
                    r.get("referenceLocator")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
                .collect::<Vec<_>>()
        };
        let Some(purl) = locator("purl").into_iter().next() else {
            continue;
        };
        let info = purl_info(&purl);
        if info.kind.is_none() || purl.starts_with("pkg:oci/") || purl.starts_with("pkg:docker/") {
            if sid == ROOT {
                catalog.source = name.to_string();
            }
            continue;
        }
        let id = sid
            .trim_start_matches("SPDXRef-Package-")
            .trim_start_matches("SPDXRef-")
            .to_string();
        ids.insert(sid.to_string(), id.clone());
        if let Some((d, v)) = &info.distro {
            catalog.distro.get_or_insert_with(|| Distro {
                id: d.clone(),
                version_id: v.clone(),
                pretty_name: None,
            });
        }
        let license = p
            .get("licenseDeclared")
            .and_then(Value::as_str)
            .filter(|l| *l != "NOASSERTION" && *l != "NONE")
            .map(str::to_string);
        let locations = p
            .get("sourceInfo")
            .and_then(Value::as_str)
            .and_then(|s| s.strip_prefix("acquired package info from "))
            .map(|s| {
                s.split(", ")
                    .map(|l| match l.split_once(" (layer ") {
                        Some((path, layer)) => Location {
                            path: path.into(),
                            layer: Some(layer.trim_end_matches(')').into()),
                        },
                        None => Location {
                            path: l.trim().to_string(),
                            layer: None,
                        },
                    })
                    .filter(|l| l.path.starts_with('/'))
                    .collect()
            })
            .unwrap_or_default();
        let (source_name, source_version) = match info.upstream {
            Some((n, v)) => (Some(n), v.or_else(|| Some(version.to_string()))),
            None => (None, None),
        };
        catalog.packages.push(Package {
            id,
            name: name.to_string(),
            version: version.to_string(),
            kind: info.kind.unwrap_or(PackageType::Other),
            purl,
            license,
            locations,
            cpes: locator("cpe23Type"),
            source_name,
            source_version,
            depends_on: Vec::new(),
        });
    }
    if let Some(rels) = doc.get("relationships").and_then(Value::as_array) {
        let mut deps: HashMap<String, Vec<String>> = HashMap::new();
        for r in rels {
            let a = r.get("spdxElementId").and_then(Value::as_str).unwrap_or("");
            let t = r
                .get("relationshipType")
                .and_then(Value::as_str)
                .unwrap_or("");
            let b = r
                .get("relatedSpdxElement")
                .and_then(Value::as_str)
                .unwrap_or("");
            let (from, to) = match t {
                "DEPENDS_ON" => (a, b),
                "DEPENDENCY_OF" => (b, a),
                _ => continue,
            };
            if let (Some(f), Some(t)) = (ids.get(from), ids.get(to)) {
                deps.entry(f.clone()).or_default().push(t.clone());
            }
        }
        for p in &mut catalog.packages {
            if let Some(d) = deps.remove(&p.id) {
                p.depends_on = d;
            }
        }
    }
    Ok(catalog)
}
