//! `kiln hook install` writes a post-receive hook into a bare repository that notifies
//! `kiln server` of each pushed branch; `kiln hook notify` (what the hook runs) reads git's
//! `OLD NEW REF` lines on stdin and posts one signed notification per branch to the
//! server's `/hooks/git`. Exit 0 when every notification was accepted, 1 when the server
//! refused one, 2 when it could not be reached (the hook only warns: the push succeeded).

use std::io::Read as _;
use std::path::PathBuf;
use std::process::ExitCode;

use kiln_pipeline::hook::{self, InstallOptions};

use crate::output::Global;

/// Arguments of `kiln hook`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

/// `kiln hook` subcommands.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Write hooks/post-receive in a bare repository.
    Install {
        /// The bare repository.
        #[arg(long, value_name = "BARE_GIT_DIR")]
        repo: PathBuf,
        /// The server's base URL (http://HOST:PORT).
        #[arg(long, value_name = "URL")]
        server: String,
        /// The file with the webhook secret shared with the server.
        #[arg(long, value_name = "FILE")]
        secret_file: PathBuf,
        /// The repository's name in the server configuration [default: the directory name
        /// without .git].
        #[arg(long, value_name = "REPO")]
        name: Option<String>,
        /// Replace a post-receive hook that is not Kiln's.
        #[arg(long)]
        force: bool,
    },
    /// Notify the server of pushed branches (reads post-receive's stdin).
    Notify {
        #[arg(long, value_name = "URL")]
        server: String,
        #[arg(long, value_name = "FILE")]
        secret_file: PathBuf,
        #[arg(long, value_name = "REPO")]
        name: String,
    },
}

/// Runs `kiln hook`.
pub async fn run(args: Args, global: &Global) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Install {
            repo,
            server,
            secret_file,
            name,
            force,
        } => {
            let name = match name {
                Some(n) => n,
                None => {
                    let canonical = std::fs::canonicalize(&repo).unwrap_or(repo.clone());
                    canonical
                        .file_name()
                        .map(|n| n.to_string_lossy().trim_end_matches(".git").to_string())
                        .filter(|n| !n.is_empty())
                        .ok_or_else(|| {
                            anyhow::anyhow!("give --name: {} has no name", repo.display())
                        })?
                }
            };
            let kiln = std::env::current_exe()?;
            let hook_path = hook::install(&InstallOptions {
                repo,
                server: server.clone(),
                secret_file,
                name: name.clone(),
                kiln,
                force,
            })?;
            global.say(format!(
                "wrote {}: pushes notify {server} as repository {name:?}",
                hook_path.display()
            ));
            Ok(ExitCode::SUCCESS)
        }
        Command::Notify {
            server,
            secret_file,
            name,
        } => {
            let mut input = String::new();
            std::io::stdin().read_to_string(&mut input)?;
            let updates = hook::parse_updates(&input)?;
            if updates.is_empty() {
                return Ok(ExitCode::SUCCESS);
            }
            let secret = hook::read_secret(&secret_file)?;
            let sent = match hook::notify(&server, &secret, &name, &updates).await {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("warning: kiln: {e}");
                    return Ok(ExitCode::from(2));
                }
            };
            let mut refused = false;
            for n in &sent {
                if (200..300).contains(&n.status) {
                    global.say(format!(
                        "kiln: {}: {} {}",
                        n.git_ref,
                        n.status,
                        n.body.trim()
                    ));
                } else {
                    refused = true;
                    eprintln!(
                        "warning: kiln: {}: the server answered {}: {}",
                        n.git_ref,
                        n.status,
                        n.body.trim()
                    );
                }
            }
            Ok(if refused {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}
