//! RSA signature verification (RFC 8017 §8.1.2 RSASSA-PSS-VERIFY and §8.2.2
//! RSASSA-PKCS1-V1_5-VERIFY) for the JWS RS* and PS* algorithms, on a small public-key operation
//! of its own: `s^e mod n` for `e` = 3 or 65537 by Montgomery multiplication, on one of two
//! [`Engine`]s. Where the wasm engine fuses relaxed SIMD's multiply-add (V8 on x64 with FMA3
//! and on arm64), [`Engine::Fma`] (`mont52`): 50-bit limbs in doubles, 0.6–0.7 of the time.
//! Elsewhere, and as the reference it is checked against once per VM, [`Engine::Int`]
//! (`int28`): 28-bit limbs with 64-bit accumulators, on SIMD128 lanes where the build has them.
//! Which of these a wasm build has is chosen when it is compiled ([`Simd`]), so that a build
//! holds no opcode its host lacks: the default one needs a host with wasm SIMD and relaxed SIMD
//! (Envoy's V8 has both), the `simd128` one only SIMD128 and the 28-bit engine, the portable one
//! no SIMD at all (docs/builds.md). A fixed short addition chain needs no general
//! exponentiation, so a verification costs a few times less under V8 than a general bignum
//! library does.
//!
//! Everything that depends only on the key (limbs of `n`, `-n⁻¹ mod 2²⁸`, `R² mod n`, sizes,
//! and the same for `mont52`) is computed once in [`RsaPublic::new`]. Every input here is
//! public (key, message, signature), so the code is variable-time by design; it never sees a
//! secret.
//!
//! The encoded message is checked by `padding`, which rebuilds what a correct signer would have
//! produced (RFC 8017 §9) and compares.

use std::cmp::Ordering;
use std::fmt;
use std::iter;
use std::sync::OnceLock;

mod int28;
mod mont52;
mod padding;

use int28::{
    be_from_limbs, compare, limb_count, limbs_from_be, mont_mul, mont_sqr, neg_inverse, r_squared,
    reduce_once, Scratch, PAD,
};
use padding::{pkcs1v15_matches, pss_matches};

/// The public exponents accepted (as Envoy: other values are refused at key load).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exponent {
    E3,
    E65537,
}

impl Exponent {
    /// Parses a big-endian exponent; leading zero bytes are allowed.
    pub fn from_be_bytes(e: &[u8]) -> Option<Exponent> {
        match strip_leading_zeros(e) {
            [3] => Some(Exponent::E3),
            [1, 0, 1] => Some(Exponent::E65537),
            _ => None,
        }
    }

    pub fn value(self) -> u32 {
        match self {
            Exponent::E3 => 3,
            Exponent::E65537 => 65537,
        }
    }
}

/// The hash of an RS*/PS* algorithm (also the MGF1 hash for PSS).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    /// Output length in bytes (`hLen`).
    pub fn output_len(self) -> usize {
        match self {
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
            Hash::Sha512 => 64,
        }
    }
}

/// The signature schemes of RFC 8017 §8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    /// RSASSA-PKCS1-v1_5 (JWS RS*).
    Pkcs1v15,
    /// RSASSA-PSS with MGF1 of the same hash and `sLen = hLen` (JWS PS*).
    Pss,
}

/// Why a signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The signature is not exactly as long as the modulus (RFC 8017 §8.1.2 step 1).
    Length,
    /// The signature, as an integer, is not below the modulus (RSAVP1 step 1).
    OutOfRange,
    /// The recovered encoded message is not the one expected for this message and hash.
    Encoding,
}

