//! Rust binaries built with cargo-auditable: the `.dep-v0` section (ELF, PE, and the Mach-O
//! `__DATA,.dep-v0` section) holds zlib-compressed JSON (`{"packages": [{"name", "version",
//! "source", "kind", "dependencies": [index…], "root"}]}`, rust-secure-code/cargo-auditable's
//! `cargo-auditable.schema.json`). Every runtime package becomes a Cargo package located at
//! the binary, with its dependency edges; build-time-only packages (`"kind": "build"`, proc
//! macros and build scripts, not linked into the binary) are left out, as syft does.

use std::io::Read;

use serde::Deserialize;

use super::binary::{self, SectionError};
use super::{Cataloger, Context, FoundFile, new_package, package_id};
use crate::package::PackageType;
use crate::purl;

/// The section cargo-auditable writes.
pub const SECTION: &str = ".dep-v0";
/// The decompressed JSON is never read past this many bytes (a zlib bomb stops here).
pub const MAX_JSON: u64 = 8 * 1024 * 1024;

/// Reads the dependency list of cargo-auditable binaries in executable locations.
pub struct Auditable;

/// The embedded dependency list.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct VersionInfo {
    pub packages: Vec<AuditPackage>,
}

/// One package of the embedded list.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AuditPackage {
    pub name: String,
    pub version: String,
    /// `crates.io`, `local`, `git`, `registry`, or another source kind.
    pub source: String,
    /// `runtime` (the default) or `build`.
    #[serde(default = "runtime")]
    pub kind: String,
    /// Indexes into `packages`.
    #[serde(default)]
    pub dependencies: Vec<usize>,
    #[serde(default)]
    pub root: bool,
}

fn runtime() -> String {
    "runtime".to_string()
}

/// Why no dependency list was read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuditableError {
    #[error(transparent)]
    Binary(#[from] SectionError),
    #[error("no {SECTION} section")]
    NotAuditable,
    #[error("{SECTION} is not valid zlib data: {0}")]
    Compression(String),
    #[error("{SECTION} decompresses to more than {MAX_JSON} bytes")]
    TooLarge,
    #[error("{SECTION} is not the cargo-auditable JSON format: {0}")]
    Json(String),
    #[error("{SECTION}: package {0} names dependency index {1}, past the end of the list")]
    BadIndex(usize, usize),
}

impl Cataloger for Auditable {
    fn name(&self) -> &'static str {
        "cargo-auditable"
    }
    fn per_file(&self) -> bool {
        true
    }
    fn wants(&self, path: &str) -> bool {
        binary::is_candidate(path)
    }
    fn catalog(&self, files: &[&FoundFile], cx: &mut Context) {
        for f in files {
            let info = match read(&f.data) {
                Ok(i) => i,
                // A malformed executable is already named by the Go binary cataloger, which
                // reads the same files: warn only about the section itself.
                Err(
                    AuditableError::NotAuditable
                    | AuditableError::Binary(
                        SectionError::NotExecutable | SectionError::BadExecutable(_),
                    ),
                ) => continue,
                Err(e) => {
                    cx.warn(&f.path, e.to_string());
                    continue;
                }
            };
            let key = |i: usize| {
                let p = &info.packages[i];
                format!(
                    "cargo-auditable:{}:{}@{}:{}",
                    f.path, p.name, p.version, p.source
                )
            };
            for (i, p) in info.packages.iter().enumerate() {
                if p.kind == "build" {
                    continue;
                }
                let mut pkg = new_package(
                    &key(i),
                    PackageType::Cargo,
                    &p.name,
                    &p.version,
                    purl::build(PackageType::Cargo, None, &p.name, &p.version, &[]),
                    f.location(),
                );
                pkg.depends_on = p
                    .dependencies
                    .iter()
                    .filter(|&&d| info.packages[d].kind != "build")
                    .map(|&d| package_id(&key(d)))
                    .collect();
                cx.packages.push(pkg);
            }
        }
    }
}

/// Reads and checks the dependency list of an executable (ELF, PE or Mach-O).
pub fn read(data: &[u8]) -> Result<VersionInfo, AuditableError> {
    let file = binary::parse(data)?;
    let compressed = binary::section(&file, SECTION)?.ok_or(AuditableError::NotAuditable)?;
    decode(compressed)
}

/// Decompresses (bounded) and parses the section content.
pub fn decode(compressed: &[u8]) -> Result<VersionInfo, AuditableError> {
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(compressed)
        .take(MAX_JSON + 1)
        .read_to_end(&mut json)
        .map_err(|e| AuditableError::Compression(e.to_string()))?;
    if json.len() as u64 > MAX_JSON {
        return Err(AuditableError::TooLarge);
    }
    let info: VersionInfo =
        serde_json::from_slice(&json).map_err(|e| AuditableError::Json(e.to_string()))?;
    let n = info.packages.len();
    for (i, p) in info.packages.iter().enumerate() {
        if let Some(&d) = p.dependencies.iter().find(|&&d| d >= n) {
            return Err(AuditableError::BadIndex(i, d));
        }
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn zlib(b: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(b).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn decodes_the_documented_format() {
        let j = br#"{"packages":[{"name":"app","version":"0.1.0","source":"local","dependencies":[1,2],"root":true},{"name":"itoa","version":"1.0.11","source":"crates.io"},{"name":"cc","version":"1.0.83","source":"crates.io","kind":"build"}]}"#;
        let i = decode(&zlib(j)).unwrap();
        assert_eq!(i.packages.len(), 3);
        assert!(i.packages[0].root);
        assert_eq!(i.packages[1].kind, "runtime");
        assert_eq!(i.packages[2].kind, "build");
    }

    #[test]
    fn bad_sections_are_errors() {
        assert!(matches!(
            decode(b"nope"),
            Err(AuditableError::Compression(_))
        ));
        assert!(matches!(decode(&zlib(b"{}")), Err(AuditableError::Json(_))));
        let j =
            br#"{"packages":[{"name":"a","version":"1.0.0","source":"local","dependencies":[7]}]}"#;
        assert_eq!(decode(&zlib(j)), Err(AuditableError::BadIndex(0, 7)));
        // A bomb: 9 MiB of spaces compress to a few KiB and stop at the limit.
        let bomb = zlib(&vec![b' '; 9 * 1024 * 1024]);
        assert_eq!(decode(&bomb), Err(AuditableError::TooLarge));
        assert_eq!(
            read(b"plain text").unwrap_err().to_string(),
            "not an executable this reader understands"
        );
    }
}
