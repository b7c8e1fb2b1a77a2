//! Maven `pom.xml`: each project (its own coordinates, as syft reports it) and its declared
//! `<dependencies>`, as Maven packages with the project → dependency edges.
//! Versions come from the dependency itself or from `<dependencyManagement>`, and `${…}`
//! properties are resolved from the file's `<properties>`, the project's own coordinates and
//! the same for its parent POM when that parent is in the scanned tree (found at
//! `<relativePath>`, default `../pom.xml`, or by its coordinates). What cannot be resolved
//! within the tree (a property or managed version from a remote parent or an imported BOM)
//! is skipped with a warning naming the dependency: versions are never guessed.

use std::collections::{BTreeMap, HashMap};

use quick_xml::events::Event;

use super::{Cataloger, Context, FoundFile, file_named, new_package};
use crate::package::PackageType;
use crate::purl;

/// XML nested deeper than this is rejected (a POM is a few levels deep).
const MAX_DEPTH: usize = 64;
/// Parent chains are followed at most this far; property references this deep.
const MAX_CHAIN: usize = 16;

/// Reads `pom.xml` files.
pub struct MavenPom;

/// An element: its local name, text and children.
#[derive(Debug, Default, Clone)]
struct Node {
    name: String,
    text: String,
    children: Vec<Node>,
}

impl Node {
    fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }
    fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> {
        self.children.iter().filter(move |c| c.name == name)
    }
    fn value(&self, name: &str) -> Option<String> {
        self.child(name)
            .map(|c| c.text.trim().to_string())
            .filter(|s| !s.is_empty())
    }
}

/// Parses XML into a tree (namespaces dropped, text and CDATA joined).
fn parse_xml(text: &str) -> Result<Node, String> {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut stack: Vec<Node> = vec![Node::default()];
    loop {
        let ev = reader
            .read_event()
            .map_err(|e| format!("at byte {}: {e}", reader.error_position()))?;
        match ev {
            Event::Start(e) => {
                if stack.len() > MAX_DEPTH {
                    return Err(format!("nested deeper than {MAX_DEPTH} elements"));
                }
                stack.push(Node {
                    name: String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
                    ..Node::default()
                });
            }
            Event::Empty(e) => {
                let n = Node {
                    name: String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
                    ..Node::default()
                };
                if let Some(top) = stack.last_mut() {
                    top.children.push(n);
                }
            }
            Event::End(_) => {
                let done = stack.pop().ok_or("unbalanced end tag")?;
                match stack.last_mut() {
                    Some(top) => top.children.push(done),
                    None => return Err("unbalanced end tag".into()),
                }
            }
            Event::Text(t) => {
                let s = t.decode().map_err(|e| e.to_string())?;
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&s);
                }
            }
            Event::CData(t) => {
                let s = t.decode().map_err(|e| e.to_string())?;
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&s);
                }
            }
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref().map_err(|e| e.to_string())? {
                    Some(c) => c,
                    None => match r.decode().map_err(|e| e.to_string())?.as_ref() {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        other => return Err(format!("unknown entity &{other};")),
                    },
                };
                if let Some(top) = stack.last_mut() {
                    top.text.push(c);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if stack.len() != 1 {
        return Err("truncated: unclosed elements at the end".into());
    }
    let root = stack.pop().unwrap_or_default();
    root.children
        .into_iter()
        .find(|c| c.name == "project")
        .ok_or_else(|| "no <project> element: not a POM".to_string())
}

/// A dependency as declared (values unresolved).
#[derive(Debug, Clone)]
struct Dep {
    group: Option<String>,
    artifact: Option<String>,
    version: Option<String>,
}

/// One parsed POM.
#[derive(Debug, Clone)]
struct Pom {
    path: String,
    group: Option<String>,
    artifact: Option<String>,
    version: Option<String>,
    parent: Option<ParentRef>,
    properties: BTreeMap<String, String>,
    deps: Vec<Dep>,
    managed: Vec<Dep>,
}

#[derive(Debug, Clone)]
struct ParentRef {
    group: Option<String>,
    artifact: Option<String>,
    version: Option<String>,
    relative_path: String,
}

fn deps_of(n: Option<&Node>) -> Vec<Dep> {
    n.map(|d| {
        d.children_named("dependency")
            .map(|x| Dep {
                group: x.value("groupId"),
                artifact: x.value("artifactId"),
                version: x.value("version"),
            })
            .collect()
    })
    .unwrap_or_default()
}

