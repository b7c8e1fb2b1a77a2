//! Go binaries: the build information the Go linker embeds (`.go.buildinfo` in ELF, the
//! `__go_buildinfo` section in Mach-O, the data section in PE): the main module, every
//! dependency (`dep`, with `=>` replacements applied) and the Go toolchain as `stdlib`.
//! Only the Go 1.18+ inline format is read; older pointer-format binaries get a warning.

use object::{Object, ObjectSection};

use super::{Cataloger, Context, FoundFile, new_package};
use crate::package::PackageType;
use crate::purl;

const MAGIC: &[u8] = b"\xff Go buildinf:";
/// Sections are searched at most this far for the build-info header.
const MAX_SCAN: usize = 16 * 1024 * 1024;

/// Reads the build information of Go executables in `bin`/`sbin` directories (any depth),
/// `/ko-app/` and `*.exe` files.
pub struct GoBinary;

/// One module line of the build information.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    pub path: String,
    pub version: String,
    /// The `h1:` sum, when the module came from the module cache.
    pub sum: String,
}

/// The build information of a Go binary.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BuildInfo {
    /// The toolchain, as `go1.22.1`.
    pub go_version: String,
    /// The main package path (`path` line).
    pub path: String,
    pub main: Option<Module>,
    /// Dependencies, replacements already applied.
    pub deps: Vec<Module>,
    /// `build` settings (`key`, `value`).
    pub settings: Vec<(String, String)>,
}

/// Why no build information was read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GoBinaryError {
    #[error("not an executable this reader understands")]
    NotExecutable,
    #[error("truncated or malformed executable: {0}")]
    BadExecutable(String),
    #[error("no Go build information")]
    NotGo,
    #[error("Go build information in the pre-1.18 pointer format is not supported")]
    PointerFormat,
    #[error("truncated or malformed Go build information")]
    Malformed,
}

impl Cataloger for GoBinary {
    fn name(&self) -> &'static str {
        "go-binary"
    }
    fn per_file(&self) -> bool {
        true
    }
    fn wants(&self, path: &str) -> bool {
        super::binary::is_candidate(path)
    }
    fn catalog(&self, files: &[&FoundFile], cx: &mut Context) {
        for f in files {
            let info = match read(&f.data) {
                Ok(i) => i,
                Err(GoBinaryError::NotExecutable | GoBinaryError::NotGo) => continue,
                Err(e) => {
                    cx.warn(&f.path, e.to_string());
                    continue;
                }
            };
            let key = |m: &str, v: &str| format!("go-bin:{}:{m}@{v}", f.path);
            let mut dep_ids = Vec::new();
            for d in &info.deps {
                let p = new_package(
                    &key(&d.path, &d.version),
                    PackageType::Golang,
                    &d.path,
                    &d.version,
                    purl::golang(&d.path, &d.version),
                    f.location(),
                );
                dep_ids.push(p.id.clone());
                cx.packages.push(p);
            }
            if !info.go_version.is_empty() {
                let v = info.go_version.split_whitespace().next().unwrap_or("");
                let p = new_package(
                    &key("stdlib", v),
                    PackageType::Golang,
                    "stdlib",
                    v,
                    purl::golang("stdlib", v.strip_prefix("go").unwrap_or(v)),
                    f.location(),
                );
                dep_ids.push(p.id.clone());
                cx.packages.push(p);
            }
            if let Some(m) = &info.main {
                let mut p = new_package(
                    &key(&m.path, &m.version),
                    PackageType::Golang,
                    &m.path,
                    &m.version,
                    purl::golang(&m.path, &m.version),
                    f.location(),
                );
                p.depends_on = dep_ids;
                cx.packages.push(p);
            }
        }
    }
}

/// Reads the build information of a Go executable (ELF, PE or Mach-O).
pub fn read(data: &[u8]) -> Result<BuildInfo, GoBinaryError> {
    let file = super::binary::parse(data).map_err(|e| match e {
        super::binary::SectionError::BadExecutable(m) => GoBinaryError::BadExecutable(m),
        _ => GoBinaryError::NotExecutable,
    })?;
    let named = ["go.buildinfo", "__go_buildinfo"];
    let mut candidates: Vec<&[u8]> = Vec::new();
    for s in file.sections() {
        let name = s.name().unwrap_or("");
        let wanted = named.iter().any(|n| name.trim_start_matches('.') == *n)
            || (matches!(file.format(), object::BinaryFormat::Pe) && name == ".data");
        if wanted {
            // A section the headers promise but the file does not hold: truncated.
            candidates.push(s.data().map_err(|_| GoBinaryError::Malformed)?);
        }
    }
    for d in candidates {
        let d = &d[..d.len().min(MAX_SCAN)];
        if let Some(at) = find_header(d) {
            return parse_at(&d[at..]);
        }
    }
    Err(GoBinaryError::NotGo)
}

