//! Replays every committed fuzz finding (`fuzz/regressions/<target>/*`) through the same harness
//! the libFuzzer targets run (`fuzz/harness.rs`), on stable, with its invariants. A file added
//! there after a fix keeps the fix. `FUZZ_REPLAY_DIR=fuzz/corpus` replays another tree of the
//! same layout instead (a whole corpus, without nightly).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code

#[path = "../fuzz/harness.rs"]
mod harness;

use std::fs;
use std::path::Path;

fn regressions(target: &str) -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = match std::env::var_os("FUZZ_REPLAY_DIR") {
        Some(d) => root.join(d),
        None => root.join("fuzz/regressions"),
    }
    .join(target);
    let Ok(entries) = fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, fs::read(&p).unwrap())
        })
        .collect()
}

fn replay(target: &str) {
    let (_, run) = harness::TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .unwrap();
    let files = regressions(target);
    let failed: Vec<&str> = files
        .iter()
        .filter(|(_, data)| std::panic::catch_unwind(|| run(data)).is_err())
        .map(|(name, _)| name.as_str())
        .collect();
    assert!(
        failed.is_empty(),
        "{target}: {failed:?} fail (their panics are printed above)"
    );
    println!("{target}: {} inputs replayed", files.len());
}

#[test]
fn token() {
    replay("token");
}

#[test]
fn jwks() {
    replay("jwks");
}

#[test]
fn x509() {
    replay("x509");
}

#[test]
fn discovery() {
    replay("discovery");
}

#[test]
fn config() {
    replay("config");
}

#[test]
fn claim_headers() {
    replay("claim_headers");
}

#[test]
fn matchers() {
    replay("matchers");
}

/// Every target directory under fuzz/regressions names a target, so no file is silently skipped.
#[test]
fn no_unknown_target_directories() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    for entry in fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        if !entry.path().is_dir() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        assert!(
            harness::TARGETS.iter().any(|(t, _)| *t == name),
            "fuzz/regressions/{name} is not a fuzz target"
        );
    }
}

/// The harness's own SHA-256 and HMAC (used to sign fuzzed tokens) against published vectors.
#[test]
fn harness_hmac_sha256_vectors() {
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    assert_eq!(
        hex(&harness::sha256(b"abc")),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(
        hex(&harness::sha256(&[b'a'; 1000])),
        "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3"
    );
    // RFC 4231 test cases 2 and 6 (a key longer than the block).
    assert_eq!(
        hex(&harness::hmac_sha256(
            b"Jefe",
            b"what do ya want for nothing?"
        )),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    assert_eq!(
        hex(&harness::hmac_sha256(
            &[0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First"
        )),
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
    );
}
