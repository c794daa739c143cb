use rsa::traits::PublicKeyParts;
use serde_json::json;

use super::*;
use crate::crypto::tests::{ec_coordinates, rsa_private};

fn rsa_n() -> String {
    b64::encode(&rsa_private().to_public_key().n().to_be_bytes())
}

fn rsa_jwk() -> Value {
    json!({"kty": "RSA", "kid": "rsa", "n": rsa_n(), "e": "AQAB"})
}

fn ec_jwk(curve: Curve) -> Value {
    let (x, y) = ec_coordinates(curve);
    json!({"kty": "EC", "crv": curve.name(), "x": b64::encode(&x), "y": b64::encode(&y)})
}

fn okp_x() -> String {
    b64::encode(
        ed25519_dalek::SigningKey::from_bytes(&[0x55; 32])
            .verifying_key()
            .as_bytes(),
    )
}

fn okp_jwk() -> Value {
    json!({"kty": "OKP", "crv": "Ed25519", "x": okp_x()})
}

fn oct_jwk() -> Value {
    json!({"kty": "oct", "k": b64::encode(b"secret")})
}

/// `base` with `changes` merged in; a `null` in `changes` removes the member.
fn with(base: Value, changes: Value) -> Value {
    let (Value::Object(mut base), Value::Object(changes)) = (base, changes) else {
        unreachable!()
    };
    for (name, value) in changes {
        if value.is_null() {
            base.remove(&name);
        } else {
            base.insert(name, value);
        }
    }
    Value::Object(base)
}

fn jwks(keys: Vec<Value>) -> String {
    json!({ "keys": keys }).to_string()
}

#[test]
fn document_level_errors() {
    let too_many = jwks(vec![json!({}); MAX_KEYS + 1]);
    let too_big = format!("{{\"keys\":[],\"pad\":\"{}\"}}", "x".repeat(MAX_JWKS_BYTES));
    let table: [(&str, &str, &str, Option<&str>); 12] = [
        (
            "empty",
            "",
            "JwksParseError",
            Some("Jwks is an invalid JSON"),
        ),
        (
            "not JSON",
            "keys",
            "JwksParseError",
            Some("Jwks is an invalid JSON"),
        ),
        (
            "truncated",
            "{\"keys\":[",
            "JwksParseError",
            Some("Jwks is an invalid JSON"),
        ),
        (
            "array",
            "[]",
            "JwksParseError",
            Some("Jwks is an invalid JSON"),
        ),
        (
            "null",
            "null",
            "JwksParseError",
            Some("Jwks is an invalid JSON"),
        ),
        (
            "no keys",
            "{}",
            "JwksNoKeys",
            Some("Jwks does not have [keys] field"),
        ),
        (
            "keys object",
            "{\"keys\":{}}",
            "JwksBadKeys",
            Some("[keys] in Jwks is not an array"),
        ),
        (
            "keys string",
            "{\"keys\":\"k\"}",
            "JwksBadKeys",
            Some("[keys] in Jwks is not an array"),
        ),
        (
            "keys empty",
            "{\"keys\":[]}",
            "JwksNoValidKeys",
            Some("Jwks doesn't have any valid public key"),
        ),
        (
            "only comma",
            "{\"keys\":[,]}",
            "JwksParseError",
            Some("Jwks is an invalid JSON"),
        ),
        ("too many keys", &too_many, "JwksParseError", None),
        ("too big", &too_big, "JwksParseError", None),
    ];
    for (name, text, status, message) in table {
        let err = parse_jwks(text).unwrap_err();
        assert_eq!(err.status, status, "{name}: {err}");
        if let Some(message) = message {
            assert_eq!(err.message, message, "{name}");
        }
    }
    assert!(parse_jwks(&too_many)
        .unwrap_err()
        .message
        .contains("1001 keys"));
    assert!(parse_jwks(&too_big).unwrap_err().message.contains("limit"));
}

#[test]
fn nesting_depth_limit() {
    // `{"keys":[oct],"x":[[...1...]]}`: the top level, then `depth - 1` arrays.
    let nested = |depth: usize| {
        format!(
            "{{\"keys\":[{}],\"x\":{}1{}}}",
            oct_jwk(),
            "[".repeat(depth - 1),
            "]".repeat(depth - 1)
        )
    };
    assert_eq!(parse_jwks(&nested(MAX_JWKS_DEPTH)).unwrap().len(), 1);
    for depth in [MAX_JWKS_DEPTH + 1, 100_000] {
        let err = parse_jwks_report(&nested(depth)).unwrap_err();
        assert_eq!(err.status, "JwksParseError");
        assert_eq!(
            err.message,
            format!("Jwks nests arrays or objects deeper than the limit of {MAX_JWKS_DEPTH}")
        );
    }
    // Brackets inside strings are text, not nesting.
    let in_string = format!(
        "{{\"keys\":[{}],\"x\":\"{}\"}}",
        oct_jwk(),
        "[".repeat(1000)
    );
    assert_eq!(parse_jwks(&in_string).unwrap().len(), 1);
}

