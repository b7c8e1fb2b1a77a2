//! `kiln sign`, `kiln attest`, `kiln verify`: cosign-format signatures and DSSE
//! attestations on an image in a registry or an OCI layout, and their verification.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use kiln_oci::registry::RegistryOptions;
use kiln_oci::{ImageRef, ImageStore, Manifest};
use kiln_sign::cosign::{self, StorageFormat};
use kiln_sign::intoto::{PredicateKind, Statement};
use kiln_sign::keys;
use kiln_sign::verify;

use crate::cmd::key::options_for;
use crate::output::{self, Global};

/// Signature formats `--signature-format` takes.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SignatureFormat {
    /// cosign's tag scheme (`sha256-<hex>.sig` / `.att`).
    Cosign,
    /// A Sigstore bundle v0.3 as an OCI 1.1 referrer.
    Bundle,
    /// A Notation JWS signature (X.509 chain) as an OCI 1.1 referrer.
    Notation,
}

/// Output formats.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutFormat {
    Text,
    Json,
}

/// Arguments of `kiln sign`.
#[derive(clap::Args)]
pub struct SignArgs {
    /// Signing key: a key file, `awskms://…` or `pkcs11:…`.
    #[arg(long)]
    key: String,
    /// The image: a registry reference or `oci:PATH[:TAG|@DIGEST]`.
    image: String,
    /// Store a Sigstore bundle referrer (same as `--signature-format bundle`).
    #[arg(long)]
    bundle: bool,
    /// How to store the signature.
    #[arg(long, value_enum, default_value_t = SignatureFormat::Cosign)]
    signature_format: SignatureFormat,
    /// Certificate chain (PEM, leaf first) for Notation signatures.
    #[arg(long)]
    cert_chain: Option<PathBuf>,
    /// Allow plain HTTP to a non-loopback registry.
    #[arg(long)]
    insecure_registry: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutFormat::Text)]
    format: OutFormat,
}

/// Arguments of `kiln attest`.
#[derive(clap::Args)]
pub struct AttestArgs {
    /// Signing key: a key file, `awskms://…` or `pkcs11:…`.
    #[arg(long)]
    key: String,
    /// Predicate type: sbom, spdx, cyclonedx, slsaprovenance, vuln, openvex, custom or a URI.
    #[arg(long = "type", default_value = "custom")]
    predicate_type: String,
    /// The predicate JSON file.
    #[arg(long)]
    predicate: PathBuf,
    /// The image: a registry reference or `oci:PATH[:TAG|@DIGEST]`.
    image: String,
    /// Store a Sigstore bundle referrer (same as `--signature-format bundle`).
    #[arg(long)]
    bundle: bool,
    /// How to store the attestation (cosign or bundle).
    #[arg(long, value_enum, default_value_t = SignatureFormat::Cosign)]
    signature_format: SignatureFormat,
    /// Allow plain HTTP to a non-loopback registry.
    #[arg(long)]
    insecure_registry: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutFormat::Text)]
    format: OutFormat,
}

/// Arguments of `kiln verify`.
#[derive(clap::Args)]
pub struct VerifyArgs {
    /// Verification key: a public or private key file, `awskms://…` or `pkcs11:…`.
    #[arg(long, required_unless_present = "trust_policy")]
    key: Option<String>,
    /// The image: a registry reference or `oci:PATH[:TAG|@DIGEST]`.
    image: String,
    /// Verify attestations of this type (sbom, spdx, cyclonedx, slsaprovenance, vuln,
    /// openvex, custom or a URI) instead of signatures.
    #[arg(long)]
    attestation: Option<String>,
    /// Notation trust policy file.
    #[arg(long, requires = "trust_store")]
    trust_policy: Option<PathBuf>,
    /// Notation trust store directory.
    #[arg(long)]
    trust_store: Option<PathBuf>,
    /// Allow plain HTTP to a non-loopback registry.
    #[arg(long)]
    insecure_registry: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutFormat::Text)]
    format: OutFormat,
}

/// An opened image: its store, reference and manifest.
struct Target {
    store: Box<dyn ImageStore>,
    reference: ImageRef,
    manifest: Manifest,
}

