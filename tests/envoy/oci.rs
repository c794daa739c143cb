//! The OCI images of `make oci` (tools/oci_image.py), checked the way Istio and Envoy Gateway
//! will consume them, with code and tools that share nothing with the writer:
//! - the same builds and tag give byte-identical layouts (so the same digests);
//! - each layout holds one image manifest whose last layer passes the fetchers' "compat" rules
//!   (pkg/wasm/imagefetcher.go in istio/istio, internal/wasm/imagefetcher.go in envoyproxy/gateway,
//!   re-read in [`fetch_wasm`]): media type `application/vnd.oci.image.layer.v1.tar+gzip`, a
//!   gzipped tar whose first entry named `plugin.wasm` is the build, byte for byte;
//! - umoci (Debian) unpacks each layout to a rootfs holding only `plugin.wasm`;
//! - skopeo (Debian) pushes each layout to a Distribution registry (Debian's `docker-registry`)
//!   started on 127.0.0.1 by the test, and pulls it back; the registry serves the manifest under
//!   the digest the layout has (the digest a WasmPlugin's or EnvoyExtensionPolicy's `sha256` is
//!   compared with), and the pulled image passes the fetchers' rules.
//!
//! umoci, skopeo and docker-registry are real dependencies: a missing one fails the test with
//! the install hint (`make setup` installs them with apt-get).

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use flate2::read::GzDecoder;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::support::{http_get, poll_until, tail, wasm_builds, TempDir, CRATE_ROOT, HTTP_TIMEOUT};

/// The tag `make oci` gives the images: the crate version.
const TAG: &str = env!("CARGO_PKG_VERSION");

const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
const INDEX_TYPE: &str = "application/vnd.oci.image.index.v1+json";
const DOCKER_MANIFEST_TYPE: &str = "application/vnd.docker.distribution.manifest.v2+json";
const LAYER_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const CONFIG_TYPE: &str = "application/vnd.oci.image.config.v1+json";

/// How long the registry may take to listen.
const REGISTRY_DEADLINE: Duration = Duration::from_secs(20);

// ------------------------------------------------------------------------------------------
// Tests

#[test]
fn layouts_are_reproducible() {
    let builds = wasm_builds().unwrap_or_else(|e| panic!("{e}"));
    let (a, b) = (TempDir::new("jwt-authn-oci"), TempDir::new("jwt-authn-oci"));
    let digests_a = write_layouts(a.path(), &builds);
    let digests_b = write_layouts(b.path(), &builds);
    assert_eq!(digests_a, digests_b, "two runs gave different digests");
    assert_eq!(digests_a.len(), builds.len(), "DIGESTS: {digests_a:?}");
    let (files_a, files_b) = (tree(a.path()), tree(b.path()));
    assert_eq!(
        files_a.keys().collect::<Vec<_>>(),
        files_b.keys().collect::<Vec<_>>(),
        "two runs wrote different files"
    );
    for (path, bytes) in &files_a {
        assert!(bytes == &files_b[path], "{path} differs between two runs");
    }
}

