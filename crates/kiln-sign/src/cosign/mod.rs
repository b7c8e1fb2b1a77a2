//! cosign-compatible signing of images: the simple-signing signature stored at the
//! `sha256-<hex>.sig` tag, DSSE attestations at `sha256-<hex>.att`, or either one as a
//! Sigstore bundle v0.3 referrer.

pub mod attach;
pub mod bundle;
pub mod payload;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use kiln_oci::manifest::Annotations;
use kiln_oci::{Digest, ImageStore, Manifest};

use crate::dsse::{ENVELOPE_MEDIA_TYPE, Envelope, INTOTO_PAYLOAD_TYPE};
use crate::error::SignError;
use crate::intoto::Statement;
use crate::keys::signer_public_key;
use crate::signer::Signer;

pub use bundle::{BUNDLE_MEDIA_TYPE, Bundle};
pub use payload::{SIMPLE_SIGNING_MEDIA_TYPE, SimpleSigning};

/// The annotation holding a cosign signature (base64).
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// The annotation naming an attestation layer's predicate type.
pub const PREDICATE_TYPE_ANNOTATION: &str = "predicateType";

/// Where a signature or attestation is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StorageFormat {
    /// cosign's tag scheme (`.sig` / `.att`).
    #[default]
    Cosign,
    /// A Sigstore bundle v0.3 as an OCI 1.1 referrer.
    Bundle,
}

/// What a signing or attesting run stored.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Stored {
    /// The image signed.
    pub image: String,
    /// The manifest holding the signature (the `.sig`/`.att` manifest or the referrer).
    pub manifest: String,
    /// The tag it is stored under, for the cosign scheme.
    pub tag: Option<String>,
    /// `cosign` or `bundle`.
    pub format: &'static str,
}

/// The repository name cosign signs into `docker-reference` for an image location.
pub fn docker_reference(location: &str) -> String {
    location.to_string()
}

/// Signs `image` (its manifest as fetched from `store`) with `signer`.
pub async fn sign_image(
    store: &dyn ImageStore,
    image: &Manifest,
    docker_reference: &str,
    signer: &dyn Signer,
    format: StorageFormat,
) -> Result<Stored, SignError> {
    match format {
        StorageFormat::Cosign => {
            let payload = SimpleSigning::new(docker_reference, &image.digest).to_bytes();
            let sig = signer.sign(&payload).await?;
            let annotations: Annotations =
                [(SIGNATURE_ANNOTATION.to_string(), STANDARD.encode(&sig))].into();
            let m = attach::append_layer(
                store,
                &image.digest,
                "sig",
                SIMPLE_SIGNING_MEDIA_TYPE,
                &payload,
                annotations,
            )
            .await?;
            Ok(Stored {
                image: image.digest.to_string(),
                manifest: m.digest.to_string(),
                tag: Some(attach::cosign_tag(&image.digest, "sig")),
                format: "cosign",
            })
        }
        StorageFormat::Bundle => {
            // The signed message is the image manifest itself: its SHA-256 is the image
            // digest, so the bundle's messageDigest names the image.
            image.digest.verify(&image.bytes, "image manifest")?;
            let sig = signer.sign(&image.bytes).await?;
            let key = signer_public_key(signer)?;
            let raw = Digest::sha256(&image.bytes).raw();
            let b = Bundle::message(&key, &raw, &sig);
            let annotations: Annotations = [(
                bundle::CONTENT_ANNOTATION.to_string(),
                "message-signature".to_string(),
            )]
            .into();
            let m =
                attach::push_referrer(store, image, BUNDLE_MEDIA_TYPE, &b.to_json(), annotations)
                    .await?;
            Ok(Stored {
                image: image.digest.to_string(),
                manifest: m.digest.to_string(),
                tag: None,
                format: "bundle",
            })
        }
    }
}

/// Signs `statement` (whose subject must be `image`) into a DSSE envelope and stores it.
pub async fn attest_image(
    store: &dyn ImageStore,
    image: &Manifest,
    statement: &Statement,
    signer: &dyn Signer,
    format: StorageFormat,
) -> Result<Stored, SignError> {
    statement
        .check_subject(&image.digest)
        .map_err(|e| SignError::Verification(e.to_string()))?;
    let env = Envelope::sign(INTOTO_PAYLOAD_TYPE, statement.to_json(), signer).await?;
    match format {
        StorageFormat::Cosign => {
            let annotations: Annotations = [(
                PREDICATE_TYPE_ANNOTATION.to_string(),
                statement.predicate_type.clone(),
            )]
            .into();
            let m = attach::append_layer(
                store,
                &image.digest,
                "att",
                ENVELOPE_MEDIA_TYPE,
                &env.to_json(),
                annotations,
            )
            .await?;
            Ok(Stored {
                image: image.digest.to_string(),
                manifest: m.digest.to_string(),
                tag: Some(attach::cosign_tag(&image.digest, "att")),
                format: "cosign",
            })
        }
        StorageFormat::Bundle => {
            let key = signer_public_key(signer)?;
            let b = Bundle::dsse(&key, &env);
            let annotations: Annotations = [
                (
                    bundle::CONTENT_ANNOTATION.to_string(),
                    "dsse-envelope".to_string(),
                ),
                (
                    bundle::PREDICATE_ANNOTATION.to_string(),
                    statement.predicate_type.clone(),
                ),
            ]
            .into();
            let m =
                attach::push_referrer(store, image, BUNDLE_MEDIA_TYPE, &b.to_json(), annotations)
                    .await?;
            Ok(Stored {
                image: image.digest.to_string(),
                manifest: m.digest.to_string(),
                tag: None,
                format: "bundle",
            })
        }
    }
}
