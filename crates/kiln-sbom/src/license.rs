//! Declared licenses as SPDX expressions: a declared value is kept only when it is (or can
//! be canonicalized into) a valid SPDX expression, so SBOM writers never emit an invalid one.

/// The SPDX expression for a declared license string, when one can be derived correctly.
pub fn to_spdx(declared: &str) -> Option<String> {
    let s = declared.trim();
    if s.is_empty() || s.len() > 512 {
        return None;
    }
    if spdx::Expression::parse(s).is_ok() {
        return Some(s.to_string());
    }
    if let Some((id, len)) = spdx::imprecise_license_id(s)
        && len == s.len()
    {
        return Some(id.name.to_string());
    }
    if let Ok(Some(c)) = spdx::Expression::canonicalize(s)
        && spdx::Expression::parse(&c).is_ok()
    {
        return Some(c);
    }
    None
}

/// Joins several declared licenses with `AND`, each kept only if valid.
pub fn join<'a>(items: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut parts: Vec<String> = items.into_iter().filter_map(to_spdx).collect();
    parts.sort();
    parts.dedup();
    match parts.len() {
        0 => None,
        1 => parts.pop(),
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

/// The license a Python trove classifier declares, if it maps to one SPDX id.
pub fn from_classifier(c: &str) -> Option<String> {
    let last = c.rsplit("::").next()?.trim();
    let id = match last {
        "MIT License" => "MIT",
        "BSD License" => return None,
        "Apache Software License" => "Apache-2.0",
        "ISC License (ISCL)" => "ISC",
        "Mozilla Public License 2.0 (MPL 2.0)" => "MPL-2.0",
        "Python Software Foundation License" => "PSF-2.0",
        other => return to_spdx(other),
    };
    Some(id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_valid_and_drops_prose() {
        assert_eq!(
            to_spdx("MIT OR Apache-2.0").as_deref(),
            Some("MIT OR Apache-2.0")
        );
        assert_eq!(to_spdx("Apache 2.0").as_deref(), Some("Apache-2.0"));
        assert_eq!(
            to_spdx("see the file LICENSE for details, all rights reserved"),
            None
        );
        assert_eq!(join(["MIT", "ISC", "MIT"]).as_deref(), Some("ISC AND MIT"));
    }
}
