//! The source tree's layers (src/lib.rs, docs/architecture.md): a module may use its own layer
//! and the ones below it, never one above. Each top-level folder of `src/` (or file, for
//! `error.rs`) is a layer; this test reads every `.rs` file under `src/` and fails on any
//! `crate::<layer>` path that reaches upward, so an import cycle between layers cannot come back.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fs;
use std::path::{Path, PathBuf};

/// The layers, lowest first.
const LAYERS: &[&str] = &[
    "error", "crypto", "token", "keys", "request", "authn", "config", "filter",
];

fn rank(layer: &str) -> Option<usize> {
    LAYERS.iter().position(|l| *l == layer)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The first segment of every `crate::…` path in `text`, with `use crate::{a, b::c}` groups
/// expanded, and the line it is on.
fn crate_paths(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (at, _) in text.match_indices("crate::") {
        // `jwt_authn_crate::` or `$crate::` are not paths of this crate.
        let before = text[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        let line = text[..at].matches('\n').count() + 1;
        let rest = &text[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // The group up to its closing brace, then its top-level items.
            let body: String = {
                let mut depth = 0;
                group
                    .chars()
                    .take_while(|c| match c {
                        '{' => {
                            depth += 1;
                            true
                        }
                        '}' if depth == 0 => false,
                        '}' => {
                            depth -= 1;
                            true
                        }
                        _ => true,
                    })
                    .collect()
            };
            let mut depth = 0;
            let mut item = String::new();
            for c in body.chars().chain(std::iter::once(',')) {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        let name: String = item
                            .trim()
                            .chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect();
                        if !name.is_empty() {
                            found.push((line, name));
                        }
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                if depth == 0 {
                    item.push(c);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            found.push((line, name));
        }
    }
    found
}

#[test]
fn no_module_uses_a_layer_above_its_own() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut checked = 0;
    let mut upward = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let first = relative.components().next().unwrap().as_os_str().to_string_lossy();
        let layer = first.trim_end_matches(".rs").to_string();
        if layer == "lib" {
            continue;
        }
        let own = rank(&layer).unwrap_or_else(|| {
            panic!(
                "src/{} is in no layer: add `{layer}` to LAYERS in tests/layers.rs \
                 (and to src/lib.rs and docs/architecture.md)",
                relative.display()
            )
        });
        let text = fs::read_to_string(file).unwrap();
        for (line, name) in crate_paths(&text) {
            checked += 1;
            let Some(used) = rank(&name) else {
                upward.push(format!(
                    "src/{}:{line}: crate::{name} is not a layer",
                    relative.display()
                ));
                continue;
            };
            if used > own {
                upward.push(format!(
                    "src/{}:{line}: {layer} uses crate::{name}, a layer above it",
                    relative.display()
                ));
            }
        }
    }
    assert!(checked > 50, "only {checked} crate paths found: is the scan broken?");
    assert!(
        upward.is_empty(),
        "layers, lowest first: {LAYERS:?}\n{}",
        upward.join("\n")
    );
}

#[test]
fn the_scan_sees_grouped_and_plain_paths() {
    let text = "use crate::a::X;\nuse crate::{b::{Y, Z}, c};\nlet _ = crate::d::f();\n$crate::e";
    let names: Vec<String> = crate_paths(text).into_iter().map(|(_, n)| n).collect();
    assert_eq!(names, ["a", "b", "c", "d"]);
}
