//! cosign's and sigstore-rs's key files (`../shared/vectors/cosign/keys`): every key cosign
//! accepts loads with its password and gives the listed public key; every key it rejects
//! is rejected with a reason. (The sigstore-rs example public key files belong to other
//! keys than its private key files, so plain keys are only loaded and used.)

use kiln_sign::keys::file::parse_private_key;
use kiln_sign::keys::{KeyError, PublicKey};

fn cases() -> Option<(std::path::PathBuf, serde_json::Value)> {
    let dir = kiln_testutil::shared_vectors("cosign/keys")?;
    let text = std::fs::read_to_string(dir.join("keys-cases.json")).unwrap();
    Some((dir, serde_json::from_str(&text).unwrap()))
}

#[test]
fn encrypted_keys_decrypt_as_cosign_does() {
    let Some((dir, cases)) = cases() else { return };
    let list = cases["decrypt_cases"].as_array().unwrap();
    assert!(list.len() >= 8);
    for case in list {
        let file = case["file"].as_str().unwrap();
        let data = std::fs::read(dir.join(file)).unwrap();
        let password = case["password"].as_str().unwrap().as_bytes();
        let result = parse_private_key(&data, Some(password));
        match case["expected"].as_str().unwrap() {
            "ok" => {
                let key = result.unwrap_or_else(|e| panic!("{file}: {e}"));
                let want = PublicKey::from_pem(case["public_key_pem"].as_str().unwrap()).unwrap();
                assert!(key.public_key() == want, "{file}: public key differs");
                assert_eq!(
                    key.public_key().to_pem(),
                    case["public_key_pem"].as_str().unwrap()
                );
                // The key signs and its public key verifies.
                let sig = key.sign(b"payload").unwrap();
                want.verify(b"payload", &sig).unwrap();
                assert!(want.verify(b"payloaD", &sig).is_err());
            }
            "decrypts-but-rejected" => {
                let err = result
                    .err()
                    .unwrap_or_else(|| panic!("{file} must be rejected"));
                assert!(err.to_string().contains("not PKCS#8"), "{file}: {err}");
            }
            other => panic!("unknown expectation {other}"),
        }
        if case["wrong_password_rejected"] == true {
            let err = parse_private_key(&data, Some(b"definitely-wrong")).unwrap_err();
            assert_eq!(err, KeyError::WrongPassword, "{file}");
        }
    }
}

#[test]
fn imported_keys_follow_cosign() {
    let Some((dir, cases)) = cases() else { return };
    for case in cases["import_cases"].as_array().unwrap() {
        let file = case["file"].as_str().unwrap();
        let data = std::fs::read(dir.join(file)).unwrap();
        let result = parse_private_key(&data, None);
        match case["expected_error"].as_str() {
            None => {
                let key = result.unwrap_or_else(|e| panic!("{file}: {e}"));
                let sig = key.sign(b"m").unwrap();
                key.public_key().verify(b"m", &sig).unwrap();
            }
            Some(expected) => {
                let err = result
                    .err()
                    .unwrap_or_else(|| panic!("{file} must be rejected ({expected})"));
                let msg = err.to_string();
                let hint = match expected {
                    "unsupported private key" => "PUBLIC KEY",
                    "invalid pem block" => "invalid pem block",
                    e if e.contains("1024") => "1024",
                    e if e.contains("5120") => "5120",
                    e if e.contains("P-224") => "P-224",
                    _ => "secp256k1",
                };
                assert!(msg.contains(hint), "{file}: {msg} (cosign: {expected})");
            }
        }
    }
}

#[test]
fn plain_sigstore_rs_keys_load() {
    let Some((dir, _)) = cases() else { return };
    for (private, public) in [
        ("sigstore-rs/ECDSA_P256_ASN1_PRIVATE_PEM.key", None::<&str>),
        ("sigstore-rs/ECDSA_P256_ASN1_PRIVATE_DER.key", None),
        ("sigstore-rs/ecdsa_private.key", None),
        ("sigstore-rs/ed25519_private.key", None),
        ("sigstore-rs/rsa_private.key", None),
    ] {
        let key = parse_private_key(&std::fs::read(dir.join(private)).unwrap(), None)
            .unwrap_or_else(|e| panic!("{private}: {e}"));
        if let Some(p) = public {
            let want = PublicKey::from_pem(&std::fs::read_to_string(dir.join(p)).unwrap()).unwrap();
            assert!(key.public_key() == want, "{private}");
        }
    }
}
