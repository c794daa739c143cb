//! Feature `verifiers`: makes every signature verifier of the filter (src/crypto/) reachable from
//! `on_configure`, so the module carries their code and V8 compiles it at load, while the
//! requests stay the no-op filter's. The inputs pass through `black_box`: the compiler cannot
//! know them, so no verifier is folded away. At run time the zero keys are refused at parse
//! (points off the curve, a short modulus), which costs nothing; the code is what is priced.

use std::hint::black_box;

use crate::crypto::alg::Alg;
use crate::crypto::{Curve, PublicKey};

/// Builds a key of each kind from unknown bytes and verifies an unknown signature with every
/// algorithm the key supports. Returns how many verified (zero, with the zero inputs).
pub fn exercise() -> usize {
    let bytes = black_box([0u8; 1024]);
    let input = black_box(&bytes[..64]);
    let signature = black_box(&bytes[..]);
    let mut keys = Vec::new();
    keys.extend(PublicKey::rsa(black_box(&bytes[..256]), black_box(&bytes[..3])).ok());
    for curve in [Curve::P256, Curve::P384, Curve::P521, Curve::Secp256k1] {
        let n = curve.field_len();
        keys.extend(PublicKey::ec(curve, black_box(&bytes[..n]), black_box(&bytes[n..2 * n])).ok());
    }
    keys.extend(PublicKey::ed25519(black_box(&bytes[..32])).ok());
    keys.extend(PublicKey::hmac(black_box(&bytes[..32])).ok());
    let mut verified = 0;
    for key in &keys {
        for alg in Alg::ALL {
            if key.supports(alg) && key.verify(alg, input, signature).is_ok() {
                verified += 1;
            }
        }
    }
    black_box(verified)
}
