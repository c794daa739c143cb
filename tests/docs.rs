#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code
//! The documentation's links hold: every relative link in README.md, BENCHMARKS.md and
//! docs/**/*.md names a file or folder of the repository, and every `#anchor` names a heading of
//! its target (GitHub's rule: lowercase, spaces to `-`, punctuation dropped, a repeated heading
//! gets `-1`, `-2`, ...). Links inside code blocks and code spans are not links and are skipped;
//! so are absolute URLs.

use std::collections::HashMap;
use std::fs;
use std::path::{Component, Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// README.md, BENCHMARKS.md and every `.md` under docs/, as paths relative to the repository.
fn documents(root: &Path) -> Vec<PathBuf> {
    let mut out = vec![PathBuf::from("README.md"), PathBuf::from("BENCHMARKS.md")];
    let mut stack = vec![PathBuf::from("docs")];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(root.join(&dir)).unwrap() {
            let name = entry.unwrap().file_name();
            let rel = dir.join(&name);
            if root.join(&rel).is_dir() {
                stack.push(rel);
            } else if rel.extension().is_some_and(|e| e == "md") {
                out.push(rel);
            }
        }
    }
    out.sort();
    out
}

/// The lines of a Markdown text outside fenced code blocks, with code spans removed.
fn prose_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut fence = false;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fence = !fence;
            continue;
        }
        if fence {
            continue;
        }
        out.push((i + 1, strip_code_spans(line)));
    }
    out
}

fn strip_code_spans(line: &str) -> String {
    let mut out = String::new();
    let mut in_code = false;
    for c in line.chars() {
        if c == '`' {
            in_code = !in_code;
        } else if !in_code {
            out.push(c);
        }
    }
    out
}

/// The link targets of one line: inline links `[text](target)` and reference definitions
/// `[label]: target`.
fn link_targets(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let trimmed = line.trim_start();
    if trimmed.starts_with('[') {
        if let Some(close) = trimmed.find("]:") {
            if let Some(target) = trimmed[close + 2..].split_whitespace().next() {
                out.push(target.to_string());
            }
        }
    }
    let mut rest = line;
    while let Some(at) = rest.find("](") {
        let after = &rest[at + 2..];
        let mut depth = 0usize;
        let mut end = after.len();
        for (i, c) in after.char_indices() {
            match c {
                '(' => depth += 1,
                ')' if depth == 0 => {
                    end = i;
                    break;
                }
                ')' => depth -= 1,
                _ => {}
            }
        }
        // `[text](target "title")`: the title is not part of the target.
        let target = after[..end].split_whitespace().next().unwrap_or("");
        out.push(
            target
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string(),
        );
        rest = &after[end.min(after.len())..];
    }
    out
}

/// GitHub's anchor for a heading text.
fn slug(heading: &str) -> String {
    let mut out = String::new();
    for c in heading.trim().chars() {
        if c.is_alphanumeric() || c == '-' || c == '_' {
            out.extend(c.to_lowercase());
        } else if c == ' ' {
            out.push('-');
        }
    }
    out
}

/// Every anchor a Markdown text defines: its headings (repeats numbered as GitHub numbers them)
/// and explicit `<a name="...">` / `id="..."` anchors.
fn anchors(text: &str) -> Vec<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::new();
    let mut fence = false;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fence = !fence;
            continue;
        }
        if fence {
            continue;
        }
        let hashes = trimmed.chars().take_while(|&c| c == '#').count();
        if (1..=6).contains(&hashes) && trimmed[hashes..].starts_with(' ') {
            // A link in a heading counts by its text.
            let text = trimmed[hashes..].trim().trim_end_matches('#');
            let text = text.replace("](", "]\u{0}(");
            let text: String = text
                .split('\u{0}')
                .enumerate()
                .map(|(i, part)| {
                    if i == 0 {
                        part.to_string()
                    } else {
                        part.find(')').map_or(part, |e| &part[e + 1..]).to_string()
                    }
                })
                .collect();
            let base = slug(&text);
            let n = seen.entry(base.clone()).or_insert(0);
            out.push(if *n == 0 {
                base.clone()
            } else {
                format!("{base}-{n}")
            });
            *n += 1;
        }
        for key in ["name=\"", "id=\""] {
            let mut rest = line;
            while let Some(at) = rest.find(key) {
                let after = &rest[at + key.len()..];
                let end = after.find('"').unwrap_or(after.len());
                out.push(after[..end].to_string());
                rest = &after[end..];
            }
        }
    }
    out
}

/// `a/b/../c` → `a/c`, without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[derive(Debug, Default)]
struct Report {
    broken: Vec<String>,
    checked: usize,
}

