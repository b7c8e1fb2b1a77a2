//! Ruby installed gemspecs: `specifications/*.gemspec` (and `specifications/default/`) under
//! a gems directory, as RubyGems writes them on install. The Ruby code is read statically,
//! never evaluated: `s.name`, `s.version`, `s.license`/`s.licenses` string literals, and the
//! runtime dependencies (`add_runtime_dependency` / `add_dependency`) as edges to gems
//! installed next to it.

use std::collections::HashMap;

use super::{Cataloger, Context, FoundFile, new_package, package_id};
use crate::package::PackageType;
use crate::{license, purl};

/// Reads installed gemspecs.
pub struct Gemspec;

/// What a gemspec declares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Spec {
    pub name: Option<String>,
    pub version: Option<String>,
    pub licenses: Vec<String>,
    /// Names of runtime dependencies.
    pub dependencies: Vec<String>,
}

impl Cataloger for Gemspec {
    fn name(&self) -> &'static str {
        "gemspec"
    }
    fn wants(&self, path: &str) -> bool {
        path.ends_with(".gemspec") && path.contains("/specifications/")
    }
    fn catalog(&self, files: &[&FoundFile], cx: &mut Context) {
        let mut found = Vec::new();
        for f in files {
            let spec = parse(&f.text());
            let (Some(name), Some(version)) = (spec.name.clone(), spec.version.clone()) else {
                cx.warn(
                    &f.path,
                    "no s.name or s.version string: not an installed gemspec",
                );
                continue;
            };
            found.push((f, name, version, spec));
        }
        // Edges go to gems of the same name installed in the same gems directory.
        let gems_dir = |p: &str| -> String {
            p.rsplit_once("/specifications/")
                .map(|(d, _)| d.to_string())
                .unwrap_or_default()
        };
        let mut by_name: HashMap<(String, String), Vec<String>> = HashMap::new();
        let key = |f: &FoundFile| format!("gemspec:{}", f.path);
        for (f, name, _, _) in &found {
            by_name
                .entry((gems_dir(&f.path), name.clone()))
                .or_default()
                .push(package_id(&key(f)));
        }
        for (f, name, version, spec) in found {
            let mut p = new_package(
                &key(f),
                PackageType::Gem,
                &name,
                &version,
                purl::build(PackageType::Gem, None, &name, &version, &[]),
                f.location(),
            );
            p.license = license::join(spec.licenses.iter().map(String::as_str));
            for d in &spec.dependencies {
                if let Some(ids) = by_name.get(&(gems_dir(&f.path), d.clone()))
                    && ids.len() == 1
                {
                    p.depends_on.push(ids[0].clone());
                }
            }
            cx.packages.push(p);
        }
    }
}

/// Reads the fields of a gemspec.
pub fn parse(text: &str) -> Spec {
    let mut spec = Spec::default();
    // RubyGems writes `if s.respond_to? :add_runtime_dependency then … else … end`: the
    // `else` branch repeats every dependency (development ones as `add_dependency`) for old
    // RubyGems, so it is skipped.
    let mut in_compat_if = false;
    let mut in_compat_else = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with("if s.respond_to? :add_runtime_dependency") {
            in_compat_if = true;
            continue;
        }
        if in_compat_if && t == "else" {
            in_compat_else = true;
            continue;
        }
        if in_compat_if && t == "end" {
            in_compat_if = false;
            in_compat_else = false;
            continue;
        }
        if in_compat_else {
            continue;
        }
        let Some(rest) = t.strip_prefix("s.").or_else(|| t.strip_prefix("spec.")) else {
            continue;
        };
        if let Some((field, rhs)) = rest.split_once('=')
            && let field = field.trim()
            && field.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        {
            let rhs = rhs.split(" if s.respond_to?").next().unwrap_or(rhs);
            match field {
                "name" => spec.name = strings(rhs).into_iter().next(),
                "version" => spec.version = strings(rhs).into_iter().next(),
                "license" | "licenses" => spec.licenses.extend(strings(rhs)),
                _ => {}
            }
            continue;
        }
        for call in ["add_runtime_dependency", "add_dependency"] {
            if let Some(args) = rest.strip_prefix(call)
                && let Some(name) = strings(args).into_iter().next()
                && !spec.dependencies.contains(&name)
            {
                spec.dependencies.push(name);
            }
        }
    }
    spec
}

/// The string literals of a Ruby expression: `"…"`, `'…'`, `%q<…>`, `%q{…}`, `%q(…)`,
/// `%q[…]` (simple escapes only; interpolation is not evaluated, such strings are dropped).
fn strings(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let b = expr.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let (close, start) = match b[i] {
            b'"' => (b'"', i + 1),
            b'\'' => (b'\'', i + 1),
            b'%' if matches!(b.get(i + 1), Some(b'q' | b'Q')) => {
                let close = match b.get(i + 2) {
                    Some(b'<') => b'>',
                    Some(b'{') => b'}',
                    Some(b'(') => b')',
                    Some(b'[') => b']',
                    _ => {
                        i += 1;
                        continue;
                    }
                };
                (close, i + 3)
            }
            _ => {
                i += 1;
                continue;
            }
        };
        let mut s = Vec::new();
        let mut j = start;
        while j < b.len() && b[j] != close {
            if b[j] == b'\\' && j + 1 < b.len() {
                j += 1;
            }
            s.push(b[j]);
            j += 1;
        }
        if j >= b.len() {
            break;
        }
        let s = String::from_utf8_lossy(&s).into_owned();
        if !(close == b'"' && s.contains("#{")) {
            out.push(s);
        }
        i = j + 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals() {
        assert_eq!(
            strings(r##" ["Ruby".freeze, 'MIT', %q<BSD-2-Clause>.freeze, "#{x}"]"##),
            vec!["Ruby", "MIT", "BSD-2-Clause"]
        );
        let s = parse(
            "Gem::Specification.new do |s|\n  s.name = \"irb\".freeze\n  s.version = \"1.4.1\"\n  s.license = \"MIT\"\n  if s.respond_to? :add_runtime_dependency then\n    s.add_runtime_dependency(%q<reline>.freeze, [\">= 0.3.0\"])\n    s.add_development_dependency(%q<rake>.freeze, [\">= 0\"])\n  else\n    s.add_dependency(%q<reline>.freeze, [\">= 0.3.0\"])\n    s.add_dependency(%q<rake>.freeze, [\">= 0\"])\n  end\n  s.add_dependency(%q<io-console>.freeze, [\"~> 0.5\"])\nend\n",
        );
        assert_eq!(s.name.as_deref(), Some("irb"));
        assert_eq!(s.version.as_deref(), Some("1.4.1"));
        assert_eq!(s.licenses, vec!["MIT"]);
        assert_eq!(s.dependencies, vec!["reline", "io-console"]);
    }
}