#[test]
fn at_the_limits_is_accepted() {
    let mut keys = vec![json!({})];
    keys.resize(MAX_KEYS - 1, json!({}));
    keys.push(oct_jwk());
    assert_eq!(parse_jwks(&jwks(keys)).unwrap().len(), 1);
}

#[test]
fn trailing_commas_are_stripped_outside_strings() {
    let table = [
        ("[1,2,]", "[1,2]"),
        ("{\"a\":1,}", "{\"a\":1}"),
        ("{\"a\":[1, \n\t],\r\n}", "{\"a\":[1 \n\t]\r\n}"),
        ("[\"a,]\",]", "[\"a,]\"]"),
        ("[\"q\\\",]\",]", "[\"q\\\",]\"]"),
        ("[\"back\\\\\",]", "[\"back\\\\\"]"),
        ("[,]", "[,]"),
        ("{,}", "{,}"),
        ("[1,,]", "[1,,]"),
        ("[\"é,\",]", "[\"é,\"]"),
        ("[1,2]", "[1,2]"),
    ];
    for (input, expected) in table {
        assert_eq!(strip_trailing_commas(input), expected, "{input}");
    }
}

#[test]
fn jwks_with_trailing_commas_parses() {
    let text = format!(
        "{{\"keys\": [ {{\"kty\": \"RSA\", \"kid\": \"a,}}\", \"n\": \"{}\", \"e\": \"AQAB\", \"key_ops\": [\"verify\", ], }}, ], }}",
        rsa_n()
    );
    let set = parse_jwks(&text).unwrap();
    assert_eq!(set.len(), 1);
    assert_eq!(set.keys[0].kid.as_deref(), Some("a,}"));
    assert_eq!(
        parse_jwks("{\"keys\":[1,,]}").unwrap_err().status,
        "JwksParseError"
    );
}

