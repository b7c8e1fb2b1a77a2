//! The distribution, from `/etc/os-release` (or `/usr/lib/os-release` when the first is absent).

use super::{Cataloger, Context, FoundFile};
use crate::package::Distro;

/// Reads os-release.
pub struct OsRelease;

impl Cataloger for OsRelease {
    fn name(&self) -> &'static str {
        "os-release"
    }
    fn wants(&self, path: &str) -> bool {
        path == "/etc/os-release" || path == "/usr/lib/os-release"
    }
    fn catalog(&self, files: &[&FoundFile], cx: &mut Context) {
        let pick = files
            .iter()
            .find(|f| f.path == "/etc/os-release")
            .or_else(|| files.iter().find(|f| f.path == "/usr/lib/os-release"));
        let Some(f) = pick else { return };
        match parse(&f.text()) {
            Some(d) => cx.distro = Some(d),
            None => cx.warn(&f.path, "no ID= line; the distribution is unknown"),
        }
    }
}

/// Parses os-release text (`KEY=value`, values optionally quoted).
pub fn parse(text: &str) -> Option<Distro> {
    let mut d = Distro::default();
    for line in text.lines() {
        let Some((k, v)) = line.trim().split_once('=') else {
            continue;
        };
        let v = v.trim().trim_matches('"').trim_matches('\'').to_string();
        match k {
            "ID" => d.id = v,
            "VERSION_ID" => d.version_id = v,
            "PRETTY_NAME" => d.pretty_name = Some(v),
            _ => {}
        }
    }
    (!d.id.is_empty()).then_some(d)
}

#[cfg(test)]
mod tests {
    #[test]
    fn debian() {
        let d = super::parse(
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nVERSION_ID=\"12\"\nID=debian\n",
        )
        .unwrap();
        assert_eq!((d.id.as_str(), d.version_id.as_str()), ("debian", "12"));
    }
}