fn to_pom(path: &str, project: &Node) -> Pom {
    let parent = project.child("parent").map(|p| ParentRef {
        group: p.value("groupId"),
        artifact: p.value("artifactId"),
        version: p.value("version"),
        relative_path: match p.child("relativePath") {
            Some(r) => r.text.trim().to_string(),
            None => "../pom.xml".to_string(),
        },
    });
    let properties = project
        .child("properties")
        .map(|p| {
            p.children
                .iter()
                .map(|c| (c.name.clone(), c.text.trim().to_string()))
                .collect()
        })
        .unwrap_or_default();
    Pom {
        path: path.to_string(),
        group: project.value("groupId"),
        artifact: project.value("artifactId"),
        version: project.value("version"),
        parent,
        properties,
        deps: deps_of(project.child("dependencies")),
        managed: deps_of(
            project
                .child("dependencyManagement")
                .and_then(|m| m.child("dependencies")),
        ),
    }
}

/// `a/b/../c/./d` → `a/c/d` (paths inside the source are `/`-rooted).
fn normalize(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            p => out.push(p),
        }
    }
    format!("/{}", out.join("/"))
}

/// The POMs of one scan, indexed for parent lookups.
struct Tree {
    poms: Vec<Pom>,
    by_path: HashMap<String, usize>,
    by_coords: HashMap<(String, String, String), usize>,
}

impl Tree {
    fn new(poms: Vec<Pom>) -> Tree {
        let by_path = poms
            .iter()
            .enumerate()
            .map(|(i, p)| (p.path.clone(), i))
            .collect();
        let mut t = Tree {
            poms,
            by_path,
            by_coords: HashMap::new(),
        };
        for i in 0..t.poms.len() {
            let p = &t.poms[i];
            let g = p.group.clone().or_else(|| p.parent.as_ref()?.group.clone());
            let v = p
                .version
                .clone()
                .or_else(|| p.parent.as_ref()?.version.clone());
            if let (Some(g), Some(a), Some(v)) = (g, p.artifact.clone(), v) {
                t.by_coords.insert((g, a, v), i);
            }
        }
        t
    }

    /// The parent of POM `i` when it is in the tree, with matching coordinates.
    fn parent(&self, i: usize) -> Option<usize> {
        let p = self.poms[i].parent.as_ref()?;
        let (g, a, v) = (p.group.as_ref()?, p.artifact.as_ref()?, p.version.as_ref()?);
        let dir = self.poms[i]
            .path
            .rsplit_once('/')
            .map(|(d, _)| d)
            .unwrap_or("");
        if !p.relative_path.is_empty() {
            let rel = if p.relative_path.ends_with(".xml") {
                p.relative_path.clone()
            } else {
                format!("{}/pom.xml", p.relative_path)
            };
            if let Some(&j) = self.by_path.get(&normalize(&format!("{dir}/{rel}"))) {
                let q = &self.poms[j];
                let qg = q
                    .group
                    .as_ref()
                    .or(q.parent.as_ref().and_then(|x| x.group.as_ref()));
                let qv = q
                    .version
                    .as_ref()
                    .or(q.parent.as_ref().and_then(|x| x.version.as_ref()));
                if j != i && qg == Some(g) && q.artifact.as_ref() == Some(a) && qv == Some(v) {
                    return Some(j);
                }
            }
        }
        self.by_coords
            .get(&(g.clone(), a.clone(), v.clone()))
            .copied()
            .filter(|&j| j != i)
    }

    /// POM `i` and its ancestors in the tree, nearest first.
    fn chain(&self, i: usize) -> Vec<usize> {
        let mut out = vec![i];
        while out.len() < MAX_CHAIN {
            match self.parent(*out.last().unwrap_or(&i)) {
                Some(j) if !out.contains(&j) => out.push(j),
                _ => break,
            }
        }
        out
    }

    /// The value of property `name` as seen from POM `i` (unresolved references inside it
    /// are resolved by the caller).
    fn property(&self, chain: &[usize], name: &str) -> Option<String> {
        let own = &self.poms[chain[0]];
        let parent = own.parent.as_ref();
        let builtin = match name {
            "project.groupId" | "pom.groupId" | "groupId" => own
                .group
                .clone()
                .or_else(|| parent.and_then(|p| p.group.clone())),
            "project.artifactId" | "pom.artifactId" | "artifactId" => own.artifact.clone(),
            "project.version" | "pom.version" | "version" => own
                .version
                .clone()
                .or_else(|| parent.and_then(|p| p.version.clone())),
            "project.parent.groupId" | "parent.groupId" => parent.and_then(|p| p.group.clone()),
            "project.parent.version" | "parent.version" => parent.and_then(|p| p.version.clone()),
            _ => None,
        };
        if builtin.is_some() {
            return builtin;
        }
        chain
            .iter()
            .find_map(|&j| self.poms[j].properties.get(name).cloned())
    }

    /// Replaces every `${name}` in `value`; `None` if one cannot be resolved in the tree.
    fn resolve(&self, chain: &[usize], value: &str) -> Option<String> {
        let mut s = value.to_string();
        for _ in 0..MAX_CHAIN {
            let Some(start) = s.find("${") else {
                return Some(s);
            };
            let end = start + s[start..].find('}')?;
            let v = self.property(chain, &s[start + 2..end])?;
            s.replace_range(start..=end, &v);
        }
        None
    }

