//! SLSA provenance v1 (<https://slsa.dev/provenance/v1>) with Kiln as the builder: the
//! predicate of the provenance attestation `kiln run` attaches to the image. The
//! `buildType` it names is documented in `docs/build-type.md`.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

/// The SLSA provenance v1 predicate type.
pub const PREDICATE_TYPE: &str = "https://slsa.dev/provenance/v1";

/// The `builder.id` used when `attest.builder_id` is not set.
pub const DEFAULT_BUILDER_ID: &str = "https://kiln.dev/builder/v1";

/// The `buildType` of a `kiln run`: the schema of its parameters, documented in the
/// repository's `docs/build-type.md`.
pub const BUILD_TYPE: &str = concat!(
    env!("CARGO_PKG_REPOSITORY"),
    "/blob/main/docs/build-type.md#v1"
);

/// An in-toto ResourceDescriptor (the fields provenance uses).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceDescriptor {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub uri: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub digest: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl ResourceDescriptor {
    /// A descriptor with one digest.
    pub fn new(uri: impl Into<String>, algorithm: &str, hex: &str) -> ResourceDescriptor {
        ResourceDescriptor {
            name: None,
            uri: uri.into(),
            digest: [(algorithm.to_string(), hex.to_string())].into(),
            annotations: BTreeMap::new(),
        }
    }
}

/// Everything the predicate states.
#[derive(Debug, Clone)]
pub struct Provenance {
    /// `runDetails.builder.id`.
    pub builder_id: String,
    /// The Kiln version (`runDetails.builder.version.kiln`).
    pub kiln_version: String,
    /// `buildDefinition.externalParameters`: what the user controls (kiln.yaml).
    pub external_parameters: Value,
    /// `buildDefinition.internalParameters`: what the builder set.
    pub internal_parameters: Value,
    /// The git commit, base images, and any other input.
    pub resolved_dependencies: Vec<ResourceDescriptor>,
    /// `metadata.invocationId`: the run id.
    pub invocation_id: String,
    /// Seconds since the Unix epoch.
    pub started_on: i64,
    pub finished_on: i64,
    /// Outputs other than the image (SBOMs, reports).
    pub byproducts: Vec<ResourceDescriptor>,
}

impl Provenance {
    /// The predicate as JSON.
    pub fn predicate(&self) -> Value {
        let mut build_definition = json!({
            "buildType": BUILD_TYPE,
            "externalParameters": self.external_parameters,
        });
        if !self.internal_parameters.is_null() {
            build_definition["internalParameters"] = self.internal_parameters.clone();
        }
        if !self.resolved_dependencies.is_empty() {
            build_definition["resolvedDependencies"] = json!(self.resolved_dependencies);
        }
        let mut run_details = json!({
            "builder": {
                "id": self.builder_id,
                "version": { "kiln": self.kiln_version },
            },
            "metadata": {
                "invocationId": self.invocation_id,
                "startedOn": kiln_oci::time::rfc3339(self.started_on),
                "finishedOn": kiln_oci::time::rfc3339(self.finished_on),
            },
        });
        if !self.byproducts.is_empty() {
            run_details["byproducts"] = json!(self.byproducts);
        }
        json!({
            "buildDefinition": build_definition,
            "runDetails": run_details,
        })
    }
}