#[test]
fn each_layout_holds_one_compat_image_of_its_build() {
    let builds = wasm_builds().unwrap_or_else(|e| panic!("{e}"));
    let out = TempDir::new("jwt-authn-oci");
    let digests = write_layouts(out.path(), &builds);
    for build in &builds {
        let name = build_name(build);
        let layout = out.path().join(&name);
        let wasm = fs::read(build).unwrap();
        let manifest_digest = tagged_manifest(&layout);
        assert_eq!(digests[&name], manifest_digest, "DIGESTS vs index.json");
        // Every blob is stored under its own digest.
        for (path, bytes) in tree(&layout.join("blobs")) {
            assert_eq!(
                format!("sha256/{}", hex::encode(Sha256::digest(&bytes))),
                path,
                "{name}: blob stored under another name"
            );
        }
        let manifest = blob(&layout, &manifest_digest).unwrap();
        let got = fetch_wasm(&manifest, |d| blob(&layout, d))
            .unwrap_or_else(|e| panic!("{name}: the fetchers would refuse the image: {e}"));
        assert!(
            got == wasm,
            "{name}: plugin.wasm is not {}",
            build.display()
        );

        // What reproducibility rests on: no time, owner or name in the layer.
        let m: Value = serde_json::from_slice(&manifest).unwrap();
        let layer = blob(&layout, m["layers"][0]["digest"].as_str().unwrap()).unwrap();
        assert_eq!(
            &layer[..4],
            &[0x1f, 0x8b, 8, 0],
            "{name}: gzip header with flags"
        );
        assert_eq!(&layer[4..8], &[0, 0, 0, 0], "{name}: gzip mtime is not 0");
        let mut tar_bytes = Vec::new();
        GzDecoder::new(&layer[..])
            .read_to_end(&mut tar_bytes)
            .unwrap();
        let mut archive = tar::Archive::new(&tar_bytes[..]);
        let entries: Vec<(String, u64, u32, u64, u64)> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let h = e.unwrap().header().clone();
                (
                    h.path().unwrap().to_string_lossy().into_owned(),
                    h.mtime().unwrap(),
                    h.mode().unwrap(),
                    h.uid().unwrap(),
                    h.gid().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            entries,
            vec![("plugin.wasm".to_owned(), 0, 0o644, 0, 0)],
            "{name}: layer entries"
        );
        // The config names the uncompressed layer, as umoci and registries check.
        let config = blob(&layout, m["config"]["digest"].as_str().unwrap()).unwrap();
        let config: Value = serde_json::from_slice(&config).unwrap();
        assert_eq!(
            config["rootfs"],
            json!({"type": "layers", "diff_ids": [format!("sha256:{}", hex::encode(Sha256::digest(&tar_bytes)))]}),
            "{name}: config rootfs"
        );
        assert_eq!(
            (config["architecture"].as_str(), config["os"].as_str()),
            (Some("wasm"), Some("wasip1"))
        );
    }
}

#[test]
fn umoci_unpacks_plugin_wasm() {
    let umoci = require_tool("umoci");
    let builds = wasm_builds().unwrap_or_else(|e| panic!("{e}"));
    let out = TempDir::new("jwt-authn-oci");
    write_layouts(out.path(), &builds);
    for build in &builds {
        let name = build_name(build);
        let rootfs = out.path().join(format!("{name}.rootfs"));
        let image = format!("{}:{TAG}", out.path().join(&name).display());
        run(Command::new(&umoci)
            .args(["raw", "unpack", "--rootless", "--image", &image])
            .arg(&rootfs));
        let files = tree(&rootfs);
        assert_eq!(
            files.keys().collect::<Vec<_>>(),
            ["plugin.wasm"],
            "{name}: unpacked rootfs"
        );
        assert!(
            files["plugin.wasm"] == fs::read(build).unwrap(),
            "{name}: umoci unpacked other bytes than {}",
            build.display()
        );
    }
}

