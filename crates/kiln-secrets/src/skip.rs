//! Which files are not worth scanning: binary, vendored, generated (lockfiles, minified
//! bundles) and oversize ones. Every check can be turned off.

/// Skip settings.
#[derive(Debug, Clone)]
pub struct SkipPolicy {
    /// Files larger than this are skipped without being read (bytes).
    pub max_size: u64,
    /// Skip files whose first 8000 bytes hold a NUL byte.
    pub binary: bool,
    /// Skip vendored dependency trees (node_modules, vendor, third_party...).
    pub vendored: bool,
    /// Skip lockfiles, minified bundles, source maps and generated code.
    pub generated: bool,
}

impl Default for SkipPolicy {
    fn default() -> Self {
        SkipPolicy {
            max_size: 25 << 20,
            binary: true,
            vendored: true,
            generated: true,
        }
    }
}

/// Why a file was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// Larger than the limit.
    TooLarge,
    /// Binary content or a binary file type.
    Binary,
    /// A vendored dependency.
    Vendored,
    /// A lockfile, minified bundle or generated file.
    Generated,
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SkipReason::TooLarge => "larger than the size limit",
            SkipReason::Binary => "binary",
            SkipReason::Vendored => "vendored",
            SkipReason::Generated => "generated or lockfile",
        })
    }
}

const VENDORED_DIRS: &[&str] = &[
    "node_modules",
    "vendor",
    "third_party",
    "bower_components",
    ".venv",
    "venv",
];
const LOCKFILES: &[&str] = &[
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "deno.lock",
    "bun.lockb",
    "Cargo.lock",
    "poetry.lock",
    "Pipfile.lock",
    "uv.lock",
    "composer.lock",
    "Gemfile.lock",
    "go.sum",
    "gradle.lockfile",
    "packages.lock.json",
    "flake.lock",
    "mix.lock",
    "pubspec.lock",
    "Package.resolved",
];
const BINARY_EXT: &[&str] = &[
    "png", "jpg", "jpeg", "gif", "bmp", "ico", "webp", "tif", "tiff", "psd", "woff", "woff2",
    "ttf", "otf", "eot", "zip", "gz", "tgz", "bz2", "xz", "zst", "7z", "rar", "tar", "jar", "war",
    "ear", "whl", "egg", "so", "dll", "dylib", "exe", "o", "a", "lib", "class", "pyc", "pyo",
    "wasm", "mp3", "mp4", "mov", "avi", "pdf", "bin", "dat", "db", "sqlite", "iso", "dmg", "deb",
    "rpm",
];

impl SkipPolicy {
    /// Decision from the path alone, before reading anything.
    pub fn by_path(&self, path: &str) -> Option<SkipReason> {
        let name = path.rsplit('/').next().unwrap_or(path);
        if self.vendored
            && path
                .split('/')
                .rev()
                .skip(1)
                .any(|c| VENDORED_DIRS.contains(&c))
        {
            return Some(SkipReason::Vendored);
        }
        if self.generated {
            if LOCKFILES.contains(&name) {
                return Some(SkipReason::Generated);
            }
            let lower = name.to_ascii_lowercase();
            if lower.ends_with(".min.js")
                || lower.ends_with(".min.css")
                || lower.ends_with(".js.map")
                || lower.ends_with(".css.map")
                || lower.ends_with(".pb.go")
                || lower.ends_with("_pb2.py")
            {
                return Some(SkipReason::Generated);
            }
        }
        if self.binary
            && let Some((_, ext)) = name.rsplit_once('.')
            && BINARY_EXT.contains(&ext.to_ascii_lowercase().as_str())
        {
            return Some(SkipReason::Binary);
        }
        None
    }

    /// Decision from the size.
    pub fn by_size(&self, size: u64) -> Option<SkipReason> {
        (size > self.max_size).then_some(SkipReason::TooLarge)
    }

    /// Decision from the content (binary, minified).
    pub fn by_content(&self, path: &str, data: &[u8]) -> Option<SkipReason> {
        let head = &data[..data.len().min(8000)];
        if self.binary && memchr::memchr(0, head).is_some() {
            return Some(SkipReason::Binary);
        }
        if self.generated
            && (path.ends_with(".js") || path.ends_with(".css") || path.ends_with(".mjs"))
        {
            let head = &data[..data.len().min(64 << 10)];
            let lines = memchr::memchr_iter(b'\n', head).count() + 1;
            if head.len() / lines > 1000 {
                return Some(SkipReason::Generated);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions() {
        let p = SkipPolicy::default();
        assert_eq!(
            p.by_path("a/node_modules/x/index.js"),
            Some(SkipReason::Vendored)
        );
        assert_eq!(p.by_path("Cargo.lock"), Some(SkipReason::Generated));
        assert_eq!(p.by_path("web/app.min.js"), Some(SkipReason::Generated));
        assert_eq!(p.by_path("img/logo.PNG"), Some(SkipReason::Binary));
        assert_eq!(p.by_path("src/vendor.rs"), None);
        assert_eq!(p.by_size(26 << 20), Some(SkipReason::TooLarge));
        assert_eq!(p.by_content("x", b"ab\0cd"), Some(SkipReason::Binary));
        let long = vec![b'a'; 5000];
        assert_eq!(p.by_content("b.js", &long), Some(SkipReason::Generated));
        assert_eq!(p.by_content("b.txt", &long), None);
        let off = SkipPolicy {
            max_size: u64::MAX,
            binary: false,
            vendored: false,
            generated: false,
        };
        assert_eq!(off.by_path("a/node_modules/x/index.js"), None);
        assert_eq!(off.by_content("x", b"ab\0cd"), None);
    }
}
