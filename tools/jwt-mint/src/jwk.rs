//! JWK (RFC 7517/7518/8037) export and import of [`Key`]s: public JWKs for the filter's JWKS,
//! private JWKs so demo and fixture keys can be committed and reloaded.

use std::str::FromStr;

use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rsa::{BoxedUint, RsaPrivateKey};
use serde_json::{json, Map, Value};

use crate::alg::Alg;
use crate::key::{Key, Secret};
use crate::{b64url, b64url_decode};

macro_rules! ec_xy {
    ($sk:expr) => {{
        let point = $sk.verifying_key().to_sec1_point(false);
        // Uncompressed SEC1: 0x04 || X || Y, each coordinate padded to the field size.
        let coords = point.as_bytes().get(1..).unwrap_or_default();
        let (x, y) = coords.split_at(coords.len() / 2);
        (b64url(x), b64url(y))
    }};
}

macro_rules! ec_from_d {
    ($curve:ident, $variant:ident, $d:expr) => {{
        let size = <$curve::FieldBytes>::default().len();
        if $d.len() != size {
            return Err(format!("EC `d` must be {size} bytes, got {}", $d.len()));
        }
        $curve::ecdsa::SigningKey::from_slice(&$d)
            .map(Secret::$variant)
            .map_err(|e| format!("bad EC private key: {e}"))?
    }};
}

impl Key {
    /// The public JWK: `{kty, kid, alg, use: "sig", n/e | crv/x/y | crv/x | k}`. For HMAC the
    /// "public" key is the shared secret itself.
    pub fn public_jwk(&self) -> Value {
        let mut jwk = json!({
            "kty": self.alg.family().kty(),
            "kid": self.kid,
            "alg": self.alg.name(),
            "use": "sig",
        });
        let fields = public_fields(&self.secret);
        if let (Some(obj), Some(crv)) = (jwk.as_object_mut(), self.alg.curve()) {
            obj.insert("crv".into(), crv.into());
        }
        extend(&mut jwk, fields);
        jwk
    }

    /// The private JWK: the public JWK plus `d` (and `p q dp dq qi` for RSA).
    pub fn private_jwk(&self) -> Value {
        let mut jwk = self.public_jwk();
        let fields = match &self.secret {
            Secret::Rsa(k) => {
                let mut f = vec![("d", uint(k.d()))];
                if let [p, q] = k.primes() {
                    f.push(("p", uint(p)));
                    f.push(("q", uint(q)));
                }
                if let (Some(dp), Some(dq), Some(qi)) = (k.dp(), k.dq(), k.crt_coefficient()) {
                    f.push(("dp", uint(dp)));
                    f.push(("dq", uint(dq)));
                    f.push(("qi", uint(&qi)));
                }
                f
            }
            Secret::P256(sk) => vec![("d", b64url(&sk.to_bytes()))],
            Secret::K256(sk) => vec![("d", b64url(&sk.to_bytes()))],
            Secret::P384(sk) => vec![("d", b64url(&sk.to_bytes()))],
            Secret::P521(sk) => vec![("d", b64url(&sk.to_bytes()))],
            Secret::Ed25519(sk) => vec![("d", b64url(sk.as_bytes()))],
            Secret::Oct(_) => vec![],
        };
        extend(&mut jwk, fields);
        jwk
    }