/// The `externalParameters` of a run: the sections of kiln.yaml that define the image
/// (`image`, `build`, `publish`), as written, with the file's path and digest and the
/// source it was run on.
pub fn external_parameters(
    config_text: &str,
    config_path: &str,
    source: Option<&ResourceDescriptor>,
) -> Value {
    use sha2::Digest as _;
    let doc: Value = serde_norway::from_str(config_text).unwrap_or(Value::Null);
    let mut sections = serde_json::Map::new();
    for key in ["image", "build", "publish"] {
        if let Some(v) = doc.get(key).filter(|v| !v.is_null()) {
            sections.insert(key.to_string(), v.clone());
        }
    }
    let digest = hex::encode(sha2::Sha256::digest(config_text.as_bytes()));
    let mut out = json!({
        "config": {
            "path": config_path,
            "digest": { "sha256": digest },
        },
        "pipeline": Value::Object(sections),
    });
    if let Some(s) = source {
        out["source"] = json!(s);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Provenance {
        let git = ResourceDescriptor::new(
            "git+https://example.com/hello.git@refs/heads/main",
            "gitCommit",
            "c27d339ee6075c1f744c5d4b200f7901aad2c369",
        );
        Provenance {
            builder_id: DEFAULT_BUILDER_ID.into(),
            kiln_version: "0.1.0".into(),
            external_parameters: external_parameters(
                "image: { tag: '1' }\nbuild: { base: scratch }\nsecrets: { enabled: false }\n",
                "kiln.yaml",
                Some(&git),
            ),
            internal_parameters: json!({"sourceDateEpoch": 0}),
            resolved_dependencies: vec![git],
            invocation_id: "run-1".into(),
            started_on: 1_700_000_000,
            finished_on: 1_700_000_002,
            byproducts: vec![],
        }
    }

    /// The fields the SLSA v1 example in the shared vectors has, with the same shapes.
    #[test]
    fn same_shape_as_the_slsa_example() {
        let p = sample().predicate();
        let bd = &p["buildDefinition"];
        let build_type = bd["buildType"].as_str().unwrap();
        assert!(
            build_type.starts_with("https://") && build_type.ends_with("docs/build-type.md#v1"),
            "buildType must be an absolute URI: {build_type}"
        );
        assert!(bd["externalParameters"].is_object());
        let dep = &bd["resolvedDependencies"][0];
        assert_eq!(
            dep["digest"]["gitCommit"],
            "c27d339ee6075c1f744c5d4b200f7901aad2c369"
        );
        assert_eq!(p["runDetails"]["builder"]["id"], DEFAULT_BUILDER_ID);
        let md = &p["runDetails"]["metadata"];
        assert_eq!(md["invocationId"], "run-1");
        assert_eq!(md["startedOn"], "2023-11-14T22:13:20Z");
        assert_eq!(md["finishedOn"], "2023-11-14T22:13:22Z");

        let Some(dir) = kiln_testutil::shared_vectors("slsa") else {
            return;
        };
        let text =
            std::fs::read_to_string(dir.join("github-actions-workflow-v1-example.json")).unwrap();
        let example: Value = serde_json::from_str(&text).unwrap();
        let ex = &example["predicate"];
        // Every top-level key of ours is one the example (the spec) uses, of the same type.
        for (path, ours, theirs) in [
            ("", &p, ex),
            (
                "buildDefinition",
                &p["buildDefinition"],
                &ex["buildDefinition"],
            ),
            ("runDetails", &p["runDetails"], &ex["runDetails"]),
            (
                "runDetails.metadata",
                &p["runDetails"]["metadata"],
                &ex["runDetails"]["metadata"],
            ),
        ] {
            for (k, v) in ours.as_object().unwrap() {
                if let Some(t) = theirs.get(k) {
                    assert_eq!(
                        std::mem::discriminant(v),
                        std::mem::discriminant(t),
                        "{path}.{k}"
                    );
                }
            }
        }
        let known = [
            "buildType",
            "externalParameters",
            "internalParameters",
            "resolvedDependencies",
        ];
        for k in p["buildDefinition"].as_object().unwrap().keys() {
            assert!(known.contains(&k.as_str()), "{k}");
        }
    }

    #[test]
    fn external_parameters_keep_only_the_image_sections() {
        let e = external_parameters(
            "image: { tag: '1' }\nbuild: { base: scratch }\nsign: { key: k }\n",
            "kiln.yaml",
            None,
        );
        assert_eq!(e["pipeline"]["build"]["base"], "scratch");
        assert!(e["pipeline"].get("sign").is_none());
        assert_eq!(e["config"]["digest"]["sha256"].as_str().unwrap().len(), 64);
    }
}
