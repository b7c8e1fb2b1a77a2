//! Helpers shared by the signing CLI tests: running `kiln` with a key password while
//! checking that the password never reaches its output.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// Runs `kiln ARGS` in `dir` with `KILN_PASSWORD=password` and `env`, and fails the test if
/// the password appears in stdout or stderr.
pub fn kiln_with_password(
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    password: &str,
) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kiln"));
    c.current_dir(dir)
        .args(args)
        .env_remove("COSIGN_PASSWORD")
        .env("KILN_PASSWORD", password);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    assert!(!text(&out).contains(password), "the password leaked");
    out
}

/// stdout and stderr of `o`, as one string.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
