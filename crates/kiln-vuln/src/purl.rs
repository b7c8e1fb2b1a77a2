//! Just enough PURL reading to name a package the way OSV does (`group:artifact` for Maven,
//! `@scope/name` for npm, `module/path` for Go, `vendor/name` for Composer).

/// The parts of a package URL.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Purl {
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    pub version: Option<String>,
    /// `distro` and other qualifiers, raw.
    pub qualifiers: Vec<(String, String)>,
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) =
                u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses `pkg:type/namespace/name@version?qualifiers#subpath`; `None` when not a PURL.
pub fn parse(purl: &str) -> Option<Purl> {
    let rest = purl.strip_prefix("pkg:")?;
    let rest = rest.split('#').next().unwrap_or(rest);
    let (rest, quals) = match rest.split_once('?') {
        Some((r, q)) => (r, q),
        None => (rest, ""),
    };
    let (path, version) = match rest.rsplit_once('@') {
        Some((p, v)) if !p.is_empty() => (p, Some(decode(v))),
        _ => (rest, None),
    };
    let path = path.trim_matches('/');
    let (kind, path) = path.split_once('/')?;
    let (namespace, name) = match path.rsplit_once('/') {
        Some((ns, n)) => (
            Some(ns.split('/').map(decode).collect::<Vec<_>>().join("/")),
            decode(n),
        ),
        None => (None, decode(path)),
    };
    let qualifiers = quals
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_ascii_lowercase(), decode(v)))
        .collect();
    Some(Purl {
        kind: kind.to_ascii_lowercase(),
        namespace,
        name,
        version,
        qualifiers,
    })
}

impl Purl {
    /// The package name as OSV records it for this PURL type.
    pub fn osv_name(&self) -> String {
        match (self.kind.as_str(), &self.namespace) {
            ("maven", Some(ns)) => format!("{ns}:{}", self.name),
            ("npm" | "golang" | "composer" | "swift", Some(ns)) => format!("{ns}/{}", self.name),
            _ => self.name.clone(),
        }
    }

    /// A qualifier's value.
    pub fn qualifier(&self, key: &str) -> Option<&str> {
        self.qualifiers
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let p = parse("pkg:maven/org.apache/commons-text@1.9?type=jar").unwrap();
        assert_eq!(p.osv_name(), "org.apache:commons-text");
        assert_eq!(p.version.as_deref(), Some("1.9"));
        assert_eq!(
            parse("pkg:npm/%40babel/core@7.0.0").unwrap().osv_name(),
            "@babel/core"
        );
        assert_eq!(
            parse("pkg:golang/github.com/gorilla/websocket@v1.4.0")
                .unwrap()
                .osv_name(),
            "github.com/gorilla/websocket"
        );
        let d = parse("pkg:deb/debian/nginx-core@1.2.1-2.2?arch=amd64&distro=debian-12").unwrap();
        assert_eq!(d.namespace.as_deref(), Some("debian"));
        assert_eq!(d.qualifier("distro"), Some("debian-12"));
        assert!(parse("not-a-purl").is_none());
    }
}