#[test]
fn usable_keys_of_every_kind() {
    use crate::crypto::alg::Family as F;
    /// name, JWK, key family, curve, alg
    type Row = (&'static str, Value, F, Option<Curve>, Option<Alg>);
    let table: [Row; 14] = [
        ("RSA", rsa_jwk(), F::Rsa, None, None),
        (
            "RSA PS256",
            with(rsa_jwk(), json!({"alg": "PS256"})),
            F::Rsa,
            None,
            Some(Alg::Ps256),
        ),
        (
            "oct padded base64",
            with(oct_jwk(), json!({"k": "c2VjcmU="})),
            F::Hmac,
            None,
            None,
        ),
        (
            "RSA use sig",
            with(rsa_jwk(), json!({"use": "sig"})),
            F::Rsa,
            None,
            None,
        ),
        (
            "EC P-256",
            ec_jwk(Curve::P256),
            F::Ec,
            Some(Curve::P256),
            None,
        ),
        (
            "EC neither alg nor crv is P-256",
            with(ec_jwk(Curve::P256), json!({"crv": null})),
            F::Ec,
            Some(Curve::P256),
            None,
        ),
        (
            "EC crv from ES384",
            with(ec_jwk(Curve::P384), json!({"crv": null, "alg": "ES384"})),
            F::Ec,
            Some(Curve::P384),
            Some(Alg::Es384),
        ),
        (
            "EC crv from ES512",
            with(ec_jwk(Curve::P521), json!({"crv": null, "alg": "ES512"})),
            F::Ec,
            Some(Curve::P521),
            Some(Alg::Es512),
        ),
        (
            "EC secp256k1",
            with(ec_jwk(Curve::Secp256k1), json!({"alg": "ES256K"})),
            F::Ec,
            Some(Curve::Secp256k1),
            Some(Alg::Es256k),
        ),
        (
            "EC crv from ES256K",
            with(
                ec_jwk(Curve::Secp256k1),
                json!({"crv": null, "alg": "ES256K"}),
            ),
            F::Ec,
            Some(Curve::Secp256k1),
            Some(Alg::Es256k),
        ),
        ("oct", oct_jwk(), F::Hmac, None, None),
        (
            "oct HS512",
            with(oct_jwk(), json!({"alg": "HS512"})),
            F::Hmac,
            None,
            Some(Alg::Hs512),
        ),
        (
            "OKP",
            with(okp_jwk(), json!({"alg": "EdDSA"})),
            F::Okp,
            None,
            Some(Alg::EdDsa),
        ),
        (
            "other members ignored",
            with(
                rsa_jwk(),
                json!({"x5t": "not checked", "x5u": "https://x", "issuer": "me", "key_ops": ["verify"], "ext": true}),
            ),
            F::Rsa,
            None,
            None,
        ),
    ];
    for (name, jwk, family, curve, alg) in table {
        let (set, skipped) =
            parse_jwks_report(&jwks(vec![jwk])).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(skipped.is_empty(), "{name}: {skipped:?}");
        let [key] = &set.keys[..] else {
            panic!("{name}: {} keys", set.len())
        };
        assert_eq!(key.key.family(), family, "{name}");
        assert_eq!(key.key.curve(), curve, "{name}");
        assert_eq!(key.alg, alg, "{name}");
    }
}

#[test]
fn bad_keys_are_skipped_and_the_rest_kept() {
    let short_n = b64::encode(&[0xc1; 128]);
    let (x, y) = ec_coordinates(Curve::P256);
    let mut y_off = y.clone();
    y_off[31] ^= 1;
    let table: [(&str, Value, &str); 37] = [
        ("not an object", json!(42), "not a JSON object"),
        ("array", json!([rsa_jwk()]), "not a JSON object"),
        (
            "no kty",
            with(rsa_jwk(), json!({"kty": null})),
            "\"kty\" is missing",
        ),
        (
            "kty number",
            with(rsa_jwk(), json!({"kty": 1})),
            "\"kty\" is not a string",
        ),
        (
            "kty unknown",
            with(rsa_jwk(), json!({"kty": "DSA"})),
            "unsupported kty \"DSA\"",
        ),
        (
            "kty lowercase",
            with(rsa_jwk(), json!({"kty": "rsa"})),
            "unsupported kty",
        ),
        (
            "kid number",
            with(rsa_jwk(), json!({"kid": 7})),
            "\"kid\" is not a string",
        ),
        (
            "use enc",
            with(rsa_jwk(), json!({"use": "enc"})),
            "\"use\" is \"enc\"",
        ),
        (
            "use number",
            with(rsa_jwk(), json!({"use": 1})),
            "\"use\" is not a string",
        ),
        (
            "alg none",
            with(rsa_jwk(), json!({"alg": "none"})),
            "unsupported alg \"none\"",
        ),
        (
            "alg RSA-OAEP",
            with(rsa_jwk(), json!({"alg": "RSA-OAEP"})),
            "unsupported alg",
        ),
        (
            "alg number",
            with(rsa_jwk(), json!({"alg": 256})),
            "\"alg\" is not a string",
        ),
        (
            "RSA alg HS256",
            with(rsa_jwk(), json!({"alg": "HS256"})),
            "alg HS256 is not for kty \"RSA\"",
        ),
        (
            "RSA alg ES256",
            with(rsa_jwk(), json!({"alg": "ES256"})),
            "not for kty \"RSA\"",
        ),
        (
            "RSA 1024-bit",
            with(rsa_jwk(), json!({"n": short_n})),
            "1024 bits, less than the minimum 2048",
        ),
        (
            "RSA e=5",
            with(rsa_jwk(), json!({"e": "BQ"})),
            "neither 3 nor 65537",
        ),
        (
            "RSA n standard base64",
            with(
                rsa_jwk(),
                json!({"n": rsa_n().replace('-', "+").replace('_', "/")}),
            ),
            "\"n\" is not base64url",
        ),
        (
            "RSA no n",
            with(rsa_jwk(), json!({"n": null})),
            "\"n\" is missing",
        ),
        (
            "RSA e number",
            with(rsa_jwk(), json!({"e": 65537})),
            "\"e\" is not a string",
        ),
        (
            "EC alg RS256",
            with(ec_jwk(Curve::P256), json!({"alg": "RS256"})),
            "not for kty \"EC\"",
        ),
        (
            "EC alg ES384 crv P-256",
            with(ec_jwk(Curve::P256), json!({"alg": "ES384"})),
            "alg ES384 does not match crv \"P-256\"",
        ),
        (
            "EC alg ES256K crv P-256",
            with(ec_jwk(Curve::P256), json!({"alg": "ES256K"})),
            "does not match",
        ),
        (
            "EC crv P-192",
            with(ec_jwk(Curve::P256), json!({"crv": "P-192"})),
            "unsupported EC crv \"P-192\"",
        ),
        (
            "EC crv Ed25519",
            with(ec_jwk(Curve::P256), json!({"crv": "Ed25519"})),
            "unsupported EC crv",
        ),
        (
            "EC x short (padded, then off the curve)",
            with(ec_jwk(Curve::P256), json!({"x": b64::encode(&x[1..])})),
            "not a valid P-256 public key",
        ),
        (
            "EC P-384 point as P-256",
            with(ec_jwk(Curve::P384), json!({"crv": "P-256"})),
            "must be 32 bytes",
        ),
        (
            "EC off curve",
            with(ec_jwk(Curve::P256), json!({"y": b64::encode(&y_off)})),
            "not a valid P-256 public key",
        ),
        (
            "EC no y",
            with(ec_jwk(Curve::P256), json!({"y": null})),
            "\"y\" is missing",
        ),
        (
            "oct empty k",
            with(oct_jwk(), json!({"k": ""})),
            "HMAC key is empty",
        ),
        (
            "oct no k",
            with(oct_jwk(), json!({"k": null})),
            "\"k\" is missing",
        ),
        (
            "oct alg RS256",
            with(oct_jwk(), json!({"alg": "RS256"})),
            "not for kty \"oct\"",
        ),
        (
            "oct alg ES256",
            with(oct_jwk(), json!({"alg": "ES256"})),
            "not for kty \"oct\"",
        ),
        (
            "OKP crv X25519",
            with(okp_jwk(), json!({"crv": "X25519"})),
            "unsupported OKP crv \"X25519\"",
        ),
        (
            "OKP no crv",
            with(okp_jwk(), json!({"crv": null})),
            "\"crv\" is missing",
        ),
        (
            "OKP x short",
            with(okp_jwk(), json!({"x": b64::encode(&[9; 31])})),
            "must be 32 bytes, got 31",
        ),
        (
            "OKP alg ES256",
            with(okp_jwk(), json!({"alg": "ES256"})),
            "not for kty \"OKP\"",
        ),
        (
            "OKP alg HS256",
            with(okp_jwk(), json!({"alg": "HS256"})),
            "not for kty \"OKP\"",
        ),
    ];
    for (name, bad, reason) in table {
        let kid = bad.get("kid").and_then(Value::as_str).map(str::to_owned);
        let (set, skipped) = parse_jwks_report(&jwks(vec![bad, oct_jwk()]))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(set.len(), 1, "{name}");
        assert_eq!(set.keys[0].key.family(), Family::Hmac, "{name}");
        let [skip] = &skipped[..] else {
            panic!("{name}: {skipped:?}")
        };
        assert_eq!((skip.index, &skip.kid), (0, &kid), "{name}");
        assert!(
            skip.reason.contains(reason),
            "{name}: {:?} lacks {reason:?}",
            skip.reason
        );
    }
}

#[test]
fn no_usable_key_is_an_error_listing_reasons() {
    let err = parse_jwks(&jwks(vec![
        with(rsa_jwk(), json!({"use": "enc"})),
        json!({"kty": "oct", "kid": "h"}),
    ]))
    .unwrap_err();
    assert_eq!(err.status, "JwksNoValidKeys");
    assert_eq!(
        err.message,
        "Jwks doesn't have any valid public key: key 0 (kid \"rsa\"): \"use\" is \"enc\", not \"sig\"; key 1 (kid \"h\"): \"k\" is missing"
    );

    let many = jwks(vec![
        json!({"kty": "D".repeat(500), "kid": "k".repeat(500)});
        25
    ]);
    let err = parse_jwks(&many).unwrap_err();
    assert!(err.message.ends_with("; and 15 more"), "{}", err.message);
    assert!(
        err.message.len() < 3000,
        "values are shortened: {} bytes",
        err.message.len()
    );
    let kid = format!("(kid \"{}\"…)", "k".repeat(MAX_VALUE_IN_MESSAGE));
    let kty = format!("unsupported kty \"{}\"…", "D".repeat(MAX_VALUE_IN_MESSAGE));
    assert!(err.message.contains(&kid), "{}", err.message);
    assert!(err.message.contains(&kty), "{}", err.message);
}

#[test]
fn keys_keep_document_order_kid_and_alg() {
    let text = jwks(vec![
        with(oct_jwk(), json!({"kid": "one", "alg": "HS256"})),
        json!("junk"),
        with(ec_jwk(Curve::P256), json!({"kid": "two"})),
        with(okp_jwk(), json!({"kid": "three"})),
    ]);
    let (set, skipped) = parse_jwks_report(&text).unwrap();
    let got: Vec<_> = set.keys.iter().map(|k| (k.kid.as_deref(), k.alg)).collect();
    assert_eq!(
        got,
        [
            (Some("one"), Some(Alg::Hs256)),
            (Some("two"), None),
            (Some("three"), None)
        ]
    );
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].index, 1);
    assert!(!set.is_empty());
}

