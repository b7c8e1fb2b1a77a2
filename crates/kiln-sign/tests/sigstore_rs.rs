//! sigstore-rs (the `sigstore` crate, an independent implementation) reads Kiln's
//! encrypted key files and verifies Kiln's cosign signatures.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use kiln_oci::manifest::{Descriptor, ImageManifest};
use kiln_oci::{ImageStore, Manifest, OciLayout, media_type};
use kiln_sign::SignatureAlgorithm;
use kiln_sign::cosign::{self, StorageFormat, attach};
use kiln_sign::keys::PrivateKey;
use kiln_sign::keys::file::{FileSigner, encrypt_private_key};
use sigstore::crypto::signing_key::SigStoreKeyPair;
use sigstore::crypto::{CosignVerificationKey, Signature};

#[test]
fn sigstore_rs_reads_kiln_key_files() {
    for alg in [
        SignatureAlgorithm::EcdsaP256Sha256,
        SignatureAlgorithm::EcdsaP384Sha384,
        SignatureAlgorithm::Ed25519,
    ] {
        let key = PrivateKey::generate(alg).unwrap();
        let pem = encrypt_private_key(&key, b"pw").unwrap();
        let theirs = SigStoreKeyPair::from_encrypted_pem(pem.as_bytes(), b"pw")
            .unwrap_or_else(|e| panic!("{alg:?}: {e}"));
        assert_eq!(
            theirs.public_key_to_der().unwrap(),
            key.public_key().to_spki_der(),
            "{alg:?}"
        );
        assert!(SigStoreKeyPair::from_encrypted_pem(pem.as_bytes(), b"wrong").is_err());
    }
}

#[tokio::test]
async fn sigstore_rs_verifies_kiln_signatures() {
    let dir = tempfile::tempdir().unwrap();
    let store = OciLayout::create(dir.path().join("lay")).unwrap();
    let config = b"{}".to_vec();
    let cd = Descriptor::of(media_type::OCI_CONFIG, &config);
    store.push_blob(&cd.digest, &config).await.unwrap();
    let image = Manifest::from_image(&ImageManifest {
        schema_version: 2,
        media_type: Some(media_type::OCI_MANIFEST.into()),
        artifact_type: None,
        config: cd,
        layers: vec![],
        subject: None,
        annotations: None,
    });
    store.push_manifest(&image, Some("v1")).await.unwrap();
    for alg in [
        SignatureAlgorithm::EcdsaP256Sha256,
        SignatureAlgorithm::Ed25519,
    ] {
        let signer = FileSigner::new(PrivateKey::generate(alg).unwrap(), "k");
        cosign::sign_image(&store, &image, "oci:lay", &signer, StorageFormat::Cosign)
            .await
            .unwrap();
        let (layer, payload) = attach::read_layers(&store, &image.digest, "sig")
            .await
            .unwrap()
            .pop()
            .unwrap();
        let sig = STANDARD
            .decode(layer.annotation(cosign::SIGNATURE_ANNOTATION).unwrap())
            .unwrap();
        let key =
            CosignVerificationKey::try_from_pem(signer.key().public_key().to_pem().as_bytes())
                .unwrap();
        key.verify_signature(Signature::Raw(&sig), &payload)
            .unwrap_or_else(|e| panic!("{alg:?}: {e}"));
        let mut tampered = payload.clone();
        tampered[3] ^= 1;
        assert!(
            key.verify_signature(Signature::Raw(&sig), &tampered)
                .is_err()
        );
    }
}
