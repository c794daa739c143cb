//! The JWS algorithms this filter implements (RFC 7518 §3 plus ES256K from RFC 8812 and EdDSA
//! from RFC 8037). The token's `alg` is only ever looked up in this closed table: `none` and
//! anything unknown never reach a key.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    Rs256,
    Rs384,
    Rs512,
    Ps256,
    Ps384,
    Ps512,
    Es256,
    Es256k,
    Es384,
    Es512,
    Hs256,
    Hs384,
    Hs512,
    EdDsa,
}

/// The family of key an algorithm needs; a key of another family never verifies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Rsa,
    Ec,
    Hmac,
    Okp,
}

impl Alg {
    pub const ALL: [Alg; 14] = [
        Alg::Rs256,
        Alg::Rs384,
        Alg::Rs512,
        Alg::Ps256,
        Alg::Ps384,
        Alg::Ps512,
        Alg::Es256,
        Alg::Es256k,
        Alg::Es384,
        Alg::Es512,
        Alg::Hs256,
        Alg::Hs384,
        Alg::Hs512,
        Alg::EdDsa,
    ];

    pub fn parse(name: &str) -> Option<Alg> {
        Alg::ALL.into_iter().find(|a| a.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Rs384 => "RS384",
            Alg::Rs512 => "RS512",
            Alg::Ps256 => "PS256",
            Alg::Ps384 => "PS384",
            Alg::Ps512 => "PS512",
            Alg::Es256 => "ES256",
            Alg::Es256k => "ES256K",
            Alg::Es384 => "ES384",
            Alg::Es512 => "ES512",
            Alg::Hs256 => "HS256",
            Alg::Hs384 => "HS384",
            Alg::Hs512 => "HS512",
            Alg::EdDsa => "EdDSA",
        }
    }

    pub fn family(self) -> Family {
        match self {
            Alg::Rs256 | Alg::Rs384 | Alg::Rs512 | Alg::Ps256 | Alg::Ps384 | Alg::Ps512 => {
                Family::Rsa
            }
            Alg::Es256 | Alg::Es256k | Alg::Es384 | Alg::Es512 => Family::Ec,
            Alg::Hs256 | Alg::Hs384 | Alg::Hs512 => Family::Hmac,
            Alg::EdDsa => Family::Okp,
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for alg in Alg::ALL {
            assert_eq!(Alg::parse(alg.name()), Some(alg));
        }
    }

    #[test]
    fn none_and_lowercase_are_unknown() {
        for name in [
            "none", "None", "NONE", "rs256", "HS256 ", "", "ES256k", "Ed25519",
        ] {
            assert_eq!(Alg::parse(name), None, "{name}");
        }
    }
}