#[test]
fn parsed_keys_verify() {
    // End to end: a JWK from the document verifies a signature made with its private half.
    use ed25519_dalek::Signer;
    let set = parse_jwks(&jwks(vec![okp_jwk()])).unwrap();
    let sig = ed25519_dalek::SigningKey::from_bytes(&[0x55; 32]).sign(b"a.b");
    assert_eq!(
        set.keys[0].key.verify(Alg::EdDsa, b"a.b", &sig.to_bytes()),
        Ok(())
    );
    assert_eq!(
        set.keys[0].key.verify(Alg::EdDsa, b"a.c", &sig.to_bytes()),
        Err(crate::crypto::SigError::Invalid)
    );
}

mod key_documents {
    //! x5c, X.509 kid → certificate maps and PEM text, with keys from jwt-mint and
    //! certificates from `x509::test_support`.

    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use jwt_mint::{Alg as MintAlg, Key};

    use super::*;
    use crate::keys::x509::test_support::{certificate_der, material, pem, pkcs1_der, spki_der};

    /// One key of each kind, each with the alg its tokens use here.
    fn kinds() -> Vec<(Key, Alg)> {
        [
            (MintAlg::RS256, Alg::Rs256),
            (MintAlg::ES256, Alg::Es256),
            (MintAlg::ES384, Alg::Es384),
            (MintAlg::ES512, Alg::Es512),
            (MintAlg::ES256K, Alg::Es256k),
            (MintAlg::EdDSA, Alg::EdDsa),
        ]
        .into_iter()
        .map(|(mint, alg)| (Key::from_seed(mint, &format!("kid-{alg}"), 11), alg))
        .collect()
    }

