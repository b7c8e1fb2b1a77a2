//! Go modules: `go.mod` requirements (direct and indirect), with `replace` directives applied.

use std::collections::HashMap;

use super::{Cataloger, Context, FoundFile, file_named, new_package};
use crate::package::PackageType;
use crate::purl;

/// Reads go.mod files.
pub struct GoMod;

impl Cataloger for GoMod {
    fn name(&self) -> &'static str {
        "go-mod"
    }
    fn wants(&self, path: &str) -> bool {
        file_named(path, "go.mod")
    }
    fn catalog(&self, files: &[&FoundFile], cx: &mut Context) {
        for f in files {
            let (reqs, replaces) = parse(&f.text());
            for (module, version) in reqs {
                let (m, v) = match replaces.get(&module) {
                    Some((rm, rv)) if !rv.is_empty() => (rm.clone(), rv.clone()),
                    Some(_) => continue, // replaced by a local directory
                    None => (module, version),
                };
                cx.packages.push(new_package(
                    &format!("go:{}:{m}@{v}", f.path),
                    PackageType::Golang,
                    &m,
                    &v,
                    purl::golang(&m, &v),
                    f.location(),
                ));
            }
        }
    }
}

type Replaces = HashMap<String, (String, String)>;

/// The `require`d modules and the `replace` map of a go.mod.
pub fn parse(text: &str) -> (Vec<(String, String)>, Replaces) {
    let mut reqs = Vec::new();
    let mut replaces = HashMap::new();
    let mut block: Option<&str> = None;
    for raw in text.lines() {
        let line = raw.split("//").next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if line == ")" {
            block = None;
            continue;
        }
        let (verb, rest) = match block {
            Some(b) => (b, line),
            None => {
                let (v, r) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
                let r = r.trim();
                if r == "(" {
                    block = Some(match v {
                        "require" => "require",
                        "replace" => "replace",
                        _ => "other",
                    });
                    continue;
                }
                (v, r)
            }
        };
        match verb {
            "require" => {
                let mut it = rest.split_whitespace();
                if let (Some(m), Some(v)) = (it.next(), it.next()) {
                    reqs.push((m.trim_matches('"').to_string(), v.to_string()));
                }
            }
            "replace" => {
                if let Some((from, to)) = rest.split_once("=>") {
                    let from = from.split_whitespace().next().unwrap_or("").to_string();
                    let mut t = to.split_whitespace();
                    let tm = t.next().unwrap_or("").to_string();
                    let tv = t.next().unwrap_or("").to_string();
                    replaces.insert(from, (tm, tv));
                }
            }
            _ => {}
        }
    }
    (reqs, replaces)
}

#[cfg(test)]
mod tests {
    #[test]
    fn requires_and_replaces() {
        let (r, rep) = super::parse(
            "module example.com/a\n\ngo 1.22\n\nrequire (\n\tgithub.com/pkg/errors v0.9.1\n\tgolang.org/x/sys v0.1.0 // indirect\n)\nrequire github.com/x/y v1.0.0\nreplace github.com/x/y => github.com/z/y v1.0.1\n",
        );
        assert_eq!(r.len(), 3);
        assert_eq!(rep["github.com/x/y"].1, "v1.0.1");
    }
}
