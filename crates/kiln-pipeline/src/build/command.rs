//! Running a child process with its output forwarded line by line to the caller (so the
//! library prints nothing itself and the binary decides where output goes).

use std::io;
use std::path::Path;
use std::process::{ExitStatus, Stdio};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// Where a child's output lines go.
pub type Log<'a> = &'a (dyn Fn(&str) + Sync);

/// Runs `argv` in `cwd` with `env` added, sending each line of its stdout and stderr to
/// `log`, and returns its exit status.
pub async fn run_logged(
    argv: &[String],
    cwd: &Path,
    env: &[(String, String)],
    log: Log<'_>,
) -> io::Result<ExitStatus> {
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "an empty command"))?;
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .current_dir(cwd)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let missing = || io::Error::other("the child's output pipe is missing");
    let out = child.stdout.take().ok_or_else(missing)?;
    let err = child.stderr.take().ok_or_else(missing)?;
    let (a, b, status) = tokio::join!(forward(out, log), forward(err, log), child.wait());
    a?;
    b?;
    status
}

async fn forward(reader: impl AsyncRead + Unpin, log: Log<'_>) -> io::Result<()> {
    let mut reader = BufReader::new(reader);
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&line);
        log(text.trim_end_matches(['\n', '\r']));
    }
}

/// Finds `program` on `PATH`.
pub fn find_program(program: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[tokio::test]
    async fn forwards_both_streams_and_reports_status() {
        let lines = Mutex::new(Vec::new());
        let log = |l: &str| lines.lock().unwrap().push(l.to_string());
        let argv: Vec<String> = ["sh", "-c", "echo out; echo err >&2; echo $X; exit 3"]
            .map(String::from)
            .to_vec();
        let env = [("X".to_string(), "42".to_string())];
        let status = run_logged(&argv, Path::new("."), &env, &log).await.unwrap();
        assert_eq!(status.code(), Some(3));
        let missing = vec!["/nonexistent/kiln-test".to_string()];
        assert!(
            run_logged(&missing, Path::new("."), &[], &log)
                .await
                .is_err()
        );
        let mut got = lines.into_inner().unwrap();
        got.sort();
        assert_eq!(got, ["42", "err", "out"]);
    }
}