/// The wasm SIMD a build uses, set at compile time by the cargo features `simd128` and
/// `relaxed-simd` (docs/builds.md). It decides which engines the build has: only
/// [`Simd::Relaxed`] carries [`Engine::Fma`], and [`Engine::Int`] runs on SIMD128 lanes unless
/// the build is [`Simd::None`]. Native builds run every engine on arrays, whatever the features.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Simd {
    /// No SIMD (`dist/jwt_authn.portable.wasm`): for runtimes without it, such as WAMR.
    None,
    /// SIMD128 without relaxed SIMD (`dist/jwt_authn.simd128.wasm`): V8 before 11.4,
    /// wasmtime and WasmEdge with relaxed SIMD off.
    Simd128,
    /// SIMD128 and relaxed SIMD (`dist/jwt_authn.wasm`, the default).
    Relaxed,
}

impl Simd {
    /// This build's.
    pub const BUILT: Simd = if cfg!(feature = "relaxed-simd") {
        Simd::Relaxed
    } else if cfg!(feature = "simd128") {
        Simd::Simd128
    } else {
        Simd::None
    };
}

/// How [`RsaPublic::public_op`] computes `s^e mod n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// 50-bit limbs in doubles, exact products from fused multiply-add (`mont52`): 0.6–0.7 of
    /// the time of [`Engine::Int`] under V8. Only in a build with relaxed SIMD, where the
    /// engine's multiply-add is fused.
    Fma,
    /// 28-bit limbs on 32×32→64-bit multiplies: everywhere.
    Int,
}

impl Engine {
    /// Whether this build has the engine at all: [`Engine::Fma`] only in a wasm build with
    /// relaxed SIMD ([`Simd::Relaxed`]), and in every native build (`f64::mul_add`).
    pub const fn built(self) -> bool {
        match self {
            Engine::Int => true,
            Engine::Fma => !cfg!(target_arch = "wasm32") || matches!(Simd::BUILT, Simd::Relaxed),
        }
    }

    /// [`Engine::Fma`] in a wasm build where it is [available](Engine::available), else
    /// [`Engine::Int`]. A native build without hardware FMA (the default x86-64 target) computes
    /// a fused multiply-add in software, far slower than [`Engine::Int`], so picks that one;
    /// its tests run both engines by name.
    pub fn best() -> Engine {
        let fast_here = cfg!(any(target_arch = "wasm32", target_feature = "fma"));
        if fast_here && Engine::Fma.available() {
            Engine::Fma
        } else {
            Engine::Int
        }
    }

    /// The line logged once per VM: this engine, in a build with `simd`, and why it is the one
    /// (the build has no other, or the host does not fuse multiply-add). The cost is RSA-2048's
    /// public operation against [`Engine::Fma`] under V8 (docs/builds.md).
    pub fn describe(self, simd: Simd) -> &'static str {
        match (self, simd) {
            (Engine::Fma, _) => "RSA signatures checked on 50-bit limbs with fused multiply-add",
            (Engine::Int, Simd::Relaxed) => {
                "RSA signatures checked on 28-bit limbs with SIMD128: this host does not fuse \
                 multiply-add (RS*/PS* checks take about 1.5 times as long)"
            }
            (Engine::Int, Simd::Simd128) => {
                "RSA signatures checked on 28-bit limbs with SIMD128: this build \
                 (jwt_authn.simd128.wasm) has no relaxed SIMD, so no fused multiply-add \
                 (RS*/PS* checks take about 1.5 times as long as in jwt_authn.wasm)"
            }
            (Engine::Int, Simd::None) => {
                "RSA signatures checked on 28-bit limbs without SIMD: this build \
                 (jwt_authn.portable.wasm) has no SIMD (RS*/PS* checks take about 2.6 times as \
                 long as in jwt_authn.wasm)"
            }
        }
    }

    /// Whether keys can be on this engine: always for [`Engine::Int`]; for [`Engine::Fma`],
    /// where the build [has it](Engine::built), multiply-add is fused and, on a fixed 2046-bit
    /// key, it gives what [`Engine::Int`] gives. Found once per VM.
    pub fn available(self) -> bool {
        static FMA: OnceLock<bool> = OnceLock::new();
        match self {
            Engine::Int => true,
            Engine::Fma => {
                self.built() && *FMA.get_or_init(|| mont52::fused() && fma_agrees_with_int())
            }
        }
    }
}