    fn cert_der(key: &Key) -> Vec<u8> {
        certificate_der(&spki_der(&material(&key.public_jwk())))
    }

    fn x5c(key: &Key) -> Value {
        json!([STANDARD.encode(cert_der(key)), "TUlJQg=="])
    }

    /// The JWK with only kty/kid/use (and crv for OKP) and `x5c`: no key members.
    fn x5c_only(key: &Key) -> Value {
        let mut jwk = key.public_jwk();
        for name in ["n", "e", "x", "y", "crv", "alg"] {
            jwk.as_object_mut().unwrap().remove(name);
        }
        with(jwk, json!({ "x5c": x5c(key) }))
    }

    fn assert_verifies(jwk: &Jwk, signer: &Key, alg: Alg) {
        let sig = signer.sign_raw(b"h.p");
        assert_eq!(jwk.key.verify(alg, b"h.p", &sig), Ok(()), "{alg}");
        assert!(jwk.key.verify(alg, b"h.q", &sig).is_err(), "{alg}");
    }

    fn one_key(text: &str) -> (Jwk, Vec<Skipped>) {
        let (set, skipped) = parse_local_jwks_report(text).unwrap();
        let [jwk] = &set.keys[..] else {
            panic!("{} keys, skipped {skipped:?}", set.len())
        };
        (jwk.clone(), skipped)
    }

    #[test]
    fn x5c_only_keys_use_the_certificate_key() {
        for (key, alg) in kinds() {
            for jwk in [
                x5c_only(&key),
                with(x5c_only(&key), json!({"alg": alg.name()})),
            ] {
                let (parsed, skipped) = one_key(&jwks(vec![jwk.clone()]));
                assert!(skipped.is_empty(), "{alg}: {skipped:?}");
                assert_eq!(parsed.kid.as_deref(), Some(key.kid()), "{alg}");
                assert_eq!(parsed.key.family(), alg.family(), "{alg}");
                assert_eq!(parsed.key.curve(), Curve::for_alg(alg), "{alg}");
                assert_verifies(&parsed, &key, alg);
            }
        }
    }

    #[test]
    fn key_members_with_a_matching_x5c() {
        for (key, alg) in kinds() {
            let jwk = with(key.public_jwk(), json!({ "x5c": x5c(&key) }));
            let (parsed, skipped) = one_key(&jwks(vec![jwk]));
            assert!(skipped.is_empty(), "{alg}: {skipped:?}");
            assert_eq!(parsed.alg, Some(alg));
            assert_verifies(&parsed, &key, alg);

            // With the certificate's thumbprint, padded or not.
            let thumbprint = x509::thumbprint_sha256(&cert_der(&key));
            for t in [thumbprint.clone(), format!("{thumbprint}=")] {
                let jwk = with(
                    x5c_only(&key),
                    json!({ "x5t#S256": t, "x5t": "SHA-1, not checked" }),
                );
                assert!(parse_jwks(&jwks(vec![jwk])).is_ok(), "{alg}");
            }
        }
        // Leading zero bytes do not make a different integer.
        let rsa = Key::from_seed(MintAlg::RS256, "r", 11);
        let e = b64::encode(&[0, 1, 0, 1]);
        let jwk = with(rsa.public_jwk(), json!({ "e": e, "x5c": x5c(&rsa) }));
        assert!(parse_jwks(&jwks(vec![jwk])).is_ok());
    }