/// Checks the links of `docs` (relative to `root`).
fn check(root: &Path, docs: &[PathBuf]) -> Report {
    let mut report = Report::default();
    let mut anchor_cache: HashMap<PathBuf, Vec<String>> = HashMap::new();
    for doc in docs {
        let text = fs::read_to_string(root.join(doc)).unwrap();
        let dir = doc.parent().unwrap_or(Path::new(""));
        for (line_no, line) in prose_lines(&text) {
            for target in link_targets(&line) {
                if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
                    continue;
                }
                report.checked += 1;
                let (path, anchor) = match target.split_once('#') {
                    Some((p, a)) => (p, Some(a)),
                    None => (target.as_str(), None),
                };
                let resolved = if path.is_empty() {
                    doc.clone()
                } else {
                    normalize(&dir.join(path))
                };
                let at = format!("{}:{line_no}: {target}", doc.display());
                if !root.join(&resolved).exists() {
                    report.broken.push(format!("{at}: no such file"));
                    continue;
                }
                let Some(anchor) = anchor else { continue };
                if resolved.extension().is_none_or(|e| e != "md") {
                    continue;
                }
                let known = anchor_cache
                    .entry(resolved.clone())
                    .or_insert_with(|| anchors(&fs::read_to_string(root.join(&resolved)).unwrap()));
                if !known.iter().any(|a| a == anchor) {
                    report.broken.push(format!(
                        "{at}: no heading #{anchor} in {}",
                        resolved.display()
                    ));
                }
            }
        }
    }
    report
}

#[test]
fn every_relative_link_and_anchor_resolves() {
    let root = root();
    let docs = documents(&root);
    assert!(docs.len() >= 10, "found only {docs:?}");
    let report = check(&root, &docs);
    assert!(
        report.checked > 100,
        "only {} links checked",
        report.checked
    );
    assert!(
        report.broken.is_empty(),
        "broken links:\n{}",
        report.broken.join("\n")
    );
}

#[test]
fn slugs_follow_github() {
    assert_eq!(slug("Two commands"), "two-commands");
    assert_eq!(
        slug("One header instead of the whole map (`HeaderFetch::One`)"),
        "one-header-instead-of-the-whole-map-headerfetchone"
    );
    assert_eq!(
        slug("RS256 on fused multiply-add (2026-12-06, later)"),
        "rs256-on-fused-multiply-add-2026-12-06-later"
    );
    assert_eq!(
        slug("Differences from native `jwt_authn`"),
        "differences-from-native-jwt_authn"
    );
    assert_eq!(
        slug("Microsoft Entra ID (Azure AD)"),
        "microsoft-entra-id-azure-ad"
    );
    assert_eq!(
        anchors("# A\n```\n# not a heading\n```\n## A\n### B: c\n"),
        ["a", "a-1", "b-c"]
    );
}

#[test]
fn links_are_found_where_markdown_has_them() {
    assert_eq!(
        link_targets("see [a](x.md#y) and [`b`](../c/d.md \"t\"), not (e)"),
        ["x.md#y", "../c/d.md"]
    );
    assert_eq!(link_targets("[ref]: docs/x.md#z"), ["docs/x.md#z"]);
    let lines = prose_lines("a [x](one.md)\n```\n[y](two.md)\n```\n`[z](three.md)` [w](four.md)\n");
    let targets: Vec<String> = lines.iter().flat_map(|(_, l)| link_targets(l)).collect();
    assert_eq!(targets, ["one.md", "four.md"]);
}

#[test]
fn a_broken_link_or_anchor_is_reported() {
    let dir = std::env::temp_dir().join(format!("jwt-authn-docs-test-{}", std::process::id()));
    fs::create_dir_all(dir.join("docs")).unwrap();
    fs::create_dir_all(dir.join("src/crypto")).unwrap();
    fs::write(dir.join("src/crypto/mod.rs"), "").unwrap();
    fs::write(dir.join("docs/a.md"), "# Page A\n## Part one\n").unwrap();
    fs::write(
        dir.join("README.md"),
        "[ok](docs/a.md#part-one) [self](#top) [bad](docs/a.md#part-two) [gone](docs/b.md) \
         [code](src/crypto/mod.rs) [old](src/jwt.rs)\n# Top\n",
    )
    .unwrap();
    let docs = [PathBuf::from("README.md"), PathBuf::from("docs/a.md")];
    let report = check(&dir, &docs);
    fs::remove_dir_all(&dir).unwrap();
    assert_eq!(report.checked, 6);
    assert_eq!(report.broken.len(), 3, "{:?}", report.broken);
    assert!(report.broken[0].contains("no heading #part-two"));
    assert!(report.broken[1].contains("docs/b.md: no such file"));
    assert!(report.broken[2].contains("src/jwt.rs: no such file"));
}
