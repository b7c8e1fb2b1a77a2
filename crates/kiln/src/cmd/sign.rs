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
    #[value(alias = "table")]
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
    #[arg(long, required_unless_present_any = ["trust_policy", "policy"], conflicts_with = "policy")]
    key: Option<String>,
    /// The image: a registry reference or `oci:PATH[:TAG|@DIGEST]`.
    image: String,
    /// Verify attestations of this type (sbom, spdx, cyclonedx, slsaprovenance, vuln,
    /// openvex, custom or a URI) instead of signatures.
    #[arg(long, conflicts_with = "policy")]
    attestation: Option<String>,
    /// Notation trust policy file.
    #[arg(long, requires = "trust_store", conflicts_with = "policy")]
    trust_policy: Option<PathBuf>,
    /// Notation trust store directory.
    #[arg(long)]
    trust_store: Option<PathBuf>,
    /// Decide with a Kiln deployment policy (`kind: ImagePolicy`): exit 0 allowed,
    /// 1 (or `--exit-code`) denied.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// The Kubernetes namespace to decide for (rules with `namespaces`).
    #[arg(long, requires = "policy")]
    namespace: Option<String>,
    /// Exit code when the policy denies the image.
    #[arg(long, default_value_t = 1, requires = "policy")]
    exit_code: u8,
    /// Time budget of the whole decision, in seconds (registry, keys, checks).
    #[arg(long, default_value_t = 30.0, requires = "policy")]
    timeout: f64,
    /// Allow plain HTTP to a non-loopback registry.
    #[arg(long)]
    insecure_registry: bool,
    /// Output format (`table` is the text format).
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
    if let Some(policy) = args.policy.as_deref() {
        return verify_policy(&args, policy, global).await;
    }
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

/// `kiln verify IMAGE --policy FILE`: the gate's decision on the command line.
async fn verify_policy(
    args: &VerifyArgs,
    path: &std::path::Path,
    global: &Global,
) -> anyhow::Result<ExitCode> {
    use kiln_policy::collect::{Gate, GateOptions};
    if !(args.timeout.is_finite() && args.timeout > 0.0) {
        bail!("--timeout must be a positive number of seconds");
    }
    let policy = kiln_policy::Policy::load(path).map_err(|e| match &e {
        kiln_policy::PolicyError::Invalid {
            source_name,
            line: Some(line),
            column,
            message,
        } => anyhow::anyhow!("{source_name}:{line}:{}: {message}", column.unwrap_or(1)),
        _ => anyhow::anyhow!(e),
    })?;
    let options = GateOptions {
        registry: RegistryOptions {
            insecure: args.insecure_registry,
            ..RegistryOptions::default()
        },
        budget: std::time::Duration::from_secs_f64(args.timeout),
    };
    let gate = Gate::new(std::sync::Arc::new(policy), options)?;
    let verdict = gate
        .decide(&args.image, args.namespace.as_deref(), None)
        .await;
    let d = &verdict.decision;
    match args.format {
        OutFormat::Json => {
            let signers: Vec<serde_json::Value> = verdict
                .evidence
                .signatures
                .iter()
                .map(|s| {
                    serde_json::json!({
                        "format": s.format,
                        "signers": gate.policy().document.spec.signers.iter()
                            .filter(|def| def.matches(&s.signer))
                            .map(|def| def.name.clone())
                            .collect::<Vec<_>>(),
                        "keyFingerprint": s.signer.key_fingerprint(),
                        "kmsKey": s.signer.kms_key,
                        "subject": s.signer.subject,
                    })
                })
                .collect();
            let mut types: Vec<&str> = verdict
                .evidence
                .attestations
                .iter()
                .map(|a| a.predicate_type.as_str())
                .collect();
            types.sort_unstable();
            types.dedup();
            output::emit_json(
                &serde_json::json!({
                    "image": args.image,
                    "digest": verdict.digest.as_ref().map(|d| d.to_string()),
                    "policy": path.display().to_string(),
                    "policyVersion": gate.policy_version(),
                    "decision": d,
                    "evidence": {
                        "signatures": signers,
                        "attestations": verdict.evidence.attestations.len(),
                        "predicateTypes": types,
                    },
                    "registryError": verdict.registry_error,
                }),
                None,
            )?;
        }
        OutFormat::Text => {
            let mut out = String::new();
            out.push_str(&format!("image   {}\n", args.image));
            out.push_str(&format!(
                "digest  {}\n",
                verdict
                    .digest
                    .as_ref()
                    .map(|d| d.to_string())
                    .unwrap_or_else(|| "-".into())
            ));
            let mode = match d.mode {
                kiln_policy::Mode::Enforce => "enforce",
                kiln_policy::Mode::Audit => "audit",
            };
            out.push_str(&format!(
                "result  {} (mode {mode}; rules: {})\n",
                if d.allowed { "ALLOWED" } else { "DENIED" },
                if d.matched_rules.is_empty() {
                    "none".to_string()
                } else {
                    d.matched_rules.join(", ")
                }
            ));
            if !d.reasons.is_empty() || !d.warnings.is_empty() {
                out.push_str(&format!(
                    "\n{:<6} {:<22} {:<22} MESSAGE\n",
                    "", "RULE", "CODE"
                ));
            }
            for (what, list) in [("deny", &d.reasons), ("warn", &d.warnings)] {
                for r in list {
                    out.push_str(&format!(
                        "{what:<6} {:<22} {:<22} {}\n",
                        r.rule.as_deref().unwrap_or("-"),
                        r.code.as_str(),
                        r.message
                    ));
                }
            }
            output::emit(out.as_bytes(), None)?;
            global.say(format!(
                "{}: {} signature(s) and {} attestation(s) verified",
                args.image,
                verdict.evidence.signatures.len(),
                verdict.evidence.attestations.len()
            ));
        }
    }
    Ok(if d.allowed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(args.exit_code)
    })
}