    #[test]
    fn a_jwk_that_disagrees_with_its_certificate_is_skipped() {
        let rsa = Key::from_seed(MintAlg::RS256, "rsa", 11);
        let rsa2 = Key::from_seed(MintAlg::RS256, "rsa2", 12);
        let p256 = Key::from_seed(MintAlg::ES256, "p256", 11);
        let p256b = Key::from_seed(MintAlg::ES256, "p256b", 12);
        let p384 = Key::from_seed(MintAlg::ES384, "p384", 11);
        let ed = Key::from_seed(MintAlg::EdDSA, "ed", 11);
        let ed2 = Key::from_seed(MintAlg::EdDSA, "ed2", 12);
        let cert = |key: &Key| STANDARD.encode(cert_der(key));
        let big = "A".repeat(x509::MAX_CERT_BYTES / 3 * 4 + 8);
        let table: Vec<(&str, Value, &str)> = vec![
            (
                "RSA other n",
                with(rsa.public_jwk(), json!({"x5c": x5c(&rsa2)})),
                "x5c certificate does not match n/e",
            ),
            (
                "RSA other e",
                with(rsa.public_jwk(), json!({"e": "Aw", "x5c": x5c(&rsa)})),
                "x5c certificate does not match n/e",
            ),
            (
                "RSA only n",
                with(x5c_only(&rsa), json!({"n": rsa.public_jwk()["n"]})),
                "\"e\" is missing",
            ),
            (
                "RSA with an EC certificate",
                with(rsa.public_jwk(), json!({"x5c": x5c(&p256)})),
                "x5c certificate key is EC, not RSA",
            ),
            (
                "RSA x5c-only with an Ed25519 certificate",
                with(x5c_only(&rsa), json!({"x5c": x5c(&ed)})),
                "key is OKP, not RSA",
            ),
            (
                "EC other point",
                with(p256.public_jwk(), json!({"x5c": x5c(&p256b)})),
                "x5c certificate does not match x/y",
            ),
            (
                "EC crv P-256, P-384 certificate",
                with(x5c_only(&p256), json!({"crv": "P-256", "x5c": x5c(&p384)})),
                "x5c certificate key is on P-384, not P-256",
            ),
            (
                "EC alg ES384, P-256 certificate",
                with(x5c_only(&p256), json!({"alg": "ES384"})),
                "alg ES384 does not match the x5c certificate's curve P-256",
            ),
            (
                "EC with an RSA certificate",
                with(x5c_only(&p256), json!({"x5c": x5c(&rsa)})),
                "key is RSA, not EC",
            ),
            (
                "OKP other x",
                with(ed.public_jwk(), json!({"x5c": x5c(&ed2)})),
                "x5c certificate does not match x",
            ),
            (
                "OKP crv X25519",
                with(x5c_only(&ed), json!({"crv": "X25519"})),
                "unsupported OKP crv",
            ),
            (
                "oct with x5c",
                with(oct_jwk(), json!({"x5c": x5c(&rsa)})),
                "kty \"oct\" cannot have an x5c certificate",
            ),
            (
                "alg for another kty",
                with(x5c_only(&rsa), json!({"alg": "ES256"})),
                "not for kty \"RSA\"",
            ),
            (
                "x5c string",
                with(x5c_only(&rsa), json!({"x5c": cert(&rsa)})),
                "\"x5c\" is not an array",
            ),
            (
                "x5c empty",
                with(x5c_only(&rsa), json!({"x5c": []})),
                "\"x5c\" is empty",
            ),
            (
                "x5c number",
                with(x5c_only(&rsa), json!({"x5c": [cert(&rsa), 5]})),
                "not a string",
            ),
            (
                "x5c base64url",
                with(
                    x5c_only(&rsa),
                    json!({"x5c": [cert(&rsa).replace('+', "-").replace('/', "_") + "-_"]}),
                ),
                "x5c certificate is not base64",
            ),
            (
                "x5c garbage",
                with(x5c_only(&rsa), json!({"x5c": ["Z2FyYmFnZQ=="]})),
                "x5c certificate is not valid DER",
            ),
            (
                "x5c truncated",
                with(
                    x5c_only(&rsa),
                    json!({"x5c": [STANDARD.encode(&cert_der(&rsa)[..300])]}),
                ),
                "x5c certificate is not valid DER",
            ),
            (
                "x5c SPKI, not certificate",
                with(
                    x5c_only(&rsa),
                    json!({"x5c": [STANDARD.encode(spki_der(&material(&rsa.public_jwk())))]}),
                ),
                "not valid DER",
            ),
            (
                "x5c huge",
                with(x5c_only(&rsa), json!({"x5c": [big]})),
                "x5c certificate is more than 16384 bytes",
            ),
            (
                "x5t#S256 other",
                with(
                    x5c_only(&rsa),
                    json!({"x5t#S256": x509::thumbprint_sha256(&cert_der(&rsa2))}),
                ),
                "\"x5t#S256\" is not the thumbprint of the x5c certificate",
            ),
            (
                "x5t#S256 number",
                with(x5c_only(&rsa), json!({"x5t#S256": 1})),
                "\"x5t#S256\" is not a string",
            ),
        ];
        for (name, bad, reason) in table {
            let (set, skipped) = parse_jwks_report(&jwks(vec![bad, oct_jwk()]))
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(set.len(), 1, "{name}");
            assert_eq!(set.keys[0].key.family(), Family::Hmac, "{name}");
            let [skip] = &skipped[..] else {
                panic!("{name}: {skipped:?}")
            };
            assert!(
                skip.reason.contains(reason),
                "{name}: {:?} lacks {reason:?}",
                skip.reason
            );
        }
    }

    #[test]
    fn keycloak_encryption_key_is_skipped_by_use() {
        // Keycloak's JWKS: a signing key and an RSA-OAEP encryption key, both with x5c.
        let sig = Key::from_seed(MintAlg::RS256, "sig-kid", 11);
        let enc = Key::from_seed(MintAlg::RS256, "enc-kid", 12);
        let enc_jwk = with(
            enc.public_jwk(),
            json!({"use": "enc", "alg": "RSA-OAEP", "x5c": x5c(&enc), "x5t#S256": x509::thumbprint_sha256(&cert_der(&enc))}),
        );
        let sig_jwk = with(sig.public_jwk(), json!({"x5c": x5c(&sig)}));
        let (set, skipped) = parse_jwks_report(&jwks(vec![enc_jwk, sig_jwk])).unwrap();
        assert_eq!(set.len(), 1);
        assert_eq!(set.keys[0].kid.as_deref(), Some("sig-kid"));
        assert_eq!(skipped.len(), 1);
        assert_eq!(skipped[0].kid.as_deref(), Some("enc-kid"));
        assert_eq!(skipped[0].reason, "\"use\" is \"enc\", not \"sig\"");
    }

