//! `kiln db`: the offline vulnerability database: `import` OSV files, directories and
//! `all.zip` archives; `update` from osv.dev's bucket (or a mirror with the same layout);
//! `push` / `pull` the whole database as an OCI artifact; `status`.

use std::path::PathBuf;
use std::process::ExitCode;

use kiln_oci::ImageRef;
use kiln_oci::registry::RegistryOptions;
use kiln_vuln::db::{Database, ImportReport, default_path};
use kiln_vuln::import::{self, Loaded};

use crate::output::{Global, emit_json};

/// Where the database is: shared by `kiln db` and `kiln vuln scan`.
#[derive(clap::Args, Clone, Debug)]
pub struct DbLocation {
    /// The database file [default: $XDG_DATA_HOME/kiln/vuln.db or ~/.local/share/kiln/vuln.db].
    #[arg(long = "db", value_name = "PATH", env = "KILN_VULN_DB", global = true)]
    pub db: Option<PathBuf>,
}

impl DbLocation {
    /// The file to use.
    pub fn path(&self) -> PathBuf {
        self.db.clone().unwrap_or_else(default_path)
    }
}

/// Arguments of `kiln db`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub location: DbLocation,
    /// Allow plain HTTP to a registry that is not on loopback.
    #[arg(long, global = true)]
    pub insecure_registry: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// `kiln db` subcommands.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Import OSV JSON files, directories of them, or osv.dev all.zip archives.
    Import {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Download each ecosystem's all.zip from osv.dev (or a mirror) and import it.
    Update {
        /// Base URL laid out as <URL>/<Ecosystem>/all.zip.
        #[arg(long, default_value = import::OSV_BUCKET)]
        source: String,
        /// Ecosystems to fetch (repeatable) [default: every ecosystem Kiln catalogs].
        #[arg(long = "ecosystem", value_name = "NAME")]
        ecosystems: Vec<String>,
        /// Then re-scan the images of the project in the current directory (`kiln rescan
        /// --db` this database).
        #[arg(long)]
        rescan: bool,
    },
    /// Push the database as an OCI artifact (oci:PATH:TAG or REGISTRY/REPO:TAG).
    Push { reference: String },
    /// Pull a database pushed with `kiln db push`, replacing the local one.
    Pull { reference: String },
    /// Show the schema version, advisory count and data age.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Prints an import report; returns whether everything was read.
pub fn report(global: &Global, r: &ImportReport) -> bool {
    for e in &r.errors {
        eprintln!("warning: {e}");
    }
    for (eco, n) in &r.unknown_ecosystems {
        global.say(format!("note: {n} affected package(s) in ecosystem {eco:?}, which has no known version order (kept; matched by exact versions only)"));
    }
    if !r.unknown_fields.is_empty() {
        let f: Vec<&str> = r.unknown_fields.iter().map(String::as_str).collect();
        global.say(format!(
            "note: fields not in the OSV schema were kept: {}",
            f.join(", ")
        ));
    }
    global.say(format!(
        "imported {} advisories, ignored {} withdrawn, {} problem(s)",
        r.imported,
        r.withdrawn,
        r.errors.len()
    ));
    r.errors.is_empty()
}

fn import_loaded(db: &Database, loaded: Loaded) -> anyhow::Result<ImportReport> {
    let mut r = db.import(loaded.records)?;
    r.errors.splice(0..0, loaded.errors);
    Ok(r)
}

fn registry_options(insecure: bool) -> RegistryOptions {
    RegistryOptions {
        insecure,
        ..Default::default()
    }
}

/// Runs `kiln db`.
pub async fn run(args: Args, global: &Global) -> anyhow::Result<ExitCode> {
    let path = args.location.path();
    match args.command {
        Command::Import { paths } => {
            let db = Database::open_or_create(&path)?;
            let loaded = tokio::task::spawn_blocking(move || {
                let mut out = Loaded::default();
                for p in &paths {
                    import::read_path(p, &mut out);
                }
                out
            })
            .await?;
            let r = import_loaded(&db, loaded)?;
            Ok(if report(global, &r) {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Update {
            source,
            ecosystems,
            rescan,
        } => {
            let db = Database::open_or_create(&path)?;
            let ecos: Vec<String> = if ecosystems.is_empty() {
                import::DEFAULT_ECOSYSTEMS
                    .iter()
                    .map(|s| s.to_string())
                    .collect()
            } else {
                ecosystems
            };
            let mut loaded = Loaded::default();
            import::download(&source, &ecos, &mut loaded).await;
            let r = import_loaded(&db, loaded)?;
            let complete = report(global, &r);
            if rescan {
                // The re-scan opens the database itself.
                drop(db);
                let code =
                    super::rescan::run(super::rescan::Args::for_database(path), global).await?;
                if complete {
                    return Ok(code);
                }
            }
            Ok(if complete {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Push { reference } => {
            let r = ImageRef::parse(&reference)?;
            let store = kiln_oci::open::open_store(&r, &registry_options(args.insecure_registry))?;
            let digest = kiln_vuln::artifact::push(&path, store.as_ref(), r.tag()).await?;
            global.say(format!(
                "pushed {} to {reference} ({digest})",
                path.display()
            ));
            println!("{digest}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Pull { reference } => {
            let r = ImageRef::parse(&reference)?;
            let store =
                kiln_oci::open::open_existing_store(&r, &registry_options(args.insecure_registry))?;
            let st = kiln_vuln::artifact::pull(store.as_ref(), &r.selector(), &path).await?;
            global.say(format!(
                "pulled {} advisories into {}",
                st.advisories,
                path.display()
            ));
            Ok(ExitCode::SUCCESS)
        }
        Command::Status { json } => {
            let db = Database::open(&path)?;
            let st = db.status()?;
            if json {
                emit_json(&st, None)?;
            } else {
                println!("database:       {}", st.path);
                println!("schema version: {}", st.schema_version);
                println!("advisories:     {}", st.advisories);
                println!(
                    "data modified:  {}",
                    st.data_modified.as_deref().unwrap_or("-")
                );
                println!("last import:    {}", st.updated.as_deref().unwrap_or("-"));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Warns when the data was imported more than `max_age_days` ago.
pub fn warn_if_stale(db: &Database, max_age_days: u64, global: &Global) -> anyhow::Result<()> {
    if let Some(age) = db.age()?
        && age.num_days() >= 0
        && age.num_days() as u64 > max_age_days
    {
        global.say(format!(
            "warning: vulnerability data in {} is {} days old (more than {max_age_days}): run `kiln db update`",
            db.path().display(),
            age.num_days()
        ));
    }
    Ok(())
}
