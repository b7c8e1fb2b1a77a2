//! `kiln key generate|import|public-key`: cosign-format key files. The password comes from
//! `KILN_PASSWORD` (or `COSIGN_PASSWORD`), else a prompt on a terminal; it is never echoed
//! or logged.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use kiln_sign::SignatureAlgorithm;
use kiln_sign::keys::{self, KeyOptions, PrivateKey, Zeroizing, file};

use crate::output::{self, Global};

/// Arguments of `kiln key`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: KeyCommand,
}

#[derive(clap::Subcommand)]
enum KeyCommand {
    /// Generate a key pair: PREFIX.key (cosign encrypted format) and PREFIX.pub.
    Generate {
        /// Prefix of the files written.
        #[arg(long, default_value = "kiln")]
        output_key_prefix: PathBuf,
        /// Key type.
        #[arg(long, value_enum, default_value_t = KeyType::EcdsaP256)]
        key_type: KeyType,
        /// Overwrite existing files.
        #[arg(long)]
        force: bool,
    },
    /// Import a PKCS#8, SEC1 (EC) or PKCS#1 (RSA) PEM key, or a cosign key, into a new
    /// cosign-format key pair encrypted with the password.
    Import {
        /// The key file to import.
        key: PathBuf,
        /// Prefix of the files written.
        #[arg(long, default_value = "import-kiln")]
        output_key_prefix: PathBuf,
        /// Overwrite existing files.
        #[arg(long)]
        force: bool,
    },
    /// Make a Notation certificate chain for a key: a new CA (its key is used once and
    /// discarded) issuing a code-signing leaf for the key. Writes PREFIX.chain.pem (leaf,
    /// then CA: give it to `kiln sign --signature-format notation --cert-chain`) and
    /// PREFIX.ca.pem (put it in the verifiers' trust store).
    Cert {
        /// The signing key reference (file, `awskms://…`, `pkcs11:…`).
        #[arg(long)]
        key: String,
        /// Prefix of the files written.
        #[arg(long, default_value = "kiln")]
        output_prefix: PathBuf,
        /// The leaf's subject (RFC 4514); trust policies name it.
        #[arg(long, default_value = "CN=Kiln Signer,O=Kiln,ST=WA,C=US")]
        subject: String,
        /// The CA's subject (RFC 4514).
        #[arg(long, default_value = "CN=Kiln Signing CA,O=Kiln,ST=WA,C=US")]
        ca_subject: String,
        /// Validity of both certificates, in days.
        #[arg(long, default_value_t = 365)]
        days: u64,
        /// Overwrite existing files.
        #[arg(long)]
        force: bool,
    },
    /// Print the public key of a key reference (file, `awskms://…`, `pkcs11:…`).
    PublicKey {
        /// The key reference.
        #[arg(long)]
        key: String,
        /// Write to FILE instead of stdout.
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum KeyType {
    EcdsaP256,
    EcdsaP384,
    EcdsaP521,
    Ed25519,
}

/// The password for an existing key: environment, else a prompt on a terminal.
pub fn read_password(prompt: &str) -> anyhow::Result<Option<Zeroizing<String>>> {
    if let Some(p) = KeyOptions::password_from_env() {
        return Ok(Some(p));
    }
    if std::io::stdin().is_terminal() {
        let p = rpassword::prompt_password(prompt).context("reading the password")?;
        return Ok(Some(Zeroizing::new(p)));
    }
    Ok(None)
}

/// The password for a new key: environment, else asked twice on a terminal.
fn new_password() -> anyhow::Result<Zeroizing<String>> {
    if let Some(p) = KeyOptions::password_from_env() {
        return Ok(p);
    }
    if !std::io::stdin().is_terminal() {
        bail!("no password: set KILN_PASSWORD (or COSIGN_PASSWORD), or run on a terminal");
    }
    let a = Zeroizing::new(rpassword::prompt_password(
        "Enter password for private key: ",
    )?);
    let b = Zeroizing::new(rpassword::prompt_password(
        "Enter password for private key again: ",
    )?);
    if a != b {
        bail!("the passwords do not match");
    }
    Ok(a)
}

/// Key options for a key reference, asking for a password only if the file needs one.
pub fn options_for(reference: &str) -> anyhow::Result<KeyOptions> {
    let mut options = KeyOptions::default();
    if let keys::KeyScheme::File(path) = keys::scheme(reference) {
        let encrypted = std::fs::read(path)
            .map(|d| file::is_encrypted(&d))
            .unwrap_or(false);
        if encrypted {
            options.password = read_password(&format!("Enter password for {reference}: "))?;
        }
    }
    Ok(options)
}

/// Runs `kiln key`.
pub async fn run(args: Args, global: &Global) -> anyhow::Result<ExitCode> {
    match args.command {
        KeyCommand::Generate {
            output_key_prefix,
            key_type,
            force,
        } => {
            let alg = match key_type {
                KeyType::EcdsaP256 => SignatureAlgorithm::EcdsaP256Sha256,
                KeyType::EcdsaP384 => SignatureAlgorithm::EcdsaP384Sha384,
                KeyType::EcdsaP521 => SignatureAlgorithm::EcdsaP521Sha512,
                KeyType::Ed25519 => SignatureAlgorithm::Ed25519,
            };
            let key = PrivateKey::generate(alg)?;
            let password = new_password()?;
            let (k, p) = file::save_key_pair(&output_key_prefix, &key, password.as_bytes(), force)?;
            global.say(format!("Private key written to {}", k.display()));
            global.say(format!("Public key written to {}", p.display()));
        }
        KeyCommand::Import {
            key,
            output_key_prefix,
            force,
        } => {
            let data = Zeroizing::new(
                file::read_key_file(&key).map_err(|e| anyhow::anyhow!("{}: {e}", key.display()))?,
            );
            let old = if file::is_encrypted(&data) {
                read_password(&format!("Enter password for {}: ", key.display()))?
            } else {
                None
            };
            let private = file::parse_private_key(&data, old.as_ref().map(|p| p.as_bytes()))
                .map_err(|e| anyhow::anyhow!("{}: {e}", key.display()))?;
            let password = new_password()?;
            let (k, p) =
                file::save_key_pair(&output_key_prefix, &private, password.as_bytes(), force)?;
            global.say(format!("Private key written to {}", k.display()));
            global.say(format!("Public key written to {}", p.display()));
        }
        KeyCommand::Cert {
            key,
            output_prefix,
            subject,
            ca_subject,
            days,
            force,
        } => {
            use kiln_sign::notation::cert::{CertRequest, EphemeralKey, make_chain, to_pem};
            let with_ext = |ext: &str| {
                let mut s = output_prefix.as_os_str().to_owned();
                s.push(ext);
                PathBuf::from(s)
            };
            let (chain_path, ca_path) = (with_ext(".chain.pem"), with_ext(".ca.pem"));
            if !force {
                for p in [&chain_path, &ca_path] {
                    if p.exists() {
                        bail!("{} exists (use --force to overwrite)", p.display());
                    }
                }
            }
            let signer = keys::open_signer(&key, &options_for(&key)?).await?;
            let request = CertRequest {
                ca_subject,
                leaf_subject: subject,
                validity: std::time::Duration::from_secs(days.saturating_mul(24 * 3600)),
            };
            let ca = EphemeralKey::generate();
            let chain = make_chain(&*signer, &ca, &request).await?;
            let chain_pem = to_pem(&chain.leaf_der) + &to_pem(&chain.ca_der);
            kiln_oci::layout::write_atomically(&ca_path, to_pem(&chain.ca_der).as_bytes())?;
            kiln_oci::layout::write_atomically(&chain_path, chain_pem.as_bytes())?;
            global.say(format!(
                "Certificate chain written to {}",
                chain_path.display()
            ));
            global.say(format!("CA certificate written to {}", ca_path.display()));
        }
        KeyCommand::PublicKey { key, output } => {
            let options = options_for(&key)?;
            let public = keys::open_verifier(&key, &options).await?;
            output::emit(public.to_pem().as_bytes(), output.as_deref())?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