    fn x509_map(entries: &[(&str, String)]) -> String {
        let map: Map<String, Value> = entries
            .iter()
            .map(|(kid, pem)| ((*kid).to_owned(), Value::String(pem.clone())))
            .collect();
        Value::Object(map).to_string()
    }

    #[test]
    fn x509_kid_to_certificate_maps() {
        let kinds = kinds();
        let entries: Vec<(&str, String)> = kinds
            .iter()
            .map(|(key, _)| (key.kid(), pem("CERTIFICATE", &cert_der(key))))
            .collect();
        let text = x509_map(&entries);
        for parse in [parse_jwks_report, parse_local_jwks_report] {
            let (set, skipped) = parse(&text).unwrap();
            assert!(skipped.is_empty(), "{skipped:?}");
            assert_eq!(set.len(), kinds.len());
            for (key, alg) in &kinds {
                let jwk = set
                    .keys
                    .iter()
                    .find(|j| j.kid.as_deref() == Some(key.kid()))
                    .unwrap();
                assert_eq!(jwk.alg, None);
                assert_verifies(jwk, key, *alg);
            }
        }

        // Trailing commas and whitespace around the PEM are fine, like in a JWKS.
        let rsa = &kinds[0].0;
        let cert = pem("CERTIFICATE", &cert_der(rsa));
        let text = format!("{{\n  \"a\": {:?},\n}}", format!("\n{cert}\n"));
        assert_eq!(parse_jwks(&text).unwrap().len(), 1);
        // A public key instead of a certificate is let through too.
        let spki = pem("PUBLIC KEY", &spki_der(&material(&rsa.public_jwk())));
        assert_eq!(parse_jwks(&x509_map(&[("a", spki)])).unwrap().len(), 1);
    }

    #[test]
    fn x509_map_bad_entries_are_skipped() {
        let rsa = Key::from_seed(MintAlg::RS256, "good", 11);
        let cert = pem("CERTIFICATE", &cert_der(&rsa));
        let small = crate::keys::x509::KeyMaterial::Rsa {
            n: [&[0xc1][..], &[0x55; 127]].concat(),
            e: vec![1, 0, 1],
        };
        let entries = [
            (
                "a-wrong",
                "-----BEGIN CERTIFICATE-----\nwrong-pubkey\n-----END CERTIFICATE-----\n"
                    .to_owned(),
            ),
            ("b-two", format!("{cert}{cert}")),
            ("c-good", cert.clone()),
            (
                "d-small",
                pem("CERTIFICATE", &certificate_der(&spki_der(&small))),
            ),
            ("e-private", pem("PRIVATE KEY", b"secret")),
            (
                "f-text",
                format!(
                    "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\ntrailer -----",
                    "AAAA"
                ),
            ),
        ];
        let (set, skipped) = parse_jwks_report(&x509_map(&entries)).unwrap();
        assert_eq!(set.len(), 1);
        assert_eq!(set.keys[0].kid.as_deref(), Some("c-good"));
        let reasons: Vec<(usize, Option<&str>, &str)> = skipped
            .iter()
            .map(|s| (s.index, s.kid.as_deref(), s.reason.as_str()))
            .collect();
        assert_eq!(reasons.len(), 5, "{reasons:?}");
        let expect = [
            (0, "a-wrong", "invalid PEM"),
            (1, "b-two", "2 blocks where one certificate was expected"),
            (3, "d-small", "1024 bits"),
            (4, "e-private", "\"PRIVATE KEY\" is not a PUBLIC KEY"),
            (5, "f-text", "text outside PEM blocks"),
        ];
        for ((index, kid, reason), (e_index, e_kid, e_reason)) in reasons.iter().zip(expect) {
            assert_eq!((*index, *kid), (e_index, Some(e_kid)));
            assert!(
                reason.contains(e_reason),
                "{kid:?}: {reason:?} lacks {e_reason:?}"
            );
        }

        // Nothing usable: the usual error, listing the reasons.
        let err = parse_jwks(&x509_map(&entries[..2])).unwrap_err();
        assert_eq!(err.status, "JwksNoValidKeys");
        assert!(err.message.contains("(kid \"a-wrong\")"), "{}", err.message);
    }