    /// Loads a private JWK as written by [`Key::private_jwk`]. `alg` may be absent (then RS256,
    /// HS256, EdDSA or the curve's ES* is assumed); `kid` may be absent (empty). Public members,
    /// when present, must agree with the private ones.
    pub fn from_jwk(jwk: &Value) -> Result<Key, String> {
        let obj = jwk.as_object().ok_or("a JWK must be a JSON object")?;
        let kty = str_field(obj, "kty")?.ok_or("JWK has no `kty`")?;
        let crv = str_field(obj, "crv")?;
        let alg = match str_field(obj, "alg")? {
            Some(name) => Alg::from_str(name)?,
            None => default_alg(kty, crv)?,
        };
        if alg.family().kty() != kty {
            return Err(format!(
                "alg {alg} needs kty {:?}, JWK has {kty:?}",
                alg.family().kty()
            ));
        }
        if alg.curve().is_some() && crv != alg.curve() {
            return Err(format!(
                "alg {alg} needs crv {:?}, JWK has {crv:?}",
                alg.curve()
            ));
        }
        let kid = str_field(obj, "kid")?.unwrap_or_default().to_owned();
        let bytes = |name: &str| -> Result<Vec<u8>, String> {
            let s = str_field(obj, name)?
                .ok_or_else(|| format!("{kty} private JWK has no `{name}`"))?;
            b64url_decode(s).map_err(|e| format!("JWK `{name}`: {e}"))
        };
        let secret = match alg {
            Alg::RS256 | Alg::RS384 | Alg::RS512 | Alg::PS256 | Alg::PS384 | Alg::PS512 => {
                let [n, e, d, p, q] = ["n", "e", "d", "p", "q"]
                    .map(|f| bytes(f).map(|b| BoxedUint::from_be_slice_vartime(&b)));
                let key = RsaPrivateKey::from_components(n?, e?, d?, vec![p?, q?])
                    .map_err(|e| format!("bad RSA private key: {e}"))?;
                Secret::Rsa(Box::new(key))
            }
            Alg::ES256 => ec_from_d!(p256, P256, bytes("d")?),
            Alg::ES256K => ec_from_d!(k256, K256, bytes("d")?),
            Alg::ES384 => ec_from_d!(p384, P384, bytes("d")?),
            Alg::ES512 => ec_from_d!(p521, P521, bytes("d")?),
            Alg::EdDSA => {
                let d: [u8; 32] = bytes("d")?
                    .try_into()
                    .map_err(|_| "Ed25519 `d` must be 32 bytes")?;
                Secret::Ed25519(ed25519_dalek::SigningKey::from_bytes(&d))
            }
            Alg::HS256 | Alg::HS384 | Alg::HS512 => Secret::Oct(bytes("k")?),
        };
        // Public members that were given must be the ones the private key implies.
        for (name, value) in public_fields(&secret) {
            if let Some(given) = str_field(obj, name)? {
                if given != value {
                    return Err(format!("JWK `{name}` does not match its private key"));
                }
            }
        }
        Ok(Key { alg, kid, secret })
    }
}

fn public_fields(secret: &Secret) -> Vec<(&'static str, String)> {
    let xy = |(x, y): (String, String)| vec![("x", x), ("y", y)];
    match secret {
        Secret::Rsa(k) => vec![("n", uint(k.n())), ("e", uint(k.e()))],
        Secret::P256(sk) => xy(ec_xy!(sk)),
        Secret::K256(sk) => xy(ec_xy!(sk)),
        Secret::P384(sk) => xy(ec_xy!(sk)),
        Secret::P521(sk) => xy(ec_xy!(sk)),
        Secret::Ed25519(sk) => vec![("x", b64url(sk.verifying_key().as_bytes()))],
        Secret::Oct(k) => vec![("k", b64url(k))],
    }
}

fn default_alg(kty: &str, crv: Option<&str>) -> Result<Alg, String> {
    match kty {
        "RSA" => Ok(Alg::RS256),
        "oct" => Ok(Alg::HS256),
        "EC" | "OKP" => Alg::ALL
            .into_iter()
            .find(|a| a.family().kty() == kty && a.curve() == crv)
            .ok_or_else(|| format!("unsupported {kty} curve {crv:?}")),
        _ => Err(format!("unsupported kty {kty:?}")),
    }
}

fn str_field<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, String> {
    match obj.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("JWK `{name}` must be a string")),
    }
}

