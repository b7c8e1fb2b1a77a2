//! CycloneDX 1.6 JSON: a writer with hand-written serde structs (metadata with the tool and
//! the scanned source, an `operating-system` component for the distribution, a `library`
//! component per package with PURL, CPE, licenses and Kiln properties for type, locations
//! and source package, and the dependency graph), and a reader for Kiln's and syft's BOMs.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::Value;

use super::time::rfc3339;
use super::{ReadError, WriteOptions, fingerprint, kind_of_purl_type, purl_info, writable_license};
use crate::package::{Catalog, Distro, Location, Package, PackageType};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Bom {
    #[serde(rename = "$schema")]
    schema: &'static str,
    bom_format: &'static str,
    spec_version: &'static str,
    serial_number: String,
    version: u32,
    metadata: Metadata,
    components: Vec<Component>,
    dependencies: Vec<Dependency>,
}

#[derive(Serialize)]
struct Metadata {
    timestamp: String,
    tools: Tools,
    component: Component,
}

#[derive(Serialize)]
struct Tools {
    components: Vec<Component>,
}

#[derive(Serialize, Default)]
struct Component {
    #[serde(rename = "bom-ref", skip_serializing_if = "Option::is_none")]
    bom_ref: Option<String>,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    author: Option<String>,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    licenses: Vec<LicenseChoice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cpe: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    purl: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    properties: Vec<Property>,
}

#[derive(Serialize)]
struct LicenseChoice {
    expression: String,
}

