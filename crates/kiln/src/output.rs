//! Shared output helpers: global flags, writing data to stdout or a file atomically, and
//! progress bars that appear only on a terminal.

use std::io::{IsTerminal, Write};
use std::path::Path;

use anyhow::Context;

/// Flags every command sees.
pub struct Global {
    /// Print nothing on stderr but errors.
    pub quiet: bool,
}

impl Global {
    /// Prints a human message on stderr unless `--quiet`.
    pub fn say(&self, msg: impl std::fmt::Display) {
        if !self.quiet {
            eprintln!("{msg}");
        }
    }
}

/// Writes `data` to `path` (through a temporary file and a rename), or to stdout.
pub fn emit(data: &[u8], path: Option<&Path>) -> anyhow::Result<()> {
    match path {
        Some(p) => kiln_oci::layout::write_atomically(p, data)
            .with_context(|| format!("writing {}", p.display())),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(data)?;
            if !data.ends_with(b"\n") {
                out.write_all(b"\n")?;
            }
            out.flush()?;
            Ok(())
        }
    }
}

/// Serializes `value` as pretty JSON and emits it.
pub fn emit_json<T: serde::Serialize>(value: &T, path: Option<&Path>) -> anyhow::Result<()> {
    let mut data = serde_json::to_vec_pretty(value)?;
    data.push(b'\n');
    emit(&data, path)
}

/// A progress bar on stderr when it is a terminal and not quiet; hidden otherwise.
pub fn progress(global: &Global, len: u64, message: &str) -> indicatif::ProgressBar {
    if global.quiet || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(message.to_string());
    bar
}