fn extend(jwk: &mut Value, fields: Vec<(&'static str, String)>) {
    if let Some(obj) = jwk.as_object_mut() {
        obj.extend(
            fields
                .into_iter()
                .map(|(k, v)| (k.to_owned(), Value::String(v))),
        );
    }
}

/// Big-endian, no leading zero bytes (RFC 7518 §6.3.1).
fn uint(n: &BoxedUint) -> String {
    b64url(&n.to_be_bytes_trimmed_vartime())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alg::Family;

    #[test]
    fn private_jwk_round_trips_for_every_alg() {
        for alg in Alg::ALL {
            let key = Key::from_seed(alg, "rt", 11);
            let back = Key::from_jwk(&key.private_jwk()).unwrap();
            assert_eq!(back.alg(), alg);
            assert_eq!(back.kid(), "rt");
            assert_eq!(back.private_jwk(), key.private_jwk(), "{alg}");
            // Deterministic signers must agree byte for byte.
            if !matches!(alg, Alg::PS256 | Alg::PS384 | Alg::PS512) {
                assert_eq!(back.sign_raw(b"m"), key.sign_raw(b"m"), "{alg}");
            }
        }
    }

    #[test]
    fn public_jwk_has_the_members_of_its_kty_and_no_private_ones() {
        for alg in Alg::ALL {
            let jwk = Key::from_seed(alg, "k1", 3).public_jwk();
            let mut names: Vec<&str> = jwk
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            names.sort_unstable();
            let expected: &[&str] = match alg.family() {
                Family::Rsa => &["alg", "e", "kid", "kty", "n", "use"],
                Family::Ec => &["alg", "crv", "kid", "kty", "use", "x", "y"],
                Family::Okp => &["alg", "crv", "kid", "kty", "use", "x"],
                Family::Oct => &["alg", "k", "kid", "kty", "use"],
            };
            assert_eq!(names, expected, "{alg}");
            assert_eq!(jwk["alg"], alg.name());
            assert_eq!(jwk["use"], "sig");
        }
    }

    #[test]
    fn coordinates_are_padded_to_the_field_size() {
        for (alg, len) in [
            (Alg::ES256, 32),
            (Alg::ES256K, 32),
            (Alg::ES384, 48),
            (Alg::ES512, 66),
        ] {
            for seed in 0..8 {
                let jwk = Key::from_seed(alg, "c", seed).private_jwk();
                for member in ["x", "y", "d"] {
                    let raw = b64url_decode(jwk[member].as_str().unwrap()).unwrap();
                    assert_eq!(raw.len(), len, "{alg} {member}");
                }
            }
        }
    }

    #[test]
    fn rsa_members_have_no_leading_zero_byte() {
        let jwk = Key::from_seed(Alg::RS256, "r", 5).private_jwk();
        assert_eq!(jwk["e"], "AQAB");
        assert_eq!(
            b64url_decode(jwk["n"].as_str().unwrap()).unwrap().len(),
            256
        );
        for member in ["n", "d", "p", "q", "dp", "dq", "qi"] {
            let raw = b64url_decode(jwk[member].as_str().unwrap()).unwrap();
            assert_ne!(raw.first(), Some(&0), "{member}");
        }
    }

    #[test]
    fn alg_defaults_from_kty_and_crv() {
        for alg in [
            Alg::RS256,
            Alg::ES256,
            Alg::ES256K,
            Alg::ES384,
            Alg::ES512,
            Alg::EdDSA,
            Alg::HS256,
        ] {
            let mut jwk = Key::from_seed(alg, "d", 1).private_jwk();
            jwk.as_object_mut().unwrap().remove("alg");
            assert_eq!(Key::from_jwk(&jwk).unwrap().alg(), alg);
        }
    }

    #[test]
    fn inconsistent_jwks_are_refused() {
        let es = Key::from_seed(Alg::ES256, "e", 1).private_jwk();
        let other = Key::from_seed(Alg::ES256, "e", 2).private_jwk();
        let cases = [
            json!("not an object"),
            json!({"kty": "EC"}),
            json!({"kty": "dsa", "k": "AA"}),
            {
                let mut j = es.clone();
                j["x"] = other["x"].clone();
                j
            },
            {
                let mut j = es.clone();
                j["alg"] = json!("ES384");
                j
            },
            {
                let mut j = es.clone();
                j["alg"] = json!("RS256");
                j
            },
            {
                let mut j = es.clone();
                j["d"] = json!("AAAA");
                j
            },
            {
                let mut j = es.clone();
                j["kid"] = json!(7);
                j
            },
        ];
        for jwk in cases {
            assert!(Key::from_jwk(&jwk).is_err(), "{jwk}");
        }
    }
}
