//! Finding the pod spec of a workload and every container image in it, each with the JSON
//! pointer of its `image` field (for the digest-pinning patch).
//!
//! Handled kinds and where their pod spec lives:
//! - `Pod`: `/spec`;
//! - `Deployment`, `StatefulSet`, `DaemonSet`, `ReplicaSet`, `ReplicationController`, `Job`:
//!   `/spec/template/spec`;
//! - `CronJob`: `/spec/jobTemplate/spec/template/spec`.
//!
//! Any other kind is **allowed only when it carries no containers**: an object of an unknown
//! kind with a `containers` list of images anywhere in it is denied (fail closed), because
//! its images cannot be located reliably. The webhook configurations only send the kinds
//! above, so this matters only when an operator widens the rules.

use serde_json::Value;

/// Container lists of a pod spec, in the order they are reported.
pub const CONTAINER_LISTS: [&str; 3] = ["initContainers", "containers", "ephemeralContainers"];

/// One container image and where it sits in the object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSite {
    /// JSON pointer (RFC 6901) of the `image` string.
    pub pointer: String,
    /// The container's name (empty if absent).
    pub container: String,
    /// The image reference as written.
    pub image: String,
}

/// What a workload holds that the webhook cares about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodSpecView {
    pub images: Vec<ImageSite>,
    /// Names from `imagePullSecrets`.
    pub pull_secrets: Vec<String>,
}

/// Why the images of an object cannot be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WorkloadError {
    #[error("{kind} has no pod spec at {pointer}")]
    NoPodSpec { kind: String, pointer: String },
    #[error("{pointer} is not a list of containers")]
    NotAList { pointer: String },
    #[error("{pointer} is not a string")]
    ImageNotString { pointer: String },
    #[error(
        "objects of kind {kind} are not handled by this webhook but this one holds containers \
         (at {pointer}); denied because its images cannot be checked"
    )]
    UnknownKindWithContainers { kind: String, pointer: String },
    #[error("the request carries no object")]
    NoObject,
}

/// The pointer of the pod spec for a handled kind, `None` for other kinds.
pub fn pod_spec_pointer(kind: &str) -> Option<&'static str> {
    match kind {
        "Pod" => Some("/spec"),
        "Deployment"
        | "StatefulSet"
        | "DaemonSet"
        | "ReplicaSet"
        | "ReplicationController"
        | "Job" => Some("/spec/template/spec"),
        "CronJob" => Some("/spec/jobTemplate/spec/template/spec"),
        _ => None,
    }
}

/// The images of `object` of kind `kind`. Unknown kinds without containers give an empty
/// view.
pub fn extract(kind: &str, object: Option<&Value>) -> Result<PodSpecView, WorkloadError> {
    let Some(object) = object.filter(|o| !o.is_null()) else {
        return Err(WorkloadError::NoObject);
    };
    let Some(base) = pod_spec_pointer(kind) else {
        if let Some(pointer) = find_containers(object, String::new()) {
            return Err(WorkloadError::UnknownKindWithContainers {
                kind: kind.to_string(),
                pointer,
            });
        }
        return Ok(PodSpecView::default());
    };
    let spec = object
        .pointer(base)
        .filter(|s| s.is_object())
        .ok_or_else(|| WorkloadError::NoPodSpec {
            kind: kind.to_string(),
            pointer: base.to_string(),
        })?;
    let mut view = PodSpecView::default();
    for list in CONTAINER_LISTS {
        let pointer = format!("{base}/{list}");
        let Some(items) = spec.get(list) else {
            continue;
        };
        if items.is_null() {
            continue;
        }
        let items = items.as_array().ok_or_else(|| WorkloadError::NotAList {
            pointer: pointer.clone(),
        })?;
        for (i, c) in items.iter().enumerate() {
            let image_pointer = format!("{pointer}/{i}/image");
            let Some(image) = c.get("image") else {
                // Kubernetes' own validation rejects a container without an image.
                continue;
            };
            let image = image
                .as_str()
                .ok_or_else(|| WorkloadError::ImageNotString {
                    pointer: image_pointer.clone(),
                })?;
            view.images.push(ImageSite {
                pointer: image_pointer,
                container: c
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                image: image.to_string(),
            });
        }
    }
    if let Some(secrets) = spec.get("imagePullSecrets").and_then(Value::as_array) {
        view.pull_secrets = secrets
            .iter()
            .filter_map(|s| s.get("name").and_then(Value::as_str))
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
    }
    Ok(view)
}

/// The pointer of the first container list holding an image, searched depth-first.
fn find_containers(v: &Value, at: String) -> Option<String> {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let here = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                if CONTAINER_LISTS.contains(&k.as_str())
                    && child
                        .as_array()
                        .is_some_and(|a| a.iter().any(|c| c.get("image").is_some()))
                {
                    return Some(here);
                }
                if let Some(p) = find_containers(child, here) {
                    return Some(p);
                }
            }
            None
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, c)| find_containers(c, format!("{at}/{i}"))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pod_with_every_container_list() {
        let pod = json!({"spec": {
            "initContainers": [{"name": "i", "image": "r/i:1"}],
            "containers": [{"name": "a", "image": "r/a:1"}, {"name": "b", "image": "r/b@sha256:00"}],
            "ephemeralContainers": [{"name": "e", "image": "r/e"}],
            "imagePullSecrets": [{"name": "regcred"}]
        }});
        let v = extract("Pod", Some(&pod)).unwrap();
        let got: Vec<_> = v
            .images
            .iter()
            .map(|s| (s.pointer.as_str(), s.image.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("/spec/initContainers/0/image", "r/i:1"),
                ("/spec/containers/0/image", "r/a:1"),
                ("/spec/containers/1/image", "r/b@sha256:00"),
                ("/spec/ephemeralContainers/0/image", "r/e"),
            ]
        );
        assert_eq!(v.pull_secrets, ["regcred"]);
        for s in &v.images {
            assert_eq!(pod.pointer(&s.pointer).unwrap(), s.image.as_str());
        }
    }

    #[test]
    fn cronjob_path() {
        let cj = json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {
            "containers": [{"name": "c", "image": "busybox"}]}}}}}});
        let v = extract("CronJob", Some(&cj)).unwrap();
        assert_eq!(
            v.images[0].pointer,
            "/spec/jobTemplate/spec/template/spec/containers/0/image"
        );
    }

    #[test]
    fn bad_shapes_are_errors() {
        assert!(matches!(
            extract("Deployment", Some(&json!({"spec": {}}))),
            Err(WorkloadError::NoPodSpec { .. })
        ));
        assert!(matches!(
            extract(
                "Pod",
                Some(&json!({"spec": {"containers": {"image": "x"}}}))
            ),
            Err(WorkloadError::NotAList { .. })
        ));
        assert!(matches!(
            extract(
                "Pod",
                Some(&json!({"spec": {"containers": [{"image": 3}]}}))
            ),
            Err(WorkloadError::ImageNotString { .. })
        ));
        assert_eq!(extract("Pod", None), Err(WorkloadError::NoObject));
    }

    #[test]
    fn unknown_kinds() {
        assert_eq!(
            extract("ConfigMap", Some(&json!({"data": {"a": "b"}}))).unwrap(),
            PodSpecView::default()
        );
        let e = extract(
            "Rollout",
            Some(&json!({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}})),
        )
        .unwrap_err();
        assert_eq!(
            e,
            WorkloadError::UnknownKindWithContainers {
                kind: "Rollout".into(),
                pointer: "/spec/template/spec/containers".into()
            }
        );
    }
}