#[derive(Serialize)]
struct Property {
    name: String,
    value: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Dependency {
    #[serde(rename = "ref")]
    reference: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    depends_on: Vec<String>,
}

fn prop(name: &str, value: &str) -> Property {
    Property {
        name: name.to_string(),
        value: value.to_string(),
    }
}

/// A deterministic version-5-shaped UUID from a hex fingerprint.
fn uuid(fp: &str) -> String {
    let h = fp.as_bytes();
    let s = |a: usize, b: usize| std::str::from_utf8(&h[a..b]).unwrap_or("0");
    let variant = match h[16] {
        b'0'..=b'3' => '8',
        b'4'..=b'7' => '9',
        b'8' | b'9' | b'a' | b'b' => 'a',
        _ => 'b',
    };
    format!(
        "{}-{}-5{}-{variant}{}-{}",
        s(0, 8),
        s(8, 12),
        s(13, 16),
        s(17, 20),
        s(20, 32)
    )
}

/// Writes the catalog as a CycloneDX 1.6 JSON BOM.
pub fn write(catalog: &Catalog, opts: &WriteOptions) -> String {
    let fp = fingerprint(catalog, opts);
    let mut components = Vec::new();
    if let Some(d) = &catalog.distro {
        components.push(Component {
            bom_ref: Some(format!("os:{}@{}", d.id, d.version_id)),
            kind: "operating-system",
            name: d.id.clone(),
            version: Some(d.version_id.clone()).filter(|v| !v.is_empty()),
            description: d.pretty_name.clone(),
            ..Component::default()
        });
    }
    let mut deps = Vec::new();
    for p in &catalog.packages {
        let mut props = vec![prop("kiln:package:type", p.kind.purl_type())];
        for (i, l) in p.locations.iter().enumerate() {
            props.push(prop(&format!("kiln:location:{i}:path"), &l.path));
            if let Some(layer) = &l.layer {
                props.push(prop(&format!("kiln:location:{i}:layer"), layer));
            }
        }
        if let Some(s) = &p.source_name {
            props.push(prop("kiln:package:source-name", s));
        }
        if let Some(s) = &p.source_version {
            props.push(prop("kiln:package:source-version", s));
        }
        components.push(Component {
            bom_ref: Some(p.id.clone()),
            kind: "library",
            name: p.name.clone(),
            version: Some(p.version.clone()).filter(|v| !v.is_empty()),
            licenses: writable_license(&p.license)
                .map(|e| {
                    vec![LicenseChoice {
                        expression: e.to_string(),
                    }]
                })
                .unwrap_or_default(),
            cpe: p.cpes.first().cloned(),
            purl: Some(p.purl.clone()),
            properties: props,
            ..Component::default()
        });
        if !p.depends_on.is_empty() {
            deps.push(Dependency {
                reference: p.id.clone(),
                depends_on: p.depends_on.clone(),
            });
        }
    }
    let bom = Bom {
        schema: "http://cyclonedx.org/schema/bom-1.6.schema.json",
        bom_format: "CycloneDX",
        spec_version: "1.6",
        serial_number: format!("urn:uuid:{}", uuid(&fp)),
        version: 1,
        metadata: Metadata {
            timestamp: rfc3339(opts.created),
            tools: Tools {
                components: vec![Component {
                    kind: "application",
                    author: Some("Kiln".into()),
                    name: "kiln".into(),
                    version: Some(opts.tool_version.clone()),
                    ..Component::default()
                }],
            },
            component: Component {
                bom_ref: Some("kiln:source".into()),
                kind: if catalog.image_digest.is_some() {
                    "container"
                } else {
                    "file"
                },
                name: catalog.source.clone(),
                version: catalog.image_digest.clone(),
                ..Component::default()
            },
        },
        components,
        dependencies: deps,
    };
    serde_json::to_string_pretty(&bom).unwrap_or_default() + "\n"
}

/// Reads a CycloneDX JSON BOM (Kiln's or syft's, 1.4 to 1.6) into a catalog.
pub fn read(doc: &Value, what: &str) -> Result<Catalog, ReadError> {
    let mut catalog = Catalog {
        source: doc
            .pointer("/metadata/component/name")
            .and_then(Value::as_str)
            .unwrap_or(what)
            .to_string(),
        ..Catalog::default()
    };
    let mut stack: Vec<&Value> = match doc.get("components") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(_) => {
            return Err(ReadError::Invalid {
                what: what.into(),
                reason: "components is not an array".into(),
            });
        }
        None => Vec::new(),
    };
    let mut refs: HashMap<String, String> = HashMap::new();
    while let Some(c) = stack.pop() {
        if let Some(Value::Array(sub)) = c.get("components") {
            stack.extend(sub.iter());
        }
        let s = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        if s("type") == "operating-system" {
            catalog.distro = Some(Distro {
                id: s("name"),
                version_id: s("version"),
                pretty_name: None,
            });
            continue;
        }
        let purl = s("purl");
        if purl.is_empty() {
            continue;
        }
        let props: Vec<(String, String)> = c
            .get("properties")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|p| {
                        Some((
                            p.get("name")?.as_str()?.to_string(),
                            p.get("value")?.as_str()?.to_string(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let prop = |names: &[&str]| {
            props
                .iter()
                .find(|(n, _)| names.contains(&n.as_str()))
                .map(|(_, v)| v.clone())
        };
        let info = purl_info(&purl);
        let mut kind = info.kind.unwrap_or(PackageType::Other);
        if kind == PackageType::Other
            && let Some(t) = prop(&["kiln:package:type"])
        {
            kind = kind_of_purl_type(&t);
        }
        let mut locations = Vec::new();
        for (n, v) in &props {
            if (n.starts_with("kiln:location:") || n.starts_with("syft:location:"))
                && n.ends_with(":path")
            {
                let layer_key = n.replace(":path", ":layer");
                let layer = props
                    .iter()
                    .find(|(k, _)| *k == layer_key)
                    .map(|(_, v)| v.clone());
                locations.push(Location {
                    path: v.clone(),
                    layer,
                });
            }
        }
        let license = license_of(c);
        let (mut source_name, mut source_version) = match info.upstream {
            Some((n, v)) => (Some(n), v),
            None => (None, None),
        };
        if let Some(n) = prop(&["kiln:package:source-name", "syft:metadata:source"]) {
            source_name = Some(n);
        }
        if let Some(v) = prop(&["kiln:package:source-version", "syft:metadata:sourceVersion"]) {
            source_version = Some(v);
        }
        if source_name.is_some() && source_version.is_none() {
            source_version = Some(s("version"));
        }
        if let Some((d, v)) = &info.distro {
            catalog.distro.get_or_insert_with(|| Distro {
                id: d.clone(),
                version_id: v.clone(),
                pretty_name: None,
            });
        }
        let bom_ref = s("bom-ref");
        let id = if bom_ref.is_empty() {
            purl.clone()
        } else {
            bom_ref.clone()
        };
        refs.insert(bom_ref, id.clone());
        catalog.packages.push(Package {
            id,
            name: s("name"),
            version: s("version"),
            kind,
            purl,
            license,
            locations,
            cpes: c
                .get("cpe")
                .and_then(Value::as_str)
                .map(|c| vec![c.to_string()])
                .unwrap_or_default(),
            source_name,
            source_version,
            depends_on: Vec::new(),
        });
    }
    if let Some(Value::Array(deps)) = doc.get("dependencies") {
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for d in deps {
            let Some(from) = d
                .get("ref")
                .and_then(Value::as_str)
                .and_then(|r| refs.get(r))
            else {
                continue;
            };
            let to = d
                .get("dependsOn")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let to: Vec<String> = to
                .iter()
                .filter_map(|t| refs.get(t.as_str()?).cloned())
                .collect();
            map.entry(from.clone()).or_default().extend(to);
        }
        for p in &mut catalog.packages {
            if let Some(d) = map.remove(&p.id) {
                p.depends_on = d;
            }
        }
    }
    catalog
        .packages
        .sort_by(|a, b| (&a.name, &a.version, &a.purl).cmp(&(&b.name, &b.version, &b.purl)));
    Ok(catalog)
}

fn license_of(c: &Value) -> Option<String> {
    let list = c.get("licenses")?.as_array()?;
    let parts: Vec<String> = list
        .iter()
        .filter_map(|l| {
            l.get("expression")
                .and_then(Value::as_str)
                .or_else(|| l.pointer("/license/id").and_then(Value::as_str))
                .map(str::to_string)
        })
        .collect();
    match parts.len() {
        0 => None,
        1 => parts.into_iter().next(),
        _ => Some(
            parts
                .iter()
                .map(|p| {
                    if p.contains(' ') {
                        format!("({p})")
                    } else {
                        p.clone()
                    }
                })
                .collect::<Vec<_>>()
                .join(" AND "),
        ),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn uuid_shape() {
        let u = super::uuid("0123456789abcdef0123456789abcdef0123");
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "5");
    }
}
