//! Path normalization: tar entry names (untrusted: refused when they climb out of the
//! root or are not clean UTF-8) and lookup paths given by callers (normalized lexically).

/// Normalizes a caller's path lexically: `/`-rooted, no empty, `.` or `..` components
/// (`..` at the root stays at the root).
pub(crate) fn lexical(path: &str) -> String {
    let mut stack: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                stack.pop();
            }
            c => stack.push(c),
        }
    }
    join(stack.iter().copied())
}

/// Joins components into an absolute path (`/` for none).
pub(crate) fn join<'a>(comps: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for c in comps {
        out.push('/');
        out.push_str(c);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// Appends one component to an absolute path.
pub(crate) fn child(dir: &str, name: &str) -> String {
    if dir == "/" {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// Splits an absolute normalized path into its parent and last component.
pub(crate) fn split_last(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(0) => ("/", &path[1..]),
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("/", path),
    }
}

/// The normalized components of a tar entry name or hard link target. Leading `/` and
/// `./`, repeated slashes and `.` are dropped, `..` removes the previous component;
/// refused (with the reason): non-UTF-8 bytes, NUL bytes, `..` above the root.
pub(crate) fn tar_components(raw: &[u8]) -> Result<Vec<String>, String> {
    if raw.contains(&0) {
        return Err("the name contains a NUL byte".into());
    }
    let text =
        std::str::from_utf8(raw).map_err(|e| format!("the name is not valid UTF-8 ({e})"))?;
    let mut comps: Vec<String> = Vec::new();
    for c in text.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if comps.pop().is_none() {
                    return Err("`..` climbs out of the image root".into());
                }
            }
            c => comps.push(c.to_string()),
        }
    }
    Ok(comps)
}

/// A tar entry name for messages: lossy UTF-8, at most 300 characters.
pub(crate) fn display_name(raw: &[u8]) -> String {
    let s = String::from_utf8_lossy(raw);
    if s.chars().count() > 300 {
        let mut t: String = s.chars().take(300).collect();
        t.push('…');
        t
    } else {
        s.into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexical_normalizes_and_clamps() {
        assert_eq!(lexical(""), "/");
        assert_eq!(lexical("/"), "/");
        assert_eq!(lexical("a//b/./c/"), "/a/b/c");
        assert_eq!(lexical("/../../etc/passwd"), "/etc/passwd");
        assert_eq!(lexical("/a/b/../c"), "/a/c");
    }

    #[test]
    fn tar_components_accepts_clean_names_and_refuses_escapes() {
        assert_eq!(tar_components(b"./usr/bin/").unwrap(), ["usr", "bin"]);
        assert_eq!(tar_components(b"/etc//passwd").unwrap(), ["etc", "passwd"]);
        assert_eq!(tar_components(b"a/../b").unwrap(), ["b"]);
        assert!(tar_components(b"./").unwrap().is_empty());
        assert!(
            tar_components(b"../etc/passwd")
                .unwrap_err()
                .contains("climbs out")
        );
        assert!(
            tar_components(b"a/../../x")
                .unwrap_err()
                .contains("climbs out")
        );
        assert!(tar_components(b"a\0b").unwrap_err().contains("NUL"));
        assert!(tar_components(b"caf\xe9").unwrap_err().contains("UTF-8"));
    }

    #[test]
    fn split_and_join() {
        assert_eq!(split_last("/a"), ("/", "a"));
        assert_eq!(split_last("/a/b/c"), ("/a/b", "c"));
        assert_eq!(child("/", "x"), "/x");
        assert_eq!(child("/a", "x"), "/a/x");
        assert_eq!(join(["a", "b"]), "/a/b");
    }
}
