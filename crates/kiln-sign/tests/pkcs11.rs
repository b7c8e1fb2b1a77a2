//! PKCS#11 keys against SoftHSM2 (token and key pair made by scripts/services/softhsm):
//! signatures checked by openssl with the public key read from the token, Notation
//! signing with the HSM key, and clear errors for a missing token, object, PIN or module.
//! All tests share one process-wide PKCS#11 context, as C_Initialize requires.

mod notation_support;

use kiln_sign::Signer;
use kiln_sign::keys::pkcs11::Pkcs11Signer;
use notation_support::openssl_verifies;

fn hsm_uri() -> Option<String> {
    match (
        std::env::var("KILN_TEST_PKCS11_URI"),
        std::env::var("SOFTHSM2_CONF"),
    ) {
        (Ok(u), Ok(_)) if !u.is_empty() => Some(u),
        _ => {
            if kiln_testutil::services_required() {
                panic!(
                    "KILN_TEST_PKCS11_URI and SOFTHSM2_CONF are required (KILN_REQUIRE_SERVICES=1)"
                );
            }
            eprintln!("skipping: KILN_TEST_PKCS11_URI is missing (run scripts/test)");
            None
        }
    }
}

/// The URI with `object=` replaced.
fn with_object(uri: &str, object: &str) -> String {
    uri.replace("object=sign1", &format!("object={object}"))
}

#[tokio::test]
async fn hsm_key_signs_and_openssl_verifies() {
    let Some(uri) = hsm_uri() else { return };
    if kiln_testutil::program("openssl").is_none() {
        return;
    }
    let signer = Pkcs11Signer::open(&uri).unwrap();
    assert_eq!(
        signer.algorithm(),
        kiln_sign::SignatureAlgorithm::EcdsaP256Sha256
    );
    assert!(!signer.key_ref().contains("1234"), "the PIN must not show");
    let dir = tempfile::tempdir().unwrap();
    let message = b"{\"critical\":{\"type\":\"cosign container image signature\"}}";
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
        b"tampered",
        &sig,
        "-sha256"
    ));
    // Opening again in the same process reuses the initialised module.
    let again = Pkcs11Signer::open(&uri).unwrap();
    assert_eq!(again.public_key_spki_der(), spki);
}

#[tokio::test]
async fn hsm_p384_key() {
    let Some(uri) = hsm_uri() else { return };
    if kiln_testutil::program("openssl").is_none() {
        return;
    }
    let signer = Pkcs11Signer::open(&with_object(&uri, "sign384")).unwrap();
    assert_eq!(
        signer.algorithm(),
        kiln_sign::SignatureAlgorithm::EcdsaP384Sha384
    );
    let dir = tempfile::tempdir().unwrap();
    let sig = signer.sign(b"payload").await.unwrap();
    assert!(openssl_verifies(
        dir.path(),
        &signer.public_key_spki_der(),
        b"payload",
        &sig,
        "-sha384"
    ));
    notation_support::notation_round_trip(&signer).await;
}

#[tokio::test]
async fn hsm_key_signs_notation_signatures() {
    let Some(uri) = hsm_uri() else { return };
    let signer = Pkcs11Signer::open(&uri).unwrap();
    notation_support::notation_round_trip(&signer).await;
    notation_support::cosign_round_trip(&signer).await;
}

#[tokio::test]
async fn opened_by_reference_like_any_key() {
    let Some(uri) = hsm_uri() else { return };
    let options = kiln_sign::keys::KeyOptions::default();
    let signer = kiln_sign::keys::open_signer(&uri, &options).await.unwrap();
    let sig = signer.sign(b"message").await.unwrap();
    let key = kiln_sign::keys::open_verifier(&uri, &options)
        .await
        .unwrap();
    key.verify(b"message", &sig).unwrap();
    assert!(key.verify(b"other", &sig).is_err());
}

#[test]
fn hsm_errors_are_clear() {
    let Some(uri) = hsm_uri() else { return };
    let e = Pkcs11Signer::open(&with_object(&uri, "nope"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("has no private key labelled \"nope\""), "{e}");
    assert!(!e.contains("1234"), "{e}");

    let e = Pkcs11Signer::open(&uri.replace("token=kiln", "token=other"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("no token labelled \"other\""), "{e}");
    assert!(e.contains("kiln"), "lists the tokens present: {e}");

    let e = Pkcs11Signer::open(&uri.replace("module-path=", "module-path=/nonexistent"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("does not exist"), "{e}");

    let no_pin = uri
        .split_once('?')
        .map(|(p, q)| {
            let rest: Vec<&str> = q
                .split('&')
                .filter(|a| !a.starts_with("pin-value="))
                .collect();
            format!("{p}?{}", rest.join("&"))
        })
        .unwrap();
    if std::env::var(kiln_sign::keys::pkcs11::PIN_ENV).is_err() {
        let e = Pkcs11Signer::open(&no_pin).unwrap_err().to_string();
        assert!(e.contains("no PIN"), "{e}");
    }
}