/// The offset of the 16-byte-aligned build-info header in `data`.
fn find_header(data: &[u8]) -> Option<usize> {
    (0..data.len())
        .step_by(16)
        .find(|&i| data[i..].starts_with(MAGIC))
}

/// Parses the header and the inline strings after it.
fn parse_at(d: &[u8]) -> Result<BuildInfo, GoBinaryError> {
    if d.len() < 32 {
        return Err(GoBinaryError::Malformed);
    }
    if d[15] & 2 == 0 {
        return Err(GoBinaryError::PointerFormat);
    }
    let rest = &d[32..];
    let (version, rest) = read_string(rest).ok_or(GoBinaryError::Malformed)?;
    let (modinfo, _) = read_string(rest).ok_or(GoBinaryError::Malformed)?;
    let mut info = parse_modinfo(&strip_sentinels(modinfo));
    info.go_version = String::from_utf8_lossy(version).into_owned();
    Ok(info)
}

/// A uvarint-length-prefixed string.
fn read_string(d: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut len: u64 = 0;
    let mut shift = 0;
    let mut i = 0;
    loop {
        let b = *d.get(i)?;
        i += 1;
        len |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
    let end = i.checked_add(usize::try_from(len).ok()?)?;
    Some((d.get(i..end)?, &d[end..]))
}

/// The module information is framed by two 16-byte sentinels.
fn strip_sentinels(m: &[u8]) -> String {
    let inner = if m.len() >= 33 && m[m.len() - 17] == b'\n' {
        &m[16..m.len() - 16]
    } else {
        m
    };
    String::from_utf8_lossy(inner).into_owned()
}

/// Parses `path`, `mod`, `dep`, `=>` and `build` lines (as `go version -m` prints them).
pub fn parse_modinfo(text: &str) -> BuildInfo {
    let mut info = BuildInfo::default();
    let module = |f: &[&str]| Module {
        path: f.get(1).unwrap_or(&"").to_string(),
        version: f.get(2).unwrap_or(&"").to_string(),
        sum: f.get(3).unwrap_or(&"").to_string(),
    };
    let mut last_was_dep = false;
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        match f[0] {
            "path" => info.path = f.get(1).unwrap_or(&"").to_string(),
            "mod" => info.main = Some(module(&f)),
            "dep" => info.deps.push(module(&f)),
            "=>" => {
                let r = module(&f);
                let target = match last_was_dep {
                    true => info.deps.last_mut(),
                    false => info.main.as_mut(),
                };
                if let Some(t) = target {
                    // A replacement by a local directory: keep the original module.
                    let local = r.path.starts_with('.') || r.path.starts_with('/');
                    if !local && !r.version.is_empty() {
                        *t = r;
                    }
                }
            }
            "build" => {
                if let Some((k, v)) = f.get(1).and_then(|s| s.split_once('=')) {
                    info.settings.push((k.to_string(), v.to_string()));
                }
            }
            _ => {}
        }
        if f[0] != "=>" {
            last_was_dep = f[0] == "dep";
        }
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modinfo_with_replacement() {
        let t = "path\texample.com/app\nmod\texample.com/app\t(devel)\t\n\
                 dep\tgolang.org/x/text\tv0.3.0\th1:abc=\n\
                 =>\tgithub.com/fork/text\tv0.3.1\th1:def=\n\
                 dep\tgithub.com/local/x\tv1.0.0\t\n=>\t../x\t\t\n\
                 build\tGOOS=linux\n";
        let i = parse_modinfo(t);
        assert_eq!(i.path, "example.com/app");
        assert_eq!(i.main.as_ref().map(|m| m.version.as_str()), Some("(devel)"));
        assert_eq!(i.deps[0].path, "github.com/fork/text");
        assert_eq!(i.deps[0].sum, "h1:def=");
        assert_eq!(i.deps[1].path, "github.com/local/x");
        assert_eq!(i.settings, vec![("GOOS".into(), "linux".into())]);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert_eq!(read(b"hello"), Err(GoBinaryError::NotExecutable));
        assert_eq!(parse_at(MAGIC), Err(GoBinaryError::Malformed));
        let mut h = MAGIC.to_vec();
        h.extend([8, 2]);
        h.resize(32, 0);
        h.push(0xff); // a varint that never ends
        assert_eq!(parse_at(&h), Err(GoBinaryError::Malformed));
    }
}