async fn open_image(image: &str, insecure: bool) -> anyhow::Result<Target> {
    let reference = ImageRef::parse(image)?;
    let options = RegistryOptions {
        insecure,
        ..RegistryOptions::default()
    };
    let store = kiln_oci::open::open_existing_store(&reference, &options)?;
    let manifest = store
        .resolve(&reference.selector())
        .await
        .with_context(|| format!("resolving {image}"))?;
    Ok(Target {
        store,
        reference,
        manifest,
    })
}

fn storage(bundle: bool, format: SignatureFormat) -> anyhow::Result<StorageFormat> {
    Ok(match (bundle, format) {
        (true, SignatureFormat::Notation) => {
            bail!("--bundle and --signature-format notation exclude each other")
        }
        (true, _) | (false, SignatureFormat::Bundle) => StorageFormat::Bundle,
        (false, SignatureFormat::Cosign) => StorageFormat::Cosign,
        (false, SignatureFormat::Notation) => {
            bail!("Notation signatures are not available in this build yet")
        }
    })
}

/// Runs `kiln sign`.
pub async fn sign(args: SignArgs, global: &Global) -> anyhow::Result<ExitCode> {
    if args.signature_format == SignatureFormat::Notation && args.cert_chain.is_none() {
        bail!("--signature-format notation needs --cert-chain FILE");
    }
    if args.signature_format == SignatureFormat::Notation && !args.bundle {
        return sign_notation(args, global).await;
    }
    let format = storage(args.bundle, args.signature_format)?;
    let target = open_image(&args.image, args.insecure_registry).await?;
    let signer = keys::open_signer(&args.key, &options_for(&args.key)?).await?;
    let stored = cosign::sign_image(
        &*target.store,
        &target.manifest,
        &cosign::docker_reference(&target.reference.location()),
        &*signer,
        format,
    )
    .await?;
    report_stored(global, args.format, "Signed", &target, &stored)
}

/// `kiln sign --signature-format notation`: a JWS envelope with the X.509 chain, pushed
/// as a referrer.
async fn sign_notation(args: SignArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let chain_path = args
        .cert_chain
        .as_deref()
        .context("--cert-chain is required")?;
    let data =
        std::fs::read(chain_path).with_context(|| format!("reading {}", chain_path.display()))?;
    let chain =
        kiln_sign::notation::cert::parse_certificates(&data, &chain_path.display().to_string())?;
    let target = open_image(&args.image, args.insecure_registry).await?;
    let signer = keys::open_signer(&args.key, &options_for(&args.key)?).await?;
    let sig = kiln_sign::notation::image::sign_image(
        &*target.store,
        &target.manifest.descriptor(),
        &*signer,
        &chain,
        None,
    )
    .await?;
    let stored = cosign::Stored {
        image: target.manifest.digest.to_string(),
        manifest: sig.manifest.digest.to_string(),
        tag: None,
        format: "notation",
    };
    report_stored(global, args.format, "Signed", &target, &stored)
}

