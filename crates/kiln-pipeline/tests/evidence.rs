//! The encrypted evidence store: round trips in a local directory and in S3 (moto,
//! KILN_TEST_MOTO) with a local key and with AWS KMS (moto); the ciphertext at rest holds
//! no plaintext; altered ciphertexts, headers and keys, and objects moved between runs or
//! names, are refused.

use std::path::Path;

use kiln_pipeline::evidence::{EvidenceError, EvidenceStore, Header, StoreOptions, WrapKey};
use kiln_sign::keys::kms::{KmsOptions, KmsRef};

const RUN_A: &str = "0190a000-0000-7000-8000-00000000000a";
const RUN_B: &str = "0190a000-0000-7000-8000-00000000000b";
const SPDX: &str = "application/spdx+json";

/// A recognisable plaintext: an SBOM naming a package.
fn sbom() -> Vec<u8> {
    let mut s = String::from(r#"{"spdxVersion":"SPDX-2.3","packages":["#);
    for i in 0..200 {
        s.push_str(&format!(
            r#"{{"name":"very-distinctive-package-{i}","versionInfo":"1.{i}"}},"#
        ));
    }
    s.push_str(r#"{"name":"last"}]}"#);
    s.into_bytes()
}

fn moto() -> Option<String> {
    match std::env::var("KILN_TEST_MOTO") {
        Ok(url) => Some(url),
        Err(_) => {
            if kiln_testutil::services_required() {
                panic!("KILN_TEST_MOTO is required (KILN_REQUIRE_SERVICES=1) but missing");
            }
            eprintln!("skipping: KILN_TEST_MOTO is missing (run scripts/test)");
            None
        }
    }
}

fn moto_options(moto: &str) -> StoreOptions {
    StoreOptions {
        endpoint_url: Some(moto.to_string()),
        region: Some("us-east-1".into()),
        credentials: Some(("testing".into(), "testing".into())),
    }
}

/// Creates a bucket in moto with a plain S3 CreateBucket (moto does not check signatures).
fn create_bucket(moto: &str, bucket: &str) {
    use std::io::{Read, Write};
    let host = moto.trim_start_matches("http://").trim_end_matches('/');
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(
        s,
        "PUT /{bucket} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "CreateBucket: {resp}");
}

/// A fresh symmetric KMS key in moto; its awskms:/// URI.
async fn create_kms_key(moto: &str) -> String {
    let opts = KmsOptions {
        endpoint_url: Some(moto.to_string()),
        region: Some("us-east-1".into()),
        credentials: Some(("testing".into(), "testing".into())),
    };
    let client =
        kiln_sign::keys::kms::client(&KmsRef::parse("awskms:///placeholder").unwrap(), &opts).await;
    let key = client
        .create_key()
        .key_spec(aws_sdk_kms::types::KeySpec::SymmetricDefault)
        .key_usage(aws_sdk_kms::types::KeyUsageType::EncryptDecrypt)
        .send()
        .await
        .unwrap();
    format!("awskms:///{}", key.key_metadata().unwrap().key_id())
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// A change made to a stored header.
type HeaderEdit = Box<dyn Fn(&mut Header)>;

fn read_header(path: &Path) -> Header {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn write_header(path: &Path, h: &Header) {
    std::fs::write(path, serde_json::to_vec(h).unwrap()).unwrap();
}

#[tokio::test]
async fn local_round_trip_and_at_rest() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("evidence");
    let key_path = dir.path().join("keys/evidence.key");
    let store = EvidenceStore::open(root.to_str().unwrap(), WrapKey::LocalFile(key_path.clone()))
        .await
        .unwrap();
    // The key was created, 32 bytes, 0600.
    assert_eq!(std::fs::read(&key_path).unwrap().len(), 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&key_path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    let data = sbom();
    let r = store
        .put(RUN_A, "sbom.spdx.json", SPDX, &data)
        .await
        .unwrap();
    assert_eq!(r.size, data.len() as u64);
    assert_eq!(r.wrapping, "local-aes256gcm");
    assert!(r.key_id.starts_with("local:"), "{}", r.key_id);
    assert!(
        r.location
            .ends_with(&format!("/{RUN_A}/sbom.spdx.json.enc")),
        "{}",
        r.location
    );
    store
        .put(RUN_A, "scan.json", "application/json", b"{}")
        .await
        .unwrap();
    store.put(RUN_A, "empty", "text/plain", b"").await.unwrap();

    assert_eq!(store.get(RUN_A, "sbom.spdx.json").await.unwrap(), data);
    assert_eq!(store.get(RUN_A, "empty").await.unwrap(), b"");
    let listed = store.list(RUN_A).await.unwrap();
    assert_eq!(
        listed.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
        ["empty", "sbom.spdx.json", "scan.json"]
    );
    assert_eq!(listed[1], r);
    assert!(store.list(RUN_B).await.unwrap().is_empty());

    // At rest: the ciphertext and the header hold none of the plaintext.
    let enc = std::fs::read(root.join(RUN_A).join("sbom.spdx.json.enc")).unwrap();
    let header_bytes = std::fs::read(root.join(RUN_A).join("sbom.spdx.json.json")).unwrap();
    assert_eq!(enc.len(), data.len() + 16);
    assert_eq!(store.get_raw(RUN_A, "sbom.spdx.json").await.unwrap(), enc);
    for needle in [&b"very-distinctive-package"[..], b"SPDX-2.3", &data[..32]] {
        assert!(!contains(&enc, needle) && !contains(&header_bytes, needle));
    }
    let header = read_header(&root.join(RUN_A).join("sbom.spdx.json.json"));
    assert_eq!((header.version, header.alg.as_str()), (1, "AES-256-GCM"));
    assert_eq!(header.wrapping, "local-aes256gcm");
    assert_eq!(header.sha256, r.sha256);

    // Evidence is written once.
    let again = store.put(RUN_A, "sbom.spdx.json", SPDX, b"other").await;
    assert!(
        matches!(again, Err(EvidenceError::Exists { .. })),
        "{again:?}"
    );
    assert_eq!(store.get(RUN_A, "sbom.spdx.json").await.unwrap(), data);

    // Missing objects and bad names.
    assert!(matches!(
        store.get(RUN_A, "nope").await,
        Err(EvidenceError::NotFound { .. })
    ));
    for (run, name) in [
        (RUN_A, "../escape"),
        ("../x", "a"),
        (RUN_A, ".hidden"),
        (RUN_A, "a/b"),
        ("", "a"),
    ] {
        let e = store.put(run, name, "text/plain", b"x").await;
        assert!(
            matches!(e, Err(EvidenceError::BadName { .. })),
            "{run}/{name}: {e:?}"
        );
    }
    assert!(!dir.path().join("escape.enc").exists() && !root.join("escape.enc").exists());

    // The same key file opened again reads everything back.
    let reopened = EvidenceStore::open(
        &format!("file://{}", root.display()),
        WrapKey::LocalFile(key_path.clone()),
    )
    .await
    .unwrap();
    assert_eq!(reopened.get(RUN_A, "scan.json").await.unwrap(), b"{}");

    // Another key: refused, naming both keys.
    let other = EvidenceStore::open(
        root.to_str().unwrap(),
        WrapKey::LocalFile(dir.path().join("other.key")),
    )
    .await
    .unwrap();
    let e = other.get(RUN_A, "sbom.spdx.json").await.err().unwrap();
    assert!(matches!(e, EvidenceError::WrongKey { .. }), "{e}");

    // Without a key: listing and raw reads only.
    let unkeyed = EvidenceStore::open_unkeyed(root.to_str().unwrap())
        .await
        .unwrap();
    assert_eq!(unkeyed.list(RUN_A).await.unwrap().len(), 3);
    assert_eq!(unkeyed.get_raw(RUN_A, "sbom.spdx.json").await.unwrap(), enc);
    assert!(matches!(
        unkeyed.get(RUN_A, "scan.json").await,
        Err(EvidenceError::NoKey(_))
    ));
    assert!(matches!(
        unkeyed.put(RUN_A, "x", "text/plain", b"x").await,
        Err(EvidenceError::NoKey(_))
    ));
}

#[tokio::test]
async fn tampering_and_swapping_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ev");
    let store = EvidenceStore::open(
        root.to_str().unwrap(),
        WrapKey::LocalFile(dir.path().join("k")),
    )
    .await
    .unwrap();
    let data = sbom();
    for run in [RUN_A, RUN_B] {
        store.put(run, "sbom.spdx.json", SPDX, &data).await.unwrap();
        store
            .put(run, "scan.json", "application/json", b"{\"findings\":[]}")
            .await
            .unwrap();
    }
    let enc = root.join(RUN_A).join("sbom.spdx.json.enc");
    let hdr = root.join(RUN_A).join("sbom.spdx.json.json");
    let orig_enc = std::fs::read(&enc).unwrap();
    let orig_hdr = read_header(&hdr);
    let decrypt_refused = |r: Result<Vec<u8>, EvidenceError>| {
        assert!(matches!(r, Err(EvidenceError::Decrypt { .. })), "{r:?}");
    };

    // One flipped bit anywhere in the ciphertext or tag; a truncated ciphertext.
    for i in [0, orig_enc.len() / 2, orig_enc.len() - 1] {
        let mut bad = orig_enc.clone();
        bad[i] ^= 0x01;
        std::fs::write(&enc, &bad).unwrap();
        decrypt_refused(store.get(RUN_A, "sbom.spdx.json").await);
    }
    std::fs::write(&enc, &orig_enc[..orig_enc.len() - 1]).unwrap();
    decrypt_refused(store.get(RUN_A, "sbom.spdx.json").await);
    std::fs::write(&enc, &orig_enc).unwrap();
    assert_eq!(store.get(RUN_A, "sbom.spdx.json").await.unwrap(), data);

    // Header fields altered one at a time.
    let edits: Vec<(&str, HeaderEdit)> = vec![
        (
            "media_type",
            Box::new(|h| h.media_type = "text/plain".into()),
        ),
        ("sha256", Box::new(|h| h.sha256 = "00".repeat(32))),
        ("size", Box::new(|h| h.size += 1)),
        ("nonce", Box::new(|h| h.nonce = "AAAAAAAAAAAAAAAA".into())),
        (
            "wrap_nonce",
            Box::new(|h| h.wrap_nonce = Some("AAAAAAAAAAAAAAAA".into())),
        ),
        (
            "wrapped_key",
            Box::new(|h| {
                let mut k = h.wrapped_key.clone().into_bytes();
                k[5] = if k[5] == b'A' { b'B' } else { b'A' };
                h.wrapped_key = String::from_utf8(k).unwrap();
            }),
        ),
    ];
    for (field, edit) in edits {
        let mut h = orig_hdr.clone();
        edit(&mut h);
        write_header(&hdr, &h);
        let r = store.get(RUN_A, "sbom.spdx.json").await;
        assert!(
            matches!(r, Err(EvidenceError::Decrypt { .. })),
            "{field}: {r:?}"
        );
    }
    let mut h = orig_hdr.clone();
    h.key_id = "local:ffffffffffffffff".into();
    write_header(&hdr, &h);
    assert!(matches!(
        store.get(RUN_A, "sbom.spdx.json").await,
        Err(EvidenceError::WrongKey { .. })
    ));
    std::fs::write(&hdr, b"{not json").unwrap();
    assert!(matches!(
        store.get(RUN_A, "sbom.spdx.json").await,
        Err(EvidenceError::BadHeader { .. })
    ));
    write_header(&hdr, &orig_hdr);
    assert_eq!(store.get(RUN_A, "sbom.spdx.json").await.unwrap(), data);

    // Objects moved: run A's scan over run B's, whole (header says where it belongs)...
    let a = root.join(RUN_A);
    let b = root.join(RUN_B);
    std::fs::copy(a.join("scan.json.enc"), b.join("scan.json.enc")).unwrap();
    std::fs::copy(a.join("scan.json.json"), b.join("scan.json.json")).unwrap();
    let r = store.get(RUN_B, "scan.json").await;
    assert!(matches!(r, Err(EvidenceError::BadHeader { .. })), "{r:?}");
    // ...with its header relabelled to run B (the associated data still says run A)...
    let mut moved = read_header(&b.join("scan.json.json"));
    moved.run_id = RUN_B.into();
    write_header(&b.join("scan.json.json"), &moved);
    decrypt_refused(store.get(RUN_B, "scan.json").await);
    // ...and to another name within the run.
    std::fs::copy(a.join("scan.json.enc"), a.join("renamed.enc")).unwrap();
    let mut renamed = read_header(&a.join("scan.json.json"));
    renamed.name = "renamed".into();
    write_header(&a.join("renamed.json"), &renamed);
    decrypt_refused(store.get(RUN_A, "renamed").await);
    // Only the ciphertext swapped in under another object's header.
    std::fs::copy(a.join("sbom.spdx.json.enc"), b.join("sbom.spdx.json.enc")).unwrap();
    decrypt_refused(store.get(RUN_B, "sbom.spdx.json").await);
    // The untouched object still decrypts.
    assert_eq!(
        store.get(RUN_A, "scan.json").await.unwrap(),
        b"{\"findings\":[]}"
    );
}

#[tokio::test]
async fn s3_round_trip_with_local_key() {
    let Some(moto) = moto() else { return };
    let bucket = format!("kiln-evidence-{}", uuid::Uuid::now_v7().simple());
    create_bucket(&moto, &bucket);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("s3://{bucket}/factory/evidence");
    let store = EvidenceStore::open_with(
        &url,
        Some(WrapKey::LocalFile(dir.path().join("evidence.key"))),
        &moto_options(&moto),
    )
    .await
    .unwrap();
    let data = sbom();
    let r = store
        .put(RUN_A, "sbom.spdx.json", SPDX, &data)
        .await
        .unwrap();
    assert_eq!(r.location, format!("{url}/{RUN_A}/sbom.spdx.json.enc"));
    store
        .put(
            RUN_A,
            "provenance.json",
            "application/vnd.in-toto+json",
            b"{\"_type\":\"x\"}",
        )
        .await
        .unwrap();
    assert_eq!(store.get(RUN_A, "sbom.spdx.json").await.unwrap(), data);
    let raw = store.get_raw(RUN_A, "sbom.spdx.json").await.unwrap();
    assert_eq!(raw.len(), data.len() + 16);
    assert!(!contains(&raw, b"very-distinctive-package"));
    let names: Vec<_> = store
        .list(RUN_A)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["provenance.json", "sbom.spdx.json"]);
    assert!(matches!(
        store.put(RUN_A, "sbom.spdx.json", SPDX, b"x").await,
        Err(EvidenceError::Exists { .. })
    ));
    assert!(matches!(
        store.get(RUN_B, "sbom.spdx.json").await,
        Err(EvidenceError::NotFound { .. })
    ));
}

#[tokio::test]
async fn s3_round_trip_with_kms() {
    let Some(moto) = moto() else { return };
    let bucket = format!("kiln-kms-{}", uuid::Uuid::now_v7().simple());
    create_bucket(&moto, &bucket);
    let key = create_kms_key(&moto).await;
    let opts = moto_options(&moto);
    let url = format!("s3://{bucket}");
    let store = EvidenceStore::open_with(
        &url,
        Some(WrapKey::AwsKms {
            key_id: key.clone(),
        }),
        &opts,
    )
    .await
    .unwrap();
    let data = sbom();
    let r = store
        .put(RUN_A, "sbom.spdx.json", SPDX, &data)
        .await
        .unwrap();
    assert_eq!(r.wrapping, "aws-kms");
    assert!(
        r.key_id.contains(key.trim_start_matches("awskms:///")),
        "{} vs {key}",
        r.key_id
    );
    store
        .put(RUN_A, "scan.json", "application/json", b"{}")
        .await
        .unwrap();
    assert_eq!(store.get(RUN_A, "sbom.spdx.json").await.unwrap(), data);
    let header = store.header(RUN_A, "sbom.spdx.json").await.unwrap();
    assert_eq!(header.wrap_nonce, None);
    assert!(!contains(
        &store.get_raw(RUN_A, "sbom.spdx.json").await.unwrap(),
        b"very-distinctive-package"
    ));

    // A KMS-wrapped data key moved to another object is refused by KMS (its encryption
    // context names run A's SBOM). Headers are edited in a local-directory store with
    // the same KMS key.
    let local = tempfile::tempdir().unwrap();
    let mirror = EvidenceStore::open_with(
        local.path().to_str().unwrap(),
        Some(WrapKey::AwsKms {
            key_id: key.clone(),
        }),
        &opts,
    )
    .await
    .unwrap();
    mirror
        .put(RUN_B, "scan.json", "application/json", b"{}")
        .await
        .unwrap();
    let hdr = local.path().join(RUN_B).join("scan.json.json");
    let mut h = read_header(&hdr);
    h.wrapped_key = header.wrapped_key.clone(); // the SBOM's data key, bound to run A
    write_header(&hdr, &h);
    let r = mirror.get(RUN_B, "scan.json").await;
    assert!(matches!(r, Err(EvidenceError::Decrypt { .. })), "{r:?}");

    // A local key cannot open KMS-wrapped objects.
    let wrong = EvidenceStore::open_with(
        &url,
        Some(WrapKey::LocalFile(local.path().join("local.key"))),
        &opts,
    )
    .await
    .unwrap();
    assert!(matches!(
        wrong.get(RUN_A, "scan.json").await,
        Err(EvidenceError::WrongKey { .. })
    ));

    // KMS unreachable: a clear key error, nothing written.
    let down = StoreOptions {
        endpoint_url: Some("http://127.0.0.1:1".into()),
        ..opts.clone()
    };
    let offline = EvidenceStore::open_with(
        local.path().join("offline").to_str().unwrap(),
        Some(WrapKey::AwsKms {
            key_id: key.clone(),
        }),
        &down,
    )
    .await
    .unwrap();
    let e = offline
        .put(RUN_A, "x", "text/plain", b"secret-ish")
        .await
        .err()
        .unwrap();
    assert!(matches!(e, EvidenceError::Key { .. }), "{e}");
    assert!(offline.list(RUN_A).await.unwrap().is_empty());
}