/// The known-answer check behind [`Engine::available`]: both engines on a fixed odd 256-byte
/// modulus (2046 bits) and two values below it, e = 65537. (The tests check the engines against
/// each other and the `rsa` crate on many more; this catches an engine that fuses the one test
/// product but not the products of the loop.)
fn fma_agrees_with_int() -> bool {
    let n: Vec<u8> = (0..256u32)
        .map(|i| (i.wrapping_mul(73).wrapping_add(41) % 256) as u8 | u8::from(i == 255))
        .collect();
    let Some(mut key) = RsaPublic::build(&n, Exponent::E65537) else {
        return false;
    };
    key.fast = mont52::Modulus::new(&n, key.bits);
    // n's first byte is 41: both values are below n.
    let halves: Vec<u8> = n.iter().map(|b| b >> 1).collect();
    let below: Vec<u8> = iter::once(40).chain(iter::repeat_n(0xab, 255)).collect();
    [halves, below].iter().all(|s| {
        let limbs = limbs_from_be(s, key.n.len());
        key.fast_op(s)
            .is_some_and(|fast| fast == key.int_op(&limbs))
    })
}

/// An RSA public key in the form the verifier uses, precomputed once per key.
#[derive(Clone)]
pub struct RsaPublic {
    /// `n` as little-endian 28-bit limbs: `L = limb_count(bits)` of them, then `PAD` zero limbs.
    n: Vec<u32>,
    /// `-n⁻¹ mod 2²⁸`, the Montgomery reduction factor.
    n0_inv: u32,
    /// `R² mod n` with `R = 2^(28·L)`, as `n`: multiplying by it enters Montgomery form.
    r2: Vec<u32>,
    e: Exponent,
    /// `k`, the modulus length in bytes: every signature is exactly this long.
    byte_len: usize,
    bits: usize,
    /// The same modulus for `mont52`, under [`Engine::Fma`].
    fast: Option<mont52::Modulus>,
}

/// Limbs are not worth printing; the size and exponent identify the key well enough in logs.
impl fmt::Debug for RsaPublic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RsaPublic")
            .field("bits", &self.bits)
            .field("e", &self.e.value())
            .field("engine", &self.engine())
            .finish_non_exhaustive()
    }
}

impl RsaPublic {
    /// The key with big-endian modulus `n` (leading zero bytes allowed), on the
    /// [best](Engine::best) engine. `None` if `n` is even or below 3: Montgomery arithmetic
    /// needs an odd modulus, and no RSA modulus is even. Size limits are the caller's policy.
    pub fn new(n: &[u8], e: Exponent) -> Option<RsaPublic> {
        RsaPublic::with_engine(n, e, Engine::best())
    }

    /// As [`new`](Self::new), on `engine`. `None` also for [`Engine::Fma`] where it is not
    /// [available](Engine::available).
    pub fn with_engine(n: &[u8], e: Exponent, engine: Engine) -> Option<RsaPublic> {
        let mut key = RsaPublic::build(n, e)?;
        if engine == Engine::Fma {
            if !Engine::Fma.available() {
                return None;
            }
            key.fast = Some(mont52::Modulus::new(strip_leading_zeros(n), key.bits)?);
        }
        Some(key)
    }

    /// The key on [`Engine::Int`].
    fn build(n: &[u8], e: Exponent) -> Option<RsaPublic> {
        let n_bytes = strip_leading_zeros(n);
        let bits = bit_len(n_bytes);
        let byte_len = n_bytes.len();
        let n = limbs_from_be(n_bytes, limb_count(bits) + PAD);
        let low = *n.first()?;
        if low & 1 == 0 || bits < 2 {
            return None;
        }
        let n0_inv = neg_inverse(low);
        let r2 = r_squared(&n, n0_inv, bits);
        Some(RsaPublic {
            n,
            n0_inv,
            r2,
            e,
            byte_len,
            bits,
            fast: None,
        })
    }