fn report_stored(
    global: &Global,
    format: OutFormat,
    verb: &str,
    target: &Target,
    stored: &cosign::Stored,
) -> anyhow::Result<ExitCode> {
    match format {
        OutFormat::Json => output::emit_json(stored, None)?,
        OutFormat::Text => {
            let place = stored
                .tag
                .as_deref()
                .map(|t| format!("tag {t}"))
                .unwrap_or_else(|| "a referrer".into());
            global.say(format!(
                "{verb} {}@{}: stored as {place} (manifest {}, {} format)",
                target.reference.location(),
                stored.image,
                stored.manifest,
                stored.format
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `kiln attest`.
pub async fn attest(args: AttestArgs, global: &Global) -> anyhow::Result<ExitCode> {
    let format = storage(args.bundle, args.signature_format)?;
    let text = std::fs::read(&args.predicate)
        .with_context(|| format!("reading {}", args.predicate.display()))?;
    let predicate: serde_json::Value = serde_json::from_slice(&text)
        .with_context(|| format!("{} is not JSON", args.predicate.display()))?;
    let kind = PredicateKind::from_cli(&args.predicate_type, &predicate)?;
    let target = open_image(&args.image, args.insecure_registry).await?;
    let statement = Statement::new(
        &target.reference.location(),
        &target.manifest.digest,
        &kind,
        predicate,
    )
    .with_context(|| format!("predicate {}", args.predicate.display()))?;
    let signer = keys::open_signer(&args.key, &options_for(&args.key)?).await?;
    let stored = cosign::attest_image(
        &*target.store,
        &target.manifest,
        &statement,
        &*signer,
        format,
    )
    .await?;
    report_stored(global, args.format, "Attested", &target, &stored)
}

/// Runs `kiln verify`.
pub async fn verify(args: VerifyArgs, global: &Global) -> anyhow::Result<ExitCode> {
    if let Some(policy) = args.trust_policy.as_deref() {
        return verify_notation(&args, policy, global).await;
    }
    let Some(key_ref) = args.key.as_deref() else {
        bail!("--key is required")
    };
    let target = open_image(&args.image, args.insecure_registry).await?;
    let key = keys::open_verifier(key_ref, &options_for(key_ref)?).await?;
    let image = format!("{}@{}", target.reference.location(), target.manifest.digest);
    let result = match &args.attestation {
        None => verify::verify_signatures(&*target.store, &target.manifest, &key)
            .await
            .map(|v| serde_json::json!({"image": image, "verified": true, "signatures": v})),
        Some(t) => {
            let types = PredicateKind::uri_for_filter(t)?;
            verify::verify_attestations(&*target.store, &target.manifest, &key, types.as_deref())
                .await
                .map(|v| serde_json::json!({"image": image, "verified": true, "attestations": v}))
        }
    };
    match result {
        Ok(doc) => {
            match args.format {
                OutFormat::Json => output::emit_json(&doc, None)?,
                OutFormat::Text => {
                    let what = if args.attestation.is_some() {
                        "attestations"
                    } else {
                        "signatures"
                    };
                    let n = doc[what].as_array().map(Vec::len).unwrap_or(0);
                    global.say(format!("Verified {image}: {n} valid {what} with {key_ref}"));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(verify::VerifyError::Oci(e)) => Err(e.into()),
        Err(e) => {
            if args.format == OutFormat::Json {
                output::emit_json(
                    &serde_json::json!({"image": image, "verified": false, "reason": e.to_string()}),
                    None,
                )?;
            }
            eprintln!("Error: verification failed: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

/// `kiln verify --trust-policy FILE --trust-store DIR`: Notation signatures under the
/// trust policy that applies to the image's repository.
async fn verify_notation(
    args: &VerifyArgs,
    policy_path: &std::path::Path,
    global: &Global,
) -> anyhow::Result<ExitCode> {
    use kiln_sign::notation::NotationError;
    use kiln_sign::notation::image::{Verification, verify_image};
    use kiln_sign::notation::policy::{TrustPolicyDocument, TrustStore};
    let store_dir = args
        .trust_store
        .as_deref()
        .context("--trust-store is required")?;
    let policy = TrustPolicyDocument::load(policy_path)?;
    let trust_store = TrustStore::open(store_dir)?;
    let target = open_image(&args.image, args.insecure_registry).await?;
    let image = format!("{}@{}", target.reference.location(), target.manifest.digest);
    let result = verify_image(
        &*target.store,
        &target.manifest.descriptor(),
        &target.reference.location(),
        &policy,
        &trust_store,
    )
    .await;
    let doc = match result {
        Ok(Verification::Verified(v)) => serde_json::json!({
            "image": image, "verified": true, "format": "notation",
            "signature": v.signature_digest.to_string(), "policy": v.policy,
            "signer": v.signer_subject, "signing_time": v.signing_time_rfc3339(), "logged": v.logged,
        }),
        Ok(Verification::Skipped { policy }) => serde_json::json!({
            "image": image, "verified": false, "skipped": true, "policy": policy,
        }),
        Err(NotationError::Verification(reason)) => {
            if args.format == OutFormat::Json {
                output::emit_json(
                    &serde_json::json!({"image": image, "verified": false, "reason": reason}),
                    None,
                )?;
            }
            eprintln!("Error: verification failed: {reason}");
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e.into()),
    };
    match args.format {
        OutFormat::Json => output::emit_json(&doc, None)?,
        OutFormat::Text if doc["verified"] == true => global.say(format!(
            "Verified {image}: Notation signature by {} under trust policy {}",
            doc["signer"].as_str().unwrap_or_default(),
            doc["policy"].as_str().unwrap_or_default()
        )),
        OutFormat::Text => global.say(format!(
            "Skipped {image}: trust policy {} has level skip",
            doc["policy"].as_str().unwrap_or_default()
        )),
    }
    Ok(ExitCode::SUCCESS)
}
