//! Helpers shared by the catalogers that read executables (Go build information,
//! cargo-auditable dependency lists): which paths are worth opening, whether bytes look like
//! an ELF, PE or Mach-O file, and reading a named section with the `object` crate.

use object::{Object, ObjectSection};

/// Whether `path` (in `/a/b` form) is where executables are kept: a `bin` or `sbin`
/// directory at any depth, `/ko-app/`, or a `*.exe` file.
pub fn is_candidate(path: &str) -> bool {
    let dir = path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
    dir.ends_with("/bin")
        || dir.ends_with("/sbin")
        || dir == "/ko-app"
        || path.to_ascii_lowercase().ends_with(".exe")
}

/// Whether `data` starts like an ELF, PE or (thin) Mach-O file.
pub fn looks_executable(data: &[u8]) -> bool {
    const MAGICS: [&[u8]; 6] = [
        b"\x7fELF",
        b"MZ",
        b"\xfe\xed\xfa\xce",
        b"\xfe\xed\xfa\xcf",
        b"\xce\xfa\xed\xfe",
        b"\xcf\xfa\xed\xfe",
    ];
    MAGICS.iter().any(|m| data.starts_with(m))
}

/// Why a section could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SectionError {
    #[error("not an executable this reader understands")]
    NotExecutable,
    #[error("truncated or malformed executable: {0}")]
    BadExecutable(String),
    #[error("section {0} is truncated")]
    Truncated(String),
}

/// Parses `data` as an executable; a parse failure of something that looks like one is
/// `BadExecutable`, anything else `NotExecutable`.
pub fn parse(data: &[u8]) -> Result<object::File<'_>, SectionError> {
    object::File::parse(data).map_err(|e| match looks_executable(data) {
        true => SectionError::BadExecutable(e.to_string()),
        false => SectionError::NotExecutable,
    })
}

/// The content of the first section named `name` (ELF/PE name, or the Mach-O section name
/// in any segment), `None` when there is none.
pub fn section<'d>(file: &object::File<'d>, name: &str) -> Result<Option<&'d [u8]>, SectionError> {
    match file.sections().find(|s| s.name() == Ok(name)) {
        Some(s) => s
            .data()
            .map(Some)
            .map_err(|_| SectionError::Truncated(name.to_string())),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates() {
        assert!(is_candidate("/usr/local/bin/app"));
        assert!(is_candidate("/ko-app/app"));
        assert!(is_candidate("/x/APP.EXE"));
        assert!(!is_candidate("/usr/lib/libc.so.6"));
        assert!(matches!(parse(b"text"), Err(SectionError::NotExecutable)));
        assert!(matches!(
            parse(b"\x7fELF\x02"),
            Err(SectionError::BadExecutable(_))
        ));
    }
}
