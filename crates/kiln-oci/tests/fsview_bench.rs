//! Benchmark driver for the image filesystem view, run by `bench/fsview.sh` (ignored in
//! the normal test run; it asserts nothing about time). It reads the image named by
//! `KILN_FSVIEW_BENCH_LAYOUT` and `KILN_FSVIEW_BENCH_TAG` and runs the pass named by
//! `KILN_FSVIEW_BENCH_MODE`: `index` (build the view), `files` (read every file of the
//! merged tree), `few` (read 3 files through `visit_files`), `layers` (read every file of
//! every layer). Prints one line: mode, entries, files, bytes read, seconds.

use std::io::Read;
use std::time::Instant;

use kiln_oci::OciLayout;
use kiln_oci::fsview::{FsError, FsView, Limits};

fn drain(r: &mut dyn Read, bytes: &mut u64) -> Result<(), FsError> {
    let mut buf = [0u8; 64 * 1024];
    loop {
        match r.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => *bytes += n as u64,
            Err(e) => panic!("read: {e}"),
        }
    }
}

#[test]
#[ignore = "benchmark driver, run by bench/fsview.sh"]
fn fsview_bench() {
    let (Ok(layout), Ok(tag), Ok(mode)) = (
        std::env::var("KILN_FSVIEW_BENCH_LAYOUT"),
        std::env::var("KILN_FSVIEW_BENCH_TAG"),
        std::env::var("KILN_FSVIEW_BENCH_MODE"),
    ) else {
        eprintln!("skipping: KILN_FSVIEW_BENCH_LAYOUT/TAG/MODE not set");
        return;
    };
    let start = Instant::now();
    let layout = OciLayout::open(&layout).unwrap();
    let manifest = layout.resolve_sync(&tag).unwrap();
    let view =
        FsView::from_layout(&layout, manifest.as_image().unwrap(), Limits::default()).unwrap();
    let (mut files, mut bytes) = (0u64, 0u64);
    match mode.as_str() {
        "index" => {}
        "files" => view
            .visit_files(
                |_| true,
                |_, r| {
                    files += 1;
                    drain(r, &mut bytes)
                },
            )
            .unwrap(),
        "few" => {
            let wanted: Vec<String> = view
                .files()
                .step_by(997)
                .take(3)
                .map(|e| e.path.clone())
                .collect();
            view.visit_files(
                |e| wanted.contains(&e.path),
                |_, r| {
                    files += 1;
                    drain(r, &mut bytes)
                },
            )
            .unwrap()
        }
        "layers" => view
            .visit_layer_files(
                |_| true,
                |_, r| {
                    files += 1;
                    drain(r, &mut bytes)
                },
            )
            .unwrap(),
        other => panic!("unknown mode {other}"),
    }
    println!(
        "fsview-bench mode={mode} entries={} files={files} bytes={bytes} seconds={:.3}",
        view.len(),
        start.elapsed().as_secs_f64()
    );
}
