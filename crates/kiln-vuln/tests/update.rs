//! `download` against a local HTTP server laid out like osv.dev's bucket
//! (`/<Ecosystem>/all.zip`), then import: what is served is imported, a missing ecosystem
//! and a truncated zip are reported by URL, and the database serves lookups.

use std::io::{Cursor, Read, Write};
use std::net::TcpListener;

use kiln_vuln::db::Database;
use kiln_vuln::import::{Loaded, download};

fn zip_of(files: &[(&str, String)]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (n, c) in files {
        w.start_file(*n, zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(c.as_bytes()).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// Serves `routes` (path -> body) over HTTP/1.1 until the test ends; unknown paths get 404.
fn serve(routes: Vec<(String, Vec<u8>)>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 4096];
            let mut req = Vec::new();
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let line = String::from_utf8_lossy(&req)
                .lines()
                .next()
                .unwrap_or("")
                .to_string();
            let path = line.split(' ').nth(1).unwrap_or("").to_string();
            let (status, body) = match routes.iter().find(|(p, _)| *p == path) {
                Some((_, b)) => ("200 OK", b.clone()),
                None => ("404 Not Found", b"not found".to_vec()),
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(&body);
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn update_from_a_bucket_layout() {
    let npm = zip_of(&[(
        "GHSA-test-0001.json",
        r#"{"id":"GHSA-test-0001","modified":"2025-01-02T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"left-pad"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.3.0"}]}]}]}"#.to_string(),
    )]);
    let rh = zip_of(&[(
        "RHSA-1.json",
        r#"{"id":"RHSA-1","modified":"2025-01-03T00:00:00Z","affected":[{"package":{"ecosystem":"Red Hat:enterprise_linux:9::appstream","name":"curl"}}]}"#.to_string(),
    )]);
    let cut = zip_of(&[("X.json", "{\"id\":\"X\"}".to_string())]);
    let base = serve(vec![
        ("/npm/all.zip".into(), npm),
        ("/Red%20Hat/all.zip".into(), rh),
        ("/PyPI/all.zip".into(), cut[..cut.len() - 10].to_vec()),
    ]);
    let mut loaded = Loaded::default();
    let ecos: Vec<String> = ["npm", "Red Hat", "PyPI", "Go"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    download(&base, &ecos, &mut loaded).await;
    assert_eq!(loaded.records.len(), 2, "{:?}", loaded.errors);
    assert_eq!(loaded.errors.len(), 2, "{:?}", loaded.errors);
    assert!(
        loaded
            .errors
            .iter()
            .any(|e| e.contains("/PyPI/all.zip") && e.contains("truncated")),
        "{:?}",
        loaded.errors
    );
    assert!(
        loaded
            .errors
            .iter()
            .any(|e| e.contains("/Go/all.zip") && e.contains("404")),
        "{:?}",
        loaded.errors
    );
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open_or_create(&dir.path().join("v.db")).unwrap();
    let report = db.import(loaded.records).unwrap();
    assert_eq!(report.imported, 2);
    let r = db.reader().unwrap();
    assert_eq!(r.lookup("npm", "left-pad").unwrap()[0].id, "GHSA-test-0001");
    assert_eq!(r.lookup("Red Hat", "curl").unwrap()[0].id, "RHSA-1");
    drop(r);
    assert_eq!(
        db.status().unwrap().data_modified.as_deref(),
        Some("2025-01-03T00:00:00Z")
    );
}
