//! The signing key of a run: `sign.key` opened through kiln-sign (a key file, `awskms://…`,
//! `pkcs11:…`). The default key file `.kiln/keys/cosign.key` (any missing `*.key` file) is
//! made on the first run, encrypted with `KILN_PASSWORD`/`COSIGN_PASSWORD` or an empty
//! password, its public key beside it as `*.pub`. For Notation, a certificate chain for
//! the key is made the same way unless `sign.cert_chain` names one.

use std::path::{Path, PathBuf};

use kiln_sign::keys::{self, KeyOptions, KeyScheme, PrivateKey, Zeroizing, file};
use kiln_sign::{SignatureAlgorithm, Signer};

use super::{Ctx, StageError, StageLog};

/// The password of key files: the environment's, else empty.
fn password() -> Zeroizing<String> {
    KeyOptions::password_from_env().unwrap_or_else(|| Zeroizing::new(String::new()))
}

/// The key reference with a relative file path made absolute in the project.
pub fn resolved_key_ref(ctx: &Ctx) -> String {
    let r = ctx.config.sign.key_ref();
    match keys::scheme(r) {
        KeyScheme::File(p) => ctx.project_path(p).display().to_string(),
        _ => r.to_string(),
    }
}

/// Makes `path` (a `*.key`) and its `.pub` when the key file is missing.
fn ensure_key_file(path: &Path, log: &StageLog<'_>) -> Result<(), StageError> {
    if path.exists() {
        return Ok(());
    }
    let Some(prefix) = path
        .to_str()
        .and_then(|s| s.strip_suffix(".key"))
        .map(PathBuf::from)
    else {
        return Err(StageError(format!(
            "sign.key {}: no such file (only a missing *.key file is generated)",
            path.display()
        )));
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| StageError(format!("{}: {e}", parent.display())))?;
    }
    let key = PrivateKey::generate(SignatureAlgorithm::EcdsaP256Sha256)?;
    let (k, p) = file::save_key_pair(&prefix, &key, password().as_bytes(), false)?;
    log.line(&format!(
        "generated signing key {} (public key {}){}",
        k.display(),
        p.display(),
        if KeyOptions::password_from_env().is_some() {
            ", encrypted with the password from the environment"
        } else {
            ", with an empty password (set KILN_PASSWORD to choose one)"
        }
    ));
    Ok(())
}

/// Opens (and on first use makes) the signing key.
pub async fn open_signer(ctx: &Ctx, log: &StageLog<'_>) -> Result<Box<dyn Signer>, StageError> {
    let reference = resolved_key_ref(ctx);
    let mut options = KeyOptions::default();
    if let KeyScheme::File(p) = keys::scheme(&reference) {
        ensure_key_file(p, log)?;
        options.password = Some(password());
    }
    Ok(keys::open_signer(&reference, &options).await?)
}

/// The Notation certificate chain (DER, leaf first) for `signer`: `sign.cert_chain`, else
/// `.kiln/keys/notation.chain.pem`, made (with `notation.ca.pem`) on first use.
pub async fn notation_chain(
    ctx: &Ctx,
    signer: &dyn Signer,
    log: &StageLog<'_>,
) -> Result<Vec<Vec<u8>>, StageError> {
    use kiln_sign::notation::cert;
    let path = match &ctx.config.sign.cert_chain {
        Some(p) => ctx.project_path(p),
        None => ctx.dir.join(".kiln/keys/notation.chain.pem"),
    };
    if !path.exists() {
        if ctx.config.sign.cert_chain.is_some() {
            return Err(StageError(format!(
                "sign.cert_chain {}: no such file",
                path.display()
            )));
        }
        let ca = cert::EphemeralKey::generate();
        let chain = cert::make_chain(signer, &ca, &cert::CertRequest::default()).await?;
        let ca_path = path.with_file_name("notation.ca.pem");
        kiln_oci::layout::write_atomically(&ca_path, cert::to_pem(&chain.ca_der).as_bytes())?;
        let pem = cert::to_pem(&chain.leaf_der) + &cert::to_pem(&chain.ca_der);
        kiln_oci::layout::write_atomically(&path, pem.as_bytes())?;
        log.line(&format!(
            "made a Notation certificate chain {} (trust store CA: {})",
            path.display(),
            ca_path.display()
        ));
    }
    let data = std::fs::read(&path).map_err(|e| StageError(format!("{}: {e}", path.display())))?;
    Ok(cert::parse_certificates(
        &data,
        &path.display().to_string(),
    )?)
}