    /// The engine this key's public operation runs on.
    pub fn engine(&self) -> Engine {
        if self.fast.is_some() {
            Engine::Fma
        } else {
            Engine::Int
        }
    }

    /// Modulus size in bits.
    pub fn bits(&self) -> usize {
        self.bits
    }

    /// Modulus size in bytes (`k`), the length of every signature.
    pub fn byte_len(&self) -> usize {
        self.byte_len
    }

    pub fn exponent(&self) -> Exponent {
        self.e
    }

    /// Verifies `signature` over `message` (hashed here with `hash`).
    pub fn verify(
        &self,
        padding: Padding,
        hash: Hash,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), Refused> {
        let em = self.public_op(signature)?;
        let m_hash = hash.digest(&[message]);
        let good = match padding {
            Padding::Pkcs1v15 => pkcs1v15_matches(&em, hash, &m_hash),
            Padding::Pss => pss_matches(&em, self.bits - 1, hash, &m_hash),
        };
        if good {
            Ok(())
        } else {
            Err(Refused::Encoding)
        }
    }

    /// RSAVP1 with its I2OSP (RFC 8017 §5.2.2, §8.1.2 step 2): `signature^e mod n` as
    /// [`byte_len`](Self::byte_len) big-endian bytes. Refuses a signature of the wrong length or
    /// not below `n`.
    pub fn public_op(&self, signature: &[u8]) -> Result<Vec<u8>, Refused> {
        if signature.len() != self.byte_len {
            return Err(Refused::Length);
        }
        let s = limbs_from_be(signature, self.n.len());
        if compare(&s, &self.n) != Ordering::Less {
            return Err(Refused::OutOfRange);
        }
        Ok(self.fast_op(signature).unwrap_or_else(|| self.int_op(&s)))
    }

    /// Squarings of the addition chain: `e = 2^k + 1`.
    fn squarings(&self) -> usize {
        match self.e {
            Exponent::E3 => 1,
            Exponent::E65537 => 16,
        }
    }

    /// `signature^e mod n` on [`Engine::Fma`], for a signature of `byte_len` bytes below `n`.
    fn fast_op(&self, signature: &[u8]) -> Option<Vec<u8>> {
        // A constant: in a build without the engine, the compiler drops its code.
        if !Engine::Fma.built() {
            return None;
        }
        self.fast
            .as_ref()?
            .pow(signature, self.squarings(), self.byte_len)
    }

    /// `s^e mod n` on [`Engine::Int`], for `s` below `n` as limbs (as `n`).
    fn int_op(&self, s: &[u32]) -> Vec<u8> {
        // x = s·R (Montgomery form). Squarings keep the form: x = s^(2^i)·R. The last product
        // takes the plain s, and Montgomery's R⁻¹ cancels the R: out = s^e, no conversion back.
        // Values stay below 2n (not n) until that last product is reduced.
        let (n, n0_inv) = (self.n.as_slice(), self.n0_inv);
        let mut scratch = Scratch::new(n.len().saturating_sub(PAD));
        let mut x = vec![0; n.len()];
        let mut t = vec![0; n.len()];
        mont_mul(&mut x, s, &self.r2, n, n0_inv, &mut scratch);
        for _ in 0..self.squarings() {
            mont_sqr(&mut t, &x, n, n0_inv, &mut scratch);
            std::mem::swap(&mut x, &mut t);
        }
        mont_mul(&mut t, &x, s, n, n0_inv, &mut scratch);
        reduce_once(&mut t, n);
        be_from_limbs(&t, self.byte_len)
    }
}

pub(crate) fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

/// Bit length of a big-endian integer without leading zero bytes.
pub(crate) fn bit_len(bytes: &[u8]) -> usize {
    match bytes.first() {
        None => 0,
        Some(&top) => bytes.len() * 8 - top.leading_zeros() as usize,
    }
}

#[cfg(test)]
mod tests;
