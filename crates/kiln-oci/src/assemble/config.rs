//! The image configuration of an assembled image: the base's configuration (if any) with
//! the settings asked for applied on top, the layers' diff ids appended, and every time
//! fixed (`created` from `SOURCE_DATE_EPOCH` or 1970), so the same inputs give the same
//! bytes.

use std::collections::BTreeMap;

use super::error::{AssembleError, Result};
use crate::digest::Digest;
use crate::manifest::{History, ImageConfig, RootFs, RuntimeConfig};

/// The platform used when neither the spec nor the base names one.
pub const DEFAULT_OS: &str = "linux";
/// The architecture used when neither the spec nor the base names one. Fixed rather than
/// taken from the host so that a build gives the same digest on any machine.
pub const DEFAULT_ARCHITECTURE: &str = "amd64";

/// The configuration settings of an image; `None` or empty keeps the base's value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConfigSpec {
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    /// Environment variables, set in this order over the base's.
    pub env: Vec<(String, String)>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// `PORT[/PROTO]`, protocol `tcp` (the default), `udp` or `sctp`.
    pub exposed_ports: Vec<String>,
    pub os: Option<String>,
    pub architecture: Option<String>,
    pub variant: Option<String>,
    pub author: Option<String>,
}

impl ConfigSpec {
    /// The platform this spec asks for, falling back on `base` then on the defaults.
    pub fn platform(&self, base: Option<&ImageConfig>) -> (String, String, Option<String>) {
        let os = self
            .os
            .clone()
            .or_else(|| base.map(|b| b.os.clone()))
            .unwrap_or_else(|| DEFAULT_OS.to_string());
        let arch = self
            .architecture
            .clone()
            .or_else(|| base.map(|b| b.architecture.clone()))
            .unwrap_or_else(|| DEFAULT_ARCHITECTURE.to_string());
        let variant = self
            .variant
            .clone()
            .or_else(|| base.and_then(|b| b.variant.clone()));
        (os, arch, variant)
    }
}

/// Normalizes an exposed port to `PORT/PROTO`.
pub fn normalize_port(port: &str) -> Result<String> {
    let bad = |reason: &str| AssembleError::Config {
        field: "exposed ports",
        reason: format!("{port:?}: {reason}"),
    };
    let (num, proto) = port.split_once('/').unwrap_or((port, "tcp"));
    let n: u16 = num
        .parse()
        .map_err(|_| bad("expected PORT or PORT/PROTO with PORT in 1..65535"))?;
    if n == 0 {
        return Err(bad("port 0 is not a port"));
    }
    let proto = proto.to_ascii_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(bad("the protocol must be tcp, udp or sctp"));
    }
    Ok(format!("{n}/{proto}"))
}

/// `YYYY-MM-DDTHH:MM:SSZ` for `epoch` seconds since 1970 (see [`crate::time::rfc3339`]).
pub fn rfc3339(epoch: u64) -> String {
    crate::time::rfc3339(i64::try_from(epoch).unwrap_or(i64::MAX))
}

