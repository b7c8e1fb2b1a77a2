//! AWS KMS keys against moto's server mode (started by scripts/services/moto with its
//! MessageType=DIGEST defect corrected): every signature is checked by openssl against
//! the public key GetPublicKey returned, and KMS keys sign Notation signatures.
#![cfg(feature = "aws-kms")]

mod notation_support;

use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use kiln_sign::Signer;
use kiln_sign::keys::kms::{KmsOptions, KmsRef, KmsSigner};
use notation_support::openssl_verifies;

fn moto() -> Option<String> {
    match std::env::var("KILN_TEST_MOTO") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            if kiln_testutil::services_required() {
                panic!("KILN_TEST_MOTO is required (KILN_REQUIRE_SERVICES=1) but missing");
            }
            eprintln!("skipping: KILN_TEST_MOTO is missing (run scripts/test)");
            None
        }
    }
}

fn options(url: &str) -> KmsOptions {
    KmsOptions {
        endpoint_url: Some(url.to_string()),
        region: Some("us-east-1".into()),
        credentials: Some(("test".into(), "test".into())),
    }
}

async fn create_key(url: &str, spec: KeySpec, usage: KeyUsageType) -> (String, String) {
    let key = KmsRef::parse("awskms:///placeholder").unwrap();
    let client = kiln_sign::keys::kms::client(&key, &options(url)).await;
    let meta = client
        .create_key()
        .key_spec(spec)
        .key_usage(usage)
        .send()
        .await
        .expect("moto CreateKey")
        .key_metadata
        .expect("key metadata");
    (meta.key_id, meta.arn.expect("arn"))
}

#[tokio::test]
async fn kms_signs_digests_as_real_kms_does() {
    let Some(url) = moto() else { return };
    if kiln_testutil::program("openssl").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (id, arn) = create_key(&url, KeySpec::EccNistP256, KeyUsageType::SignVerify).await;

    for uri in [format!("awskms:///{id}"), format!("awskms:///{arn}")] {
        let signer = KmsSigner::open_with(&uri, &options(&url)).await.unwrap();
        assert_eq!(
            signer.algorithm(),
            kiln_sign::SignatureAlgorithm::EcdsaP256Sha256
        );
        assert_eq!(signer.key_ref(), uri);
        let message = b"{\"critical\":{\"image\":{\"docker-manifest-digest\":\"sha256:00\"}}}";
        let sig = signer.sign(message).await.unwrap();
        let spki = signer.public_key_spki_der();
        assert!(openssl_verifies(
            dir.path(),
            &spki,
            message,
            &sig,
            "-sha256"
        ));
        assert!(!openssl_verifies(
            dir.path(),
            &spki,
            b"another message",
            &sig,
            "-sha256"
        ));
    }

    // An alias names the same key (unique per run: moto keeps state between runs).
    let alias = format!("alias/kiln-{id}");
    let key = KmsRef::parse("awskms:///placeholder").unwrap();
    let client = kiln_sign::keys::kms::client(&key, &options(&url)).await;
    client
        .create_alias()
        .alias_name(&alias)
        .target_key_id(&id)
        .send()
        .await
        .unwrap();
    let by_alias = KmsSigner::open_with(&format!("awskms:///{alias}"), &options(&url))
        .await
        .unwrap();
    let by_id = KmsSigner::open_with(&format!("awskms:///{id}"), &options(&url))
        .await
        .unwrap();
    assert_eq!(by_alias.public_key_spki_der(), by_id.public_key_spki_der());
}

#[tokio::test]
async fn kms_p384_key() {
    let Some(url) = moto() else { return };
    if kiln_testutil::program("openssl").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (id, _) = create_key(&url, KeySpec::EccNistP384, KeyUsageType::SignVerify).await;
    let signer = KmsSigner::open_with(&format!("awskms:///{id}"), &options(&url))
        .await
        .unwrap();
    assert_eq!(
        signer.algorithm(),
        kiln_sign::SignatureAlgorithm::EcdsaP384Sha384
    );
    let sig = signer.sign(b"payload").await.unwrap();
    assert!(openssl_verifies(
        dir.path(),
        &signer.public_key_spki_der(),
        b"payload",
        &sig,
        "-sha384"
    ));
}

#[tokio::test]
async fn kms_refusals_are_clear_errors() {
    let Some(url) = moto() else { return };
    // A key that does not exist.
    let e = KmsSigner::open_with(
        "awskms:///1234abcd-12ab-34cd-56ef-1234567890ab",
        &options(&url),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(e.contains("GetPublicKey failed"), "{e}");
    assert!(e.contains("1234abcd-12ab-34cd-56ef-1234567890ab"), "{e}");

    // A symmetric key cannot sign.
    let (id, _) = create_key(
        &url,
        KeySpec::SymmetricDefault,
        KeyUsageType::EncryptDecrypt,
    )
    .await;
    let e = KmsSigner::open_with(&format!("awskms:///{id}"), &options(&url))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("unsupported KMS key spec SYMMETRIC_DEFAULT"),
        "{e}"
    );

    // An RSA signing key is not what Kiln signs with.
    let (id, _) = create_key(&url, KeySpec::Rsa2048, KeyUsageType::SignVerify).await;
    let e = KmsSigner::open_with(&format!("awskms:///{id}"), &options(&url))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("RSA_2048"), "{e}");
}

#[tokio::test]
async fn unreachable_kms_is_a_clear_error() {
    // A port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let opts = KmsOptions {
        endpoint_url: Some(format!("http://127.0.0.1:{port}")),
        region: Some("us-east-1".into()),
        credentials: Some(("test".into(), "test".into())),
    };
    let e = KmsSigner::open_with("awskms:///alias/nothing", &opts)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("awskms:///alias/nothing"), "{e}");
    assert!(e.contains("GetPublicKey failed"), "{e}");
    assert!(
        e.to_lowercase().contains("connect") || e.contains("dispatch"),
        "{e}"
    );
}

#[tokio::test]
async fn kms_key_signs_notation_signatures() {
    let Some(url) = moto() else { return };
    let (id, _) = create_key(&url, KeySpec::EccNistP256, KeyUsageType::SignVerify).await;
    let signer = KmsSigner::open_with(&format!("awskms:///{id}"), &options(&url))
        .await
        .unwrap();
    notation_support::notation_round_trip(&signer).await;
    notation_support::cosign_round_trip(&signer).await;
}