#[test]
fn registry_round_trip_keeps_digest_and_fetcher_rules() {
    let skopeo = require_tool("skopeo");
    let builds = wasm_builds().unwrap_or_else(|e| panic!("{e}"));
    let out = TempDir::new("jwt-authn-oci");
    let digests = write_layouts(out.path(), &builds);
    let registry = Registry::start();
    for build in &builds {
        let name = build_name(build);
        let repo = format!("jwt-authn-wasm/{}", name.replace(['_', '.'], "-"));
        let remote = format!("docker://127.0.0.1:{}/{repo}:{TAG}", registry.port);
        let local = format!("oci:{}:{TAG}", out.path().join(&name).display());
        run(Command::new(&skopeo).args([
            "--insecure-policy",
            "copy",
            "--dest-tls-verify=false",
            &local,
            &remote,
        ]));

        // What the fetchers ask first: the manifest by tag, and its digest.
        let accept = format!("{MANIFEST_TYPE}, {INDEX_TYPE}, {DOCKER_MANIFEST_TYPE}");
        let reply = http_get(
            registry.port,
            &format!("/v2/{repo}/manifests/{TAG}"),
            &[("accept", &accept)],
            HTTP_TIMEOUT,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(reply.status, 200, "{name}: {}", reply.body);
        assert_eq!(reply.header("content-type"), Some(MANIFEST_TYPE), "{name}");
        let served = format!(
            "sha256:{}",
            hex::encode(Sha256::digest(reply.body.as_bytes()))
        );
        assert_eq!(
            served, digests[&name],
            "{name}: the registry serves another manifest"
        );
        assert_eq!(
            reply.header("docker-content-digest"),
            Some(digests[&name].as_str()),
            "{name}: the digest a WasmPlugin's sha256 is checked against"
        );

        // Pulled back by an independent client, it is still the same image and passes the rules.
        let pulled = out.path().join(format!("{name}.pulled"));
        run(Command::new(&skopeo).args([
            "--insecure-policy",
            "copy",
            "--src-tls-verify=false",
            &remote,
            &format!("oci:{}:{TAG}", pulled.display()),
        ]));
        let digest = tagged_manifest(&pulled);
        assert_eq!(digest, digests[&name], "{name}: pulled manifest digest");
        let manifest = blob(&pulled, &digest).unwrap();
        let got = fetch_wasm(&manifest, |d| blob(&pulled, d))
            .unwrap_or_else(|e| panic!("{name}: the fetchers would refuse the pulled image: {e}"));
        assert!(
            got == fs::read(build).unwrap(),
            "{name}: pulled plugin.wasm differs"
        );
    }
}

/// The rules in [`fetch_wasm`] refuse what the fetchers refuse, so the tests above would see a
/// wrong image.
#[test]
fn fetcher_rules_refuse_other_images() {
    let wasm = b"\0asm\x01\0\0\0rest".to_vec();
    let good_layer = gzip(&tar_of(&[("plugin.wasm", &wasm)]));
    let image = |media_type: &str, layers: Vec<(&str, Vec<u8>)>| {
        let mut blobs = BTreeMap::new();
        let descs: Vec<Value> = layers
            .into_iter()
            .map(|(t, data)| {
                let d = format!("sha256:{}", hex::encode(Sha256::digest(&data)));
                let desc = json!({"mediaType": t, "digest": d, "size": data.len()});
                blobs.insert(d, data);
                desc
            })
            .collect();
        let manifest = json!({
            "schemaVersion": 2, "mediaType": media_type,
            "config": {"mediaType": CONFIG_TYPE, "digest": "sha256:00", "size": 2},
            "layers": descs,
        });
        fetch_wasm(manifest.to_string().as_bytes(), |d| {
            blobs.get(d).cloned().ok_or_else(|| format!("no blob {d}"))
        })
    };

    assert_eq!(
        image(MANIFEST_TYPE, vec![(LAYER_TYPE, good_layer.clone())]),
        Ok(wasm.clone())
    );
    // The file may sit in a directory: the fetchers compare the base name.
    let nested = gzip(&tar_of(&[("README", b"x"), ("dir/plugin.wasm", &wasm)]));
    assert_eq!(
        image(MANIFEST_TYPE, vec![(LAYER_TYPE, nested)]),
        Ok(wasm.clone())
    );
    for (what, result) in [
        (
            "an index",
            image(INDEX_TYPE, vec![(LAYER_TYPE, good_layer.clone())]),
        ),
        ("no layer", image(MANIFEST_TYPE, vec![])),
        (
            "an uncompressed tar layer",
            image(
                MANIFEST_TYPE,
                vec![(
                    "application/vnd.oci.image.layer.v1.tar",
                    tar_of(&[("plugin.wasm", &wasm)]),
                )],
            ),
        ),
        (
            "the wasm layer not last",
            image(
                MANIFEST_TYPE,
                vec![
                    (LAYER_TYPE, good_layer.clone()),
                    (LAYER_TYPE, gzip(&tar_of(&[("other", b"x")]))),
                ],
            ),
        ),
        (
            "another file name",
            image(
                MANIFEST_TYPE,
                vec![(LAYER_TYPE, gzip(&tar_of(&[("filter.wasm", &wasm)])))],
            ),
        ),
        (
            "not wasm",
            image(
                MANIFEST_TYPE,
                vec![(
                    LAYER_TYPE,
                    gzip(&tar_of(&[("plugin.wasm", b"#!/bin/sh\n")])),
                )],
            ),
        ),
    ] {
        assert!(result.is_err(), "{what}: accepted ({result:?})");
    }
}

// ------------------------------------------------------------------------------------------
// The fetchers' rules

/// The Wasm module Istio's and Envoy Gateway's image fetchers take from an image manifest in
/// the compat form (the first form they try after Docker's own manifest type), or why they
/// would not. `blob` reads a blob by digest. Each step is theirs:
/// - a manifest, not an index (go-containerregistry's `desc.Image()` would pick a platform);
/// - at least one layer, and the LAST layer's media type is
///   `application/vnd.oci.image.layer.v1.tar+gzip`;
/// - the blob matches its digest and size (go-containerregistry verifies both);
/// - gunzip, then walk the tar: the first entry whose base name is `plugin.wasm` is the module;
/// - the module starts with the wasm magic and is at least 8 bytes (Istio's `isValidWasmBinary`).
fn fetch_wasm(
    manifest: &[u8],
    blob: impl Fn(&str) -> Result<Vec<u8>, String>,
) -> Result<Vec<u8>, String> {
    let m: Value = serde_json::from_slice(manifest).map_err(|e| format!("manifest: {e}"))?;
    if m["schemaVersion"] != 2 || m["mediaType"] != MANIFEST_TYPE {
        return Err(format!(
            "not an OCI image manifest: schemaVersion {} mediaType {}",
            m["schemaVersion"], m["mediaType"]
        ));
    }
    let layers = m["layers"].as_array().ok_or("no layers array")?;
    let layer = layers
        .last()
        .ok_or("number of layers must be greater than zero")?;
    if layer["mediaType"] != LAYER_TYPE {
        return Err(format!(
            "invalid media type {} (expect {LAYER_TYPE})",
            layer["mediaType"]
        ));
    }
    let digest = layer["digest"].as_str().ok_or("layer without digest")?;
    let data = blob(digest)?;
    let actual = format!("sha256:{}", hex::encode(Sha256::digest(&data)));
    if actual != digest || Some(data.len() as u64) != layer["size"].as_u64() {
        return Err(format!(
            "layer {digest} ({}) is {actual} ({})",
            layer["size"],
            data.len()
        ));
    }
    let mut archive = tar::Archive::new(GzDecoder::new(&data[..]));
    let entries = archive
        .entries()
        .map_err(|e| format!("failed to parse layer as tar.gz: {e}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("tar: {e}"))?;
        let path = entry.path().map_err(|e| format!("tar: {e}"))?;
        if path.file_name().is_some_and(|n| n == "plugin.wasm") {
            let mut wasm = Vec::new();
            entry
                .read_to_end(&mut wasm)
                .map_err(|e| format!("failed to read plugin.wasm: {e}"))?;
            if wasm.len() < 8 || !wasm.starts_with(b"\0asm") {
                return Err("plugin.wasm is not a wasm binary".to_owned());
            }
            return Ok(wasm);
        }
    }
    Err("plugin.wasm not found in the archive".to_owned())
}

// ------------------------------------------------------------------------------------------
// Builds and layouts

fn build_name(build: &Path) -> String {
    let name = build.file_name().unwrap().to_string_lossy();
    name.strip_suffix(".wasm").unwrap().to_owned()
}

/// `tools/oci_image.py` into `out`: build name -> manifest digest, from `out/DIGESTS`.
fn write_layouts(out: &Path, builds: &[PathBuf]) -> BTreeMap<String, String> {
    run(Command::new("python3")
        .arg(Path::new(CRATE_ROOT).join("tools/oci_image.py"))
        .args(["--tag", TAG, "--out"])
        .arg(out)
        .args(builds));
    let digests = fs::read_to_string(out.join("DIGESTS")).unwrap();
    digests
        .lines()
        .map(|l| {
            let (digest, image) = l.split_once("  ").unwrap();
            let name = image.strip_suffix(&format!(":{TAG}")).unwrap();
            (name.to_owned(), digest.to_owned())
        })
        .collect()
}

/// The digest of the one manifest a layout's index.json tags `TAG`; the index must hold only it.
fn tagged_manifest(layout: &Path) -> String {
    let oci_layout: Value =
        serde_json::from_slice(&fs::read(layout.join("oci-layout")).unwrap()).unwrap();
    assert_eq!(
        oci_layout["imageLayoutVersion"],
        "1.0.0",
        "{}",
        layout.display()
    );
    let index: Value =
        serde_json::from_slice(&fs::read(layout.join("index.json")).unwrap()).unwrap();
    let manifests = index["manifests"].as_array().unwrap();
    assert_eq!(manifests.len(), 1, "{}: {index}", layout.display());
    let entry = &manifests[0];
    assert_eq!(entry["mediaType"], MANIFEST_TYPE, "{}", layout.display());
    assert_eq!(
        entry["annotations"]["org.opencontainers.image.ref.name"],
        TAG,
        "{}",
        layout.display()
    );
    entry["digest"].as_str().unwrap().to_owned()
}

fn blob(layout: &Path, digest: &str) -> Result<Vec<u8>, String> {
    let hex = digest
        .strip_prefix("sha256:")
        .ok_or_else(|| format!("not a sha256 digest: {digest}"))?;
    let path = layout.join("blobs/sha256").join(hex);
    fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Every file under `root`, by path relative to it.
fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                files.insert(rel, fs::read(&path).unwrap());
            }
        }
    }
    files
}

fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut header = tar::Header::new_ustar();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, name, *data).unwrap();
    }
    builder.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

// ------------------------------------------------------------------------------------------
// Tools and the registry

/// A program on PATH, or a failed test with the install hint.
fn require_tool(name: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "{name} not found on PATH: run `make setup` (it installs Debian's umoci, skopeo and \
             docker-registry with apt-get when missing), or `apt-get install {name}`"
        )
    })
}

/// Runs a command to completion; a failure fails the test with its output.
fn run(cmd: &mut Command) -> String {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{text}",
        out.status
    );
    text
}

/// Debian's `docker-registry` (CNCF Distribution 2.8) on 127.0.0.1, on a port it picks itself,
/// with its config and storage in a temp dir. Dropping it kills it; dropped during a panic it
/// prints its log.
struct Registry {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: TempDir,
}

impl Registry {
    fn start() -> Registry {
        let program = require_tool("docker-registry");
        let dir = TempDir::new("jwt-authn-registry");
        let config = dir.path().join("config.yml");
        let log = dir.path().join("registry.log");
        fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\n\
                 http:\n  addr: 127.0.0.1:0\n",
                dir.path().join("storage").display()
            ),
        )
        .unwrap();
        let out = File::create(&log).unwrap();
        let child = Command::new(program)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start docker-registry: {e}"));
        let mut registry = Registry {
            child,
            port: 0,
            log,
            _dir: dir,
        };
        // It logs `listening on 127.0.0.1:PORT` once bound; then /v2/ answers 200 (no auth).
        let port = poll_until(REGISTRY_DEADLINE, || {
            let log = fs::read_to_string(&registry.log).unwrap_or_default();
            let at = log.find("listening on 127.0.0.1:")? + "listening on 127.0.0.1:".len();
            let digits: String = log[at..].chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<u16>().ok()
        });
        registry.port = port.unwrap_or_else(|| panic!("the registry did not listen"));
        let up = poll_until(REGISTRY_DEADLINE, || {
            http_get(registry.port, "/v2/", &[], HTTP_TIMEOUT)
                .ok()
                .filter(|r| r.status == 200)
        });
        assert!(
            up.is_some(),
            "the registry does not answer GET /v2/ with 200"
        );
        registry
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = fs::read_to_string(&self.log).unwrap_or_default();
            eprintln!("---- docker-registry log (tail) ----\n{}", tail(&log, 60));
        }
    }
}
