//! The JWS algorithm names jwt-mint can sign with, and which key family each needs. Kept apart
//! from the filter's own table on purpose: the minting side must not share code with the code
//! it is used to test.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(clippy::upper_case_acronyms)]
pub enum Alg {
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES256K,
    ES384,
    ES512,
    HS256,
    HS384,
    HS512,
    EdDSA,
}

/// The kind of key an algorithm signs with (the JWK `kty`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Rsa,
    Ec,
    Oct,
    Okp,
}

impl Alg {
    pub const ALL: [Alg; 14] = [
        Alg::RS256,
        Alg::RS384,
        Alg::RS512,
        Alg::PS256,
        Alg::PS384,
        Alg::PS512,
        Alg::ES256,
        Alg::ES256K,
        Alg::ES384,
        Alg::ES512,
        Alg::HS256,
        Alg::HS384,
        Alg::HS512,
        Alg::EdDSA,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Alg::RS256 => "RS256",
            Alg::RS384 => "RS384",
            Alg::RS512 => "RS512",
            Alg::PS256 => "PS256",
            Alg::PS384 => "PS384",
            Alg::PS512 => "PS512",
            Alg::ES256 => "ES256",
            Alg::ES256K => "ES256K",
            Alg::ES384 => "ES384",
            Alg::ES512 => "ES512",
            Alg::HS256 => "HS256",
            Alg::HS384 => "HS384",
            Alg::HS512 => "HS512",
            Alg::EdDSA => "EdDSA",
        }
    }

    pub fn family(self) -> Family {
        match self {
            Alg::RS256 | Alg::RS384 | Alg::RS512 | Alg::PS256 | Alg::PS384 | Alg::PS512 => {
                Family::Rsa
            }
            Alg::ES256 | Alg::ES256K | Alg::ES384 | Alg::ES512 => Family::Ec,
            Alg::HS256 | Alg::HS384 | Alg::HS512 => Family::Oct,
            Alg::EdDSA => Family::Okp,
        }
    }

    /// The JWK `crv` of the curve an EC or OKP algorithm is bound to.
    pub fn curve(self) -> Option<&'static str> {
        match self {
            Alg::ES256 => Some("P-256"),
            Alg::ES256K => Some("secp256k1"),
            Alg::ES384 => Some("P-384"),
            Alg::ES512 => Some("P-521"),
            Alg::EdDSA => Some("Ed25519"),
            _ => None,
        }
    }
}

impl Family {
    pub fn kty(self) -> &'static str {
        match self {
            Family::Rsa => "RSA",
            Family::Ec => "EC",
            Family::Oct => "oct",
            Family::Okp => "OKP",
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Alg {
    type Err = String;

    /// Exact, case-sensitive JWS names, as in a JOSE header.
    fn from_str(s: &str) -> Result<Alg, String> {
        Alg::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| format!("unknown alg {s:?} (expected one of {})", names()))
    }
}

fn names() -> String {
    Alg::ALL.map(Alg::name).join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for alg in Alg::ALL {
            assert_eq!(alg.name().parse::<Alg>(), Ok(alg));
            assert_eq!(alg.to_string(), alg.name());
        }
    }

    #[test]
    fn unknown_and_wrong_case_names_are_refused() {
        for bad in ["none", "rs256", "ES256k", "", "HS1"] {
            assert!(bad.parse::<Alg>().is_err(), "{bad}");
        }
    }

    #[test]
    fn every_ec_and_okp_alg_has_a_curve() {
        for alg in Alg::ALL {
            let curved = matches!(alg.family(), Family::Ec | Family::Okp);
            assert_eq!(alg.curve().is_some(), curved, "{alg}");
        }
    }
}