    /// The managed version of `group:artifact` from the chain's dependencyManagement.
    fn managed(&self, chain: &[usize], group: &str, artifact: &str) -> Option<String> {
        for (k, &j) in chain.iter().enumerate() {
            for m in &self.poms[j].managed {
                let sub = &chain[k..];
                let mg = m.group.as_deref().and_then(|g| self.resolve(sub, g));
                let ma = m.artifact.as_deref().and_then(|a| self.resolve(sub, a));
                if mg.as_deref() == Some(group) && ma.as_deref() == Some(artifact) {
                    return m.version.as_deref().and_then(|v| self.resolve(sub, v));
                }
            }
        }
        None
    }
}

impl Cataloger for MavenPom {
    fn name(&self) -> &'static str {
        "maven-pom"
    }
    fn wants(&self, path: &str) -> bool {
        file_named(path, "pom.xml")
    }
    fn catalog(&self, files: &[&FoundFile], cx: &mut Context) {
        let mut poms = Vec::new();
        for f in files {
            match parse_xml(&f.text()) {
                Ok(project) => poms.push(to_pom(&f.path, &project)),
                Err(e) => cx.warn(&f.path, format!("not a readable pom.xml: {e}")),
            }
        }
        let tree = Tree::new(poms);
        let layers: HashMap<&str, Option<String>> = files
            .iter()
            .map(|f| (f.path.as_str(), f.layer.clone()))
            .collect();
        for i in 0..tree.poms.len() {
            let chain = tree.chain(i);
            let pom = &tree.poms[i];
            let location = crate::package::Location {
                path: pom.path.clone(),
                layer: layers.get(pom.path.as_str()).cloned().flatten(),
            };
            let mut dep_ids = Vec::new();
            for d in &pom.deps {
                let g = d.group.as_deref().and_then(|g| tree.resolve(&chain, g));
                let a = d.artifact.as_deref().and_then(|a| tree.resolve(&chain, a));
                let (Some(g), Some(a)) = (g, a) else {
                    cx.warn(
                        &pom.path,
                        format!(
                            "dependency {}:{}: groupId or artifactId missing or not resolvable \
                             in the scanned tree; skipped",
                            d.group.as_deref().unwrap_or("?"),
                            d.artifact.as_deref().unwrap_or("?")
                        ),
                    );
                    continue;
                };
                let v = match &d.version {
                    Some(v) => tree.resolve(&chain, v),
                    None => tree.managed(&chain, &g, &a),
                };
                let Some(v) = v.filter(|v| !v.is_empty()) else {
                    cx.warn(
                        &pom.path,
                        format!(
                            "dependency {g}:{a}: version {} is not resolvable in the scanned \
                             tree; skipped",
                            d.version.as_deref().unwrap_or("(managed elsewhere)")
                        ),
                    );
                    continue;
                };
                let p = maven_package(&pom.path, &g, &a, &v, location.clone());
                dep_ids.push(p.id.clone());
                cx.packages.push(p);
            }
            // The project itself, when its coordinates resolve, depends on what it declares.
            let own = |field: &Option<String>, inherited: Option<&Option<String>>| {
                field
                    .as_ref()
                    .or(inherited.and_then(Option::as_ref))
                    .and_then(|x| tree.resolve(&chain, x))
                    .filter(|x| !x.is_empty())
            };
            let parent = pom.parent.as_ref();
            if let (Some(g), Some(a), Some(v)) = (
                own(&pom.group, parent.map(|p| &p.group)),
                own(&pom.artifact, None),
                own(&pom.version, parent.map(|p| &p.version)),
            ) {
                let mut p = maven_package(&pom.path, &g, &a, &v, location);
                p.depends_on = dep_ids;
                cx.packages.push(p);
            }
        }
    }
}

fn maven_package(
    path: &str,
    g: &str,
    a: &str,
    v: &str,
    location: crate::package::Location,
) -> crate::package::Package {
    new_package(
        &format!("pom:{path}:{g}:{a}@{v}"),
        PackageType::Maven,
        a,
        v,
        purl::build(PackageType::Maven, Some(g), a, v, &[]),
        location,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_tree_and_errors() {
        let p = parse_xml(
            "<?xml version=\"1.0\"?><project xmlns=\"http://maven.apache.org/POM/4.0.0\"><a>x &amp; y</a><b/></project>",
        )
        .unwrap();
        assert_eq!(p.value("a").as_deref(), Some("x & y"));
        assert!(parse_xml("<project><a>").is_err());
        assert!(parse_xml("<other/>").is_err());
        assert_eq!(normalize("/a/b/../c/./pom.xml"), "/a/c/pom.xml");
    }
}