    #[test]
    fn objects_that_are_not_x509_maps() {
        // jwt_verify_lib's own cases: none of these is a key map, so [keys] is missing.
        let table = [
            "{}",
            "{\"kid1\": [{\"kty\": \"EC\", \"alg\": \"ES1024\",}]}",
            "{\"kid1\": \"pubkey1\", \"kid2\": true}",
            "{\"kid1\": \"pubkey1\", \"kid2\": \"\"}",
            "{\"\": \"-----BEGIN CERTIFICATE-----\\nAAAA\\n-----END CERTIFICATE-----\\n\"}",
            "{\"kid1\": \"pubkey1\",}",
            "{\"kid1\": \"-----BEGIN CERTIFICATE-----\\npubkey1\",}",
            "{\"kid1\": \"pubkey1\\n-----END CERTIFICATE-----\\n\",}",
            "{\"kid1\": \"-----BEGIN CERTIFICATE-----\\nA\\n-----END CERTIFICATE-----\", \"kid2\": 1}",
        ];
        for text in table {
            let err = parse_jwks(text).unwrap_err();
            assert_eq!(err.status, "JwksNoKeys", "{text}: {err}");
        }
        // Shape right, content wrong: a map whose entries are all unusable.
        let err = parse_jwks("{\"kid1\": \"-----BEGIN CERTIFICATE-----\\nwrong-pubkey\\n-----END CERTIFICATE-----\\n\",}").unwrap_err();
        assert_eq!(err.status, "JwksNoValidKeys", "{err}");
        // More entries than MAX_KEYS.
        let many: Vec<(String, String)> = (0..=MAX_KEYS)
            .map(|i| {
                (
                    format!("k{i}"),
                    "-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----".to_owned(),
                )
            })
            .collect();
        let many: Vec<(&str, String)> =
            many.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        let err = parse_jwks(&x509_map(&many)).unwrap_err();
        assert_eq!(err.status, "JwksParseError", "{err}");
    }

    /// Every kind of PEM block, one key each.
    fn pem_text() -> (String, Vec<(Key, Alg)>) {
        let kinds = kinds();
        let mut text = String::from("\n  ");
        for (i, (key, _)) in kinds.iter().enumerate() {
            let material = material(&key.public_jwk());
            let spki = spki_der(&material);
            text.push_str(&match (&material, i % 2) {
                (x509::KeyMaterial::Rsa { n, e }, _) => {
                    pem("RSA PUBLIC KEY", &pkcs1_der(n, e)) + &pem("PUBLIC KEY", &spki)
                }
                (_, 0) => pem("PUBLIC KEY", &spki),
                _ => pem("CERTIFICATE", &certificate_der(&spki)),
            });
            text.push('\n');
        }
        (text, kinds)
    }

    #[test]
    fn pem_in_local_jwks() {
        let (text, kinds) = pem_text();
        let (set, skipped) = parse_local_jwks_report(&text).unwrap();
        assert!(skipped.is_empty(), "{skipped:?}");
        // RSA twice (PKCS#1 and SPKI), then one key of each other kind.
        assert_eq!(set.len(), kinds.len() + 1);
        for jwk in &set.keys {
            assert_eq!((jwk.kid.as_deref(), jwk.alg), (None, None));
            assert_ne!(jwk.key.family(), Family::Hmac);
        }
        for (key, alg) in &kinds {
            let jwk = set.keys.iter().find(|j| j.key.supports(*alg)).unwrap();
            assert_verifies(jwk, key, *alg);
        }
        assert_eq!(parse_jwks(&text).unwrap().len(), kinds.len() + 1);
    }

    #[test]
    fn pem_is_not_a_remote_jwks() {
        let (text, _) = pem_text();
        let err = parse_jwks_report(&text).unwrap_err();
        assert_eq!(err.status, "JwksParseError");
        assert_eq!(
            err.message,
            "Jwks is PEM, which only local_jwks.inline_string accepts"
        );
    }

    #[test]
    fn pem_errors() {
        let (good, _) = pem_text();
        let ed = pem(
            "PUBLIC KEY",
            &spki_der(&material(&kinds()[5].0.public_jwk())),
        );

        // A bad block is skipped and named by position; the others are kept.
        let text = format!("{ed}{}{ed}", pem("PRIVATE KEY", b"k"));
        let (set, skipped) = parse_local_jwks_report(&text).unwrap();
        assert_eq!(set.len(), 2);
        assert_eq!(
            skipped,
            [Skipped {
                index: 1,
                kid: None,
                reason: "PEM block \"PRIVATE KEY\" is not a PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE".into()
            }]
        );

        let table = [
            (
                "only bad blocks",
                pem("CERTIFICATE", b"junk"),
                "JwksNoValidKeys",
                "key 0: certificate is not valid DER",
            ),
            (
                "text after",
                format!("{good}# comment"),
                "JwksParseError",
                "Jwks is not valid PEM: text outside PEM blocks",
            ),
            (
                "unterminated",
                "-----BEGIN PUBLIC KEY-----\nAAAA".to_owned(),
                "JwksParseError",
                "no -----END line",
            ),
            (
                "too many blocks",
                ed.repeat(x509::MAX_PEM_BLOCKS + 1),
                "JwksParseError",
                "more than 100 PEM blocks",
            ),
            (
                "too large",
                format!("{ed}{}", " ".repeat(x509::MAX_PEM_BYTES)),
                "JwksParseError",
                "PEM text is",
            ),
        ];
        for (name, text, status, message) in table {
            let err = parse_jwks(&text).unwrap_err();
            assert_eq!(err.status, status, "{name}: {err}");
            assert!(err.message.contains(message), "{name}: {err}");
        }
    }
}