/// Builds the configuration of the new image: `base` (if any) with `spec` applied, the
/// new layers' diff ids and history entries (one `created_by` per layer) appended.
pub fn build_config(
    base: Option<&ImageConfig>,
    spec: &ConfigSpec,
    layers: &[(Digest, String)],
    epoch: u64,
) -> Result<ImageConfig> {
    let created = rfc3339(epoch);
    let (os, architecture, variant) = spec.platform(base);
    let mut rt: RuntimeConfig = base.and_then(|b| b.config.clone()).unwrap_or_default();
    if let Some(e) = &spec.entrypoint {
        rt.entrypoint = Some(e.clone());
        // As with a Dockerfile ENTRYPOINT, the base's CMD no longer applies.
        if spec.cmd.is_none() {
            rt.cmd = None;
        }
    }
    if let Some(c) = &spec.cmd {
        rt.cmd = Some(c.clone());
    }
    if !spec.env.is_empty() {
        let mut env = rt.env.take().unwrap_or_default();
        for (k, v) in &spec.env {
            if k.is_empty() || k.contains('=') {
                return Err(AssembleError::Config {
                    field: "env",
                    reason: format!("{k:?} is not a variable name"),
                });
            }
            let item = format!("{k}={v}");
            match env
                .iter_mut()
                .find(|e| e.split_once('=').map(|(n, _)| n) == Some(k.as_str()))
            {
                Some(slot) => *slot = item,
                None => env.push(item),
            }
        }
        rt.env = Some(env);
    }
    if let Some(w) = &spec.workdir {
        rt.working_dir = Some(w.clone());
    }
    if let Some(u) = &spec.user {
        rt.user = Some(u.clone());
    }
    if !spec.labels.is_empty() {
        let labels = rt.labels.get_or_insert_with(BTreeMap::new);
        labels.extend(spec.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    if !spec.exposed_ports.is_empty() {
        let ports = rt.exposed_ports.get_or_insert_with(BTreeMap::new);
        for p in &spec.exposed_ports {
            ports.insert(normalize_port(p)?, serde_json::json!({}));
        }
    }
    let mut diff_ids = base.map(|b| b.rootfs.diff_ids.clone()).unwrap_or_default();
    let mut history = base.map(|b| b.history.clone()).unwrap_or_default();
    for (diff_id, created_by) in layers {
        diff_ids.push(diff_id.clone());
        history.push(History {
            created: Some(created.clone()),
            created_by: Some(created_by.clone()),
            comment: Some("kiln".into()),
            empty_layer: None,
        });
    }
    Ok(ImageConfig {
        created: Some(created),
        author: spec
            .author
            .clone()
            .or_else(|| base.and_then(|b| b.author.clone())),
        architecture,
        os,
        variant,
        config: if rt == RuntimeConfig::default() {
            None
        } else {
            Some(rt)
        },
        rootfs: RootFs {
            kind: "layers".into(),
            diff_ids,
        },
        history,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn ports_are_normalized_and_checked() {
        assert_eq!(normalize_port("8080").unwrap(), "8080/tcp");
        assert_eq!(normalize_port("53/UDP").unwrap(), "53/udp");
        for bad in ["0", "70000", "x", "80/icmp", ""] {
            assert!(normalize_port(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn spec_applies_over_the_base() {
        let base = ImageConfig {
            architecture: "arm64".into(),
            os: "linux".into(),
            variant: Some("v8".into()),
            config: Some(RuntimeConfig {
                env: Some(vec!["PATH=/bin".into(), "A=1".into()]),
                cmd: Some(vec!["sh".into()]),
                ..Default::default()
            }),
            rootfs: RootFs {
                kind: "layers".into(),
                diff_ids: vec![Digest::sha256(b"base")],
            },
            history: vec![History {
                created_by: Some("base".into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        let spec = ConfigSpec {
            entrypoint: Some(vec!["/app".into()]),
            env: vec![("A".into(), "2".into()), ("B".into(), "x=y".into())],
            exposed_ports: vec!["8080".into()],
            ..Default::default()
        };
        let layer = (Digest::sha256(b"new"), "kiln layer".to_string());
        let c = build_config(Some(&base), &spec, &[layer], 0).unwrap();
        let rt = c.config.as_ref().unwrap();
        assert_eq!(rt.env.as_ref().unwrap(), &["PATH=/bin", "A=2", "B=x=y"]);
        assert_eq!(rt.cmd, None, "an entrypoint clears the base's cmd");
        assert_eq!(
            (c.architecture.as_str(), c.variant.as_deref()),
            ("arm64", Some("v8"))
        );
        assert_eq!(c.rootfs.diff_ids.len(), 2);
        assert_eq!(c.history.len(), 2);
        assert_eq!(c.created.as_deref(), Some("1970-01-01T00:00:00Z"));
        let json = String::from_utf8(c.to_bytes()).unwrap();
        assert!(json.contains(r#""ExposedPorts":{"8080/tcp":{}}"#), "{json}");

        let scratch = build_config(None, &ConfigSpec::default(), &[], 0).unwrap();
        assert_eq!(
            (scratch.os.as_str(), scratch.architecture.as_str()),
            ("linux", "amd64")
        );
        assert!(scratch.config.is_none());
        let bad = ConfigSpec {
            env: vec![("A=B".into(), "x".into())],
            ..Default::default()
        };
        assert!(build_config(None, &bad, &[], 0).is_err());
    }
}
