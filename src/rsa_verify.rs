//! RSA signature verification (RFC 8017 §8.1.2 RSASSA-PSS-VERIFY and §8.2.2
//! RSASSA-PKCS1-V1_5-VERIFY) for the JWS RS* and PS* algorithms, on a small public-key operation
//! of its own: `s^e mod n` for `e` = 3 or 65537 by Montgomery multiplication, on one of two
//! [`Engine`]s. Where the wasm engine fuses relaxed SIMD's multiply-add (V8 on x64 with FMA3
//! and on arm64), [`Engine::Fma`] (`mont52`): 50-bit limbs in doubles, 0.6–0.7 of the time.
//! Elsewhere, and as the reference it is checked against once per VM, [`Engine::Int`] (the
//! rest of this file): 28-bit limbs with 64-bit accumulators. Products of 28-bit limbs leave
//! room in an accumulator for a whole row's worth of them, so carries are delayed and the inner
//! loops only multiply and add, four limbs at a time: with wasm SIMD128 on wasm32
//! (`i64x2.extmul_*_i32x4_u`, two 32×32→64-bit products per instruction), and with plain arrays
//! elsewhere (the native tests run the same loops). Which of these a wasm build has is chosen
//! when it is compiled ([`Simd`]), so that a build holds no opcode its host lacks: the default
//! one needs a host with wasm SIMD and relaxed SIMD (Envoy's V8 has both), the `simd128` one
//! only SIMD128 and the 28-bit engine, the portable one no SIMD at all (docs/builds.md). A fixed
//! short addition chain needs no general exponentiation, so a verification costs a few times
//! less under V8 than a general bignum library does.
//!
//! Everything that depends only on the key (limbs of `n`, `-n⁻¹ mod 2²⁸`, `R² mod n`, sizes,
//! and the same for `mont52`) is computed once in [`RsaPublic::new`]. Every input here is
//! public (key, message, signature), so the code is variable-time by design; it never sees a
//! secret.
//!
//! Encodings are checked by rebuilding what a correct signer would have produced, never by
//! parsing: PKCS#1 v1.5 compares the whole encoded message with `00 01 FF.. 00 DigestInfo(H)`
//! (the DigestInfo prefixes are fixed byte strings, RFC 8017 §9.2 note 1), so no ASN.1 reader or
//! "lenient" variant exists to attack. PSS runs EMSA-PSS-VERIFY (§9.1.2) with MGF1 of the same
//! hash and a salt as long as the hash (RFC 7518 §3.5).

use std::cmp::Ordering;
use std::fmt;
use std::iter;
use std::sync::OnceLock;

use sha2::{Digest, Sha256, Sha384, Sha512};

#[path = "mont52.rs"]
mod mont52;

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

    /// The DER `DigestInfo` header that precedes the hash in a PKCS#1 v1.5 encoding
    /// (RFC 8017 §9.2 note 1).
    fn digest_info_prefix(self) -> &'static [u8] {
        match self {
            Hash::Sha256 => &[
                0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x01, 0x05, 0x00, 0x04, 0x20,
            ],
            Hash::Sha384 => &[
                0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x02, 0x05, 0x00, 0x04, 0x30,
            ],
            Hash::Sha512 => &[
                0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x03, 0x05, 0x00, 0x04, 0x40,
            ],
        }
    }

    /// The hash of the concatenation of `parts`.
    fn digest(self, parts: &[&[u8]]) -> Vec<u8> {
        fn run<D: Digest>(parts: &[&[u8]]) -> Vec<u8> {
            let mut hasher = D::new();
            for part in parts {
                hasher.update(part);
            }
            hasher.finalize().to_vec()
        }
        match self {
            Hash::Sha256 => run::<Sha256>(parts),
            Hash::Sha384 => run::<Sha384>(parts),
            Hash::Sha512 => run::<Sha512>(parts),
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

/// Bits per limb. A product of two limbs is below 2⁵⁶, so a 64-bit accumulator takes 255 of them
/// with room to spare: carries are propagated once per row, or once per [`ROWS_PER_CARRY`] rows,
/// instead of once per product, and the inner loops are multiply-and-add only.
const LIMB_BITS: u32 = 28;
const LIMB_MASK: u32 = (1 << LIMB_BITS) - 1;

/// Zero limbs kept after the last one, so the four-lane loops can read a whole group of four
/// past the end of a row without a scalar tail.
const PAD: usize = 4;

/// Rows of products an accumulator may take between two carry propagations. Once normalized an
/// accumulator is below 2²⁸; a row adds at most two products below 2⁵⁶ and one carry below 2³⁶,
/// so 64 rows keep it below 2²⁸ + 128·2⁵⁶ + 2³⁶ < 2⁶⁴.
const ROWS_PER_CARRY: usize = 64;

/// The limb count `L` for a modulus of `bits` bits: `R = 2^(28·L) > 4n`, which keeps every
/// Montgomery product below `2n` without a final subtraction (inputs below `2n` give
/// `(a·b + m·n)/R < (4n² + R·n)/R < 2n`), and a multiple of 4 for the four-lane loops.
fn limb_count(bits: usize) -> usize {
    (bits + 2).div_ceil(LIMB_BITS as usize).next_multiple_of(4)
}

/// Four-lane operations: wasm SIMD128 (`i64x2.extmul_{low,high}_i32x4_u`, two 32×32→64-bit
/// products per instruction) on wasm32 with the `simd128` feature, the same operations on arrays
/// elsewhere (natively, and in the portable wasm build, where they compile to scalar code), so
/// the native tests run the very loops the wasm build runs. `Quad` holds four limbs, `Pair` two 64-bit
/// accumulators.
#[cfg(all(target_arch = "wasm32", feature = "simd128"))]
mod lanes {
    use core::arch::wasm32::{
        i32x4_add, i64x2_add, i64x2_extmul_high_u32x4, i64x2_extmul_low_u32x4, u32x4, u32x4_splat,
        u64x2, u64x2_extract_lane, v128, v128_or,
    };

    pub type Quad = v128;
    pub type Pair = v128;

    #[inline]
    #[target_feature(enable = "simd128")]
    pub fn splat(x: u32) -> Quad {
        u32x4_splat(x)
    }

    /// A zero the compiler cannot see through (see [`opaque`]).
    #[inline]
    #[target_feature(enable = "simd128")]
    pub fn opaque_zero() -> Quad {
        std::hint::black_box(u32x4_splat(0))
    }

    /// `x + zero`: the same value, but not loop-invariant and not known to be a load. Without it
    /// LLVM hoists the zero-extension of a splat out of the loop, or narrows a load to
    /// `i64x2.load32x2_u`, and then multiplies with `i64x2.mul` (emulated by V8 on x64 with
    /// three 32-bit multiplies) instead of one `extmul`.
    #[inline]
    #[target_feature(enable = "simd128")]
    pub fn opaque(x: Quad, zero: Quad) -> Quad {
        i32x4_add(x, zero)
    }

    #[inline]
    #[target_feature(enable = "simd128")]
    pub fn quad(x: [u32; 4], zero: Quad) -> Quad {
        v128_or(u32x4(x[0], x[1], x[2], x[3]), zero)
    }

    #[inline]
    #[target_feature(enable = "simd128")]
    pub fn pair(x: [u64; 2]) -> Pair {
        u64x2(x[0], x[1])
    }

    #[inline]
    #[target_feature(enable = "simd128")]
    pub fn unpair(x: Pair) -> [u64; 2] {
        [u64x2_extract_lane::<0>(x), u64x2_extract_lane::<1>(x)]
    }

    #[inline]
    #[target_feature(enable = "simd128")]
    pub fn add(x: Pair, y: Pair) -> Pair {
        i64x2_add(x, y)
    }

    /// Lanes 0 and 1 of `x` times those of `y`, as two 64-bit lanes.
    #[inline]
    #[target_feature(enable = "simd128")]
    pub fn mul_low(x: Quad, y: Quad) -> Pair {
        i64x2_extmul_low_u32x4(x, y)
    }

    /// Lanes 2 and 3 of `x` times those of `y`.
    #[inline]
    #[target_feature(enable = "simd128")]
    pub fn mul_high(x: Quad, y: Quad) -> Pair {
        i64x2_extmul_high_u32x4(x, y)
    }
}

#[cfg(not(all(target_arch = "wasm32", feature = "simd128")))]
mod lanes {
    pub type Quad = [u32; 4];
    pub type Pair = [u64; 2];

    pub fn splat(x: u32) -> Quad {
        [x; 4]
    }

    pub fn opaque_zero() -> Quad {
        [0; 4]
    }

    pub fn opaque(x: Quad, _zero: Quad) -> Quad {
        x
    }

    pub fn quad(x: [u32; 4], _zero: Quad) -> Quad {
        x
    }

    pub fn pair(x: [u64; 2]) -> Pair {
        x
    }

    pub fn unpair(x: Pair) -> [u64; 2] {
        x
    }

    // Plain `+` (not wrapping): debug builds of the tests check the accumulator bounds.
    pub fn add(x: Pair, y: Pair) -> Pair {
        [x[0] + y[0], x[1] + y[1]]
    }

    pub fn mul_low(x: Quad, y: Quad) -> Pair {
        [
            u64::from(x[0]) * u64::from(y[0]),
            u64::from(x[1]) * u64::from(y[1]),
        ]
    }

    pub fn mul_high(x: Quad, y: Quad) -> Pair {
        [
            u64::from(x[2]) * u64::from(y[2]),
            u64::from(x[3]) * u64::from(y[3]),
        ]
    }
}

/// `dst[j] = src[j] + a·w[j] + b·x[j] + c·y[j] + d·z[j]` for `j < dst.len()`, four at a time
/// (lengths are multiples of 4; the shortest slice bounds the loop): two rows of
/// [`mont_mul`]. No carries: the caller bounds the sums.
#[cfg_attr(
    all(target_arch = "wasm32", feature = "simd128"),
    target_feature(enable = "simd128")
)]
fn mul_add_rows(dst: &mut [u64], src: &[u64], terms: [(&[u32], u32); 4]) {
    let zero = lanes::opaque_zero();
    let [(w, a), (x, b), (y, c), (z, d)] = terms;
    let (mut a, mut b, mut c, mut d) = (
        lanes::splat(a),
        lanes::splat(b),
        lanes::splat(c),
        lanes::splat(d),
    );
    let rows = dst.chunks_exact_mut(4).zip(src.chunks_exact(4));
    let limbs =
        (w.chunks_exact(4).zip(x.chunks_exact(4))).zip(y.chunks_exact(4).zip(z.chunks_exact(4)));
    for ((dst, src), ((w, x), (y, z))) in rows.zip(limbs) {
        let (Ok::<&mut [u64; 4], _>(dst), Ok::<[u64; 4], _>(src)) =
            (dst.try_into(), src.try_into())
        else {
            continue;
        };
        (a, b) = (lanes::opaque(a, zero), lanes::opaque(b, zero));
        (c, d) = (lanes::opaque(c, zero), lanes::opaque(d, zero));
        let sum = (lanes::pair([src[0], src[1]]), lanes::pair([src[2], src[3]]));
        let sum = add_products(sum, w, a, zero);
        let sum = add_products(sum, x, b, zero);
        let sum = add_products(sum, y, c, zero);
        let (low, high) = add_products(sum, z, d, zero);
        [dst[0], dst[1]] = lanes::unpair(low);
        [dst[2], dst[3]] = lanes::unpair(high);
    }
}

/// `dst[j] += a·x[j] + b·y[j]` for `j < dst.len()`, as [`mul_add_rows`]: two rows of
/// [`mont_sqr`].
#[cfg_attr(
    all(target_arch = "wasm32", feature = "simd128"),
    target_feature(enable = "simd128")
)]
fn add_rows(dst: &mut [u64], terms: [(&[u32], u32); 2]) {
    let zero = lanes::opaque_zero();
    let [(x, a), (y, b)] = terms;
    let (mut a, mut b) = (lanes::splat(a), lanes::splat(b));
    for (dst, (x, y)) in dst
        .chunks_exact_mut(4)
        .zip(x.chunks_exact(4).zip(y.chunks_exact(4)))
    {
        let Ok::<&mut [u64; 4], _>(dst) = dst.try_into() else {
            continue;
        };
        (a, b) = (lanes::opaque(a, zero), lanes::opaque(b, zero));
        let sum = (lanes::pair([dst[0], dst[1]]), lanes::pair([dst[2], dst[3]]));
        let sum = add_products(sum, x, a, zero);
        let (low, high) = add_products(sum, y, b, zero);
        [dst[0], dst[1]] = lanes::unpair(low);
        [dst[2], dst[3]] = lanes::unpair(high);
    }
}

/// `(low, high) + limbs·factor`: the four products of four limbs (a group of a row) and a
/// factor splat over the lanes, added to the four accumulators.
#[inline]
#[cfg_attr(
    all(target_arch = "wasm32", feature = "simd128"),
    target_feature(enable = "simd128")
)]
fn add_products(
    (low, high): (lanes::Pair, lanes::Pair),
    limbs: &[u32],
    factor: lanes::Quad,
    zero: lanes::Quad,
) -> (lanes::Pair, lanes::Pair) {
    let Ok::<[u32; 4], _>(limbs) = limbs.try_into() else {
        return (low, high);
    };
    let limbs = lanes::quad(limbs, zero);
    (
        lanes::add(low, lanes::mul_low(limbs, factor)),
        lanes::add(high, lanes::mul_high(limbs, factor)),
    )
}

/// Carry propagation: every accumulator but the last brought below 2²⁸, the value unchanged
/// (the last keeps whatever is above; callers know the value fits).
fn propagate_carries(t: &mut [u64]) {
    let Some((last, rest)) = t.split_last_mut() else {
        return;
    };
    let mut carry = 0u64;
    for v in rest {
        let sum = *v + carry;
        *v = sum & u64::from(LIMB_MASK);
        carry = sum >> LIMB_BITS;
    }
    *last += carry;
}

/// `out` = the accumulators `t` as limbs, carries propagated. `out` may be longer (its other
/// limbs are zero when, as callers ensure, the value fits in `t.len()` limbs).
fn limbs_from_accumulators(out: &mut [u32], t: &[u64]) {
    let mut carry = 0u64;
    let mut values = t.iter();
    for o in out.iter_mut() {
        let sum = values.next().copied().unwrap_or(0) + carry;
        *o = sum as u32 & LIMB_MASK;
        carry = sum >> LIMB_BITS;
    }
}

/// Scratch space of the Montgomery operations for a modulus of `L` limbs.
struct Scratch {
    /// `2L + PAD` accumulators: a row of [`mont_mul`], or the double-width square.
    t: Vec<u64>,
    /// `L + PAD` accumulators: [`mont_mul`]'s other row.
    u: Vec<u64>,
    /// `L + PAD` limbs: the doubled operand of [`mont_sqr`].
    doubled: Vec<u32>,
}

impl Scratch {
    fn new(limbs: usize) -> Scratch {
        Scratch {
            t: vec![0; 2 * limbs + PAD],
            u: vec![0; limbs + PAD],
            doubled: vec![0; limbs + PAD],
        }
    }
}

/// Montgomery multiplication `out = a·b·R⁻¹ mod n`, up to one `n`: inputs below `2n`, output
/// below `2n` (see [`limb_count`]). All limb slices have `L + PAD` limbs, the last `PAD` zero;
/// `out` may not alias `a` or `b`.
///
/// Operand scanning with the multiply and reduce passes fused (CIOS, Koç, Acar, Kaliski 1996),
/// but with delayed carries, two rows per pass over the accumulators: rows `i` and `i+1` compute
/// `t = (t + a_i·b + m_i·n + (a_{i+1}·b + m_{i+1}·n)·2²⁸) / 2⁵⁶` on 64-bit accumulators. Only the
/// two lowest take their carries (the division shifts the rest down two places); `m_i` and
/// `m_{i+1}` need only the low 28 bits of those two, which are exact. Every [`ROWS_PER_CARRY`]
/// rows all carries are propagated.
#[cfg_attr(
    all(target_arch = "wasm32", feature = "simd128"),
    target_feature(enable = "simd128")
)]
fn mont_mul(out: &mut [u32], a: &[u32], b: &[u32], n: &[u32], n0_inv: u32, scratch: &mut Scratch) {
    let limbs = n.len().saturating_sub(PAD);
    let limb = |x: &[u32], j: usize| u64::from(x.get(j).copied().unwrap_or(0));
    let (b0, b1, n0, n1) = (limb(b, 0), limb(b, 1), limb(n, 0), limb(n, 1));
    let (Some(b_from_1), Some(b_from_2), Some(n_from_1), Some(n_from_2)) = (
        b.get(1..=limbs),
        b.get(2..limbs + 2),
        n.get(1..=limbs),
        n.get(2..limbs + 2),
    ) else {
        return;
    };
    let (Some(mut t), Some(mut next)) = (
        scratch.t.get_mut(..limbs + PAD),
        scratch.u.get_mut(..limbs + PAD),
    ) else {
        return;
    };
    t.fill(0);
    next.fill(0);
    let pairs = a.get(..limbs).unwrap_or_default().chunks_exact(2);
    for (rows_done, pair) in (2..).step_by(2).zip(pairs) {
        let &[ai, aj] = pair else {
            continue;
        };
        let (xi, xj) = (u64::from(ai), u64::from(aj));
        let (t0, t1) = (t.first().copied(), t.get(1).copied());
        let s0 = t0.unwrap_or(0) + xi * b0;
        // `as u32`: only the low bits of s0 matter for m = s0·(-n⁻¹) mod 2²⁸.
        let mi = (s0 as u32).wrapping_mul(n0_inv) & LIMB_MASK;
        let c0 = (s0 + u64::from(mi) * n0) >> LIMB_BITS;
        let s1 = t1.unwrap_or(0) + xi * b1 + u64::from(mi) * n1 + c0 + xj * b0;
        let mj = (s1 as u32).wrapping_mul(n0_inv) & LIMB_MASK;
        let c1 = (s1 + u64::from(mj) * n0) >> LIMB_BITS;
        // Accumulator j+2 lands in slot j of the next pass; slots from L on stay zero.
        let (Some(src), Some(dst)) = (t.get(2..limbs + 2), next.get_mut(..limbs)) else {
            return;
        };
        mul_add_rows(
            dst,
            src,
            [
                (b_from_2, ai),
                (n_from_2, mi),
                (b_from_1, aj),
                (n_from_1, mj),
            ],
        );
        if let Some(low) = dst.first_mut() {
            *low += c1;
        }
        if rows_done % ROWS_PER_CARRY == 0 {
            propagate_carries(dst);
        }
        std::mem::swap(&mut t, &mut next);
    }
    limbs_from_accumulators(out, t.get(..limbs).unwrap_or_default());
}

/// Montgomery squaring, `out = a²·R⁻¹ mod n` up to one `n`, with [`mont_mul`]'s conditions:
/// the square is computed in full first, each cross product `a_i·a_j` once (as `a_i·2a_j`),
/// then reduced; both two rows per pass. About 1.5·L² limb products against 2·L² for
/// [`mont_mul`].
#[cfg_attr(
    all(target_arch = "wasm32", feature = "simd128"),
    target_feature(enable = "simd128")
)]
fn mont_sqr(out: &mut [u32], a: &[u32], n: &[u32], n0_inv: u32, scratch: &mut Scratch) {
    let limbs = n.len().saturating_sub(PAD);
    let Some(t) = scratch.t.get_mut(..2 * limbs + PAD) else {
        return;
    };
    let doubled = &mut scratch.doubled;
    t.fill(0);
    // Limbs are below 2²⁸, so doubling them does not carry.
    for (d, &x) in doubled.iter_mut().zip(a) {
        *d = x << 1;
    }
    let limb = |x: &[u32], j: usize| u64::from(x.get(j).copied().unwrap_or(0));
    // Row i adds a_i² at 2i and a_i·2a_j (j > i) at i + j. Rows i and i+1 (i even) together:
    // the first three places by hand, then both rows from 2i+3 on, in groups of four over zero
    // limbs past the end (the last group ends before 2L + 2).
    for i in (0..limbs).step_by(2) {
        let (ai, aj) = (
            a.get(i).copied().unwrap_or(0),
            a.get(i + 1).copied().unwrap_or(0),
        );
        let (xi, xj) = (u64::from(ai), u64::from(aj));
        let Some([p0, p1, p2]) = t.get_mut(2 * i..2 * i + 3) else {
            return;
        };
        *p0 += xi * xi;
        *p1 += xi * limb(doubled, i + 1);
        *p2 += xi * limb(doubled, i + 2) + xj * xj;
        let run = (limbs.saturating_sub(i + 3)).next_multiple_of(4);
        let (Some(dst), Some(x), Some(y)) = (
            t.get_mut(2 * i + 3..2 * i + 3 + run),
            doubled.get(i + 3..i + 3 + run),
            doubled.get(i + 2..i + 2 + run),
        ) else {
            return;
        };
        add_rows(dst, [(x, ai), (y, aj)]);
        if (i + 2) % ROWS_PER_CARRY == 0 {
            propagate_carries(t);
        }
    }
    // a² < R², so all of it is in the first 2L accumulators.
    propagate_carries(t.get_mut(..2 * limbs).unwrap_or_default());
    // Reduction, rows i and i+1 together: m_i·n at i clears the low 28 bits of accumulator i,
    // m_{i+1}·n at i+1 those of accumulator i+1 (with i's carry). Both are added from i+1 on;
    // at i only the carry matters. Then accumulators L..2L hold a²·R⁻¹ + (a multiple of n).
    let (n0, n1) = (limb(n, 0), limb(n, 1));
    let (Some(n_from_0), Some(n_from_1)) = (n.get(..limbs), n.get(1..=limbs)) else {
        return;
    };
    for i in (0..limbs).step_by(2) {
        let (low, high) = (t.get(i).copied().unwrap_or(0), t.get(i + 1).copied());
        let mi = (low as u32).wrapping_mul(n0_inv) & LIMB_MASK;
        let c0 = (low + u64::from(mi) * n0) >> LIMB_BITS;
        let s1 = high.unwrap_or(0) + u64::from(mi) * n1 + c0;
        let mj = (s1 as u32).wrapping_mul(n0_inv) & LIMB_MASK;
        let Some(row) = t.get_mut(i + 1..i + 1 + limbs) else {
            return;
        };
        add_rows(row, [(n_from_1, mi), (n_from_0, mj)]);
        let Some([low, next]) = t.get_mut(i + 1..i + 3) else {
            return;
        };
        *low += c0;
        *next += *low >> LIMB_BITS;
        if (i + 2) % ROWS_PER_CARRY == 0 {
            propagate_carries(t.get_mut(i + 2..2 * limbs).unwrap_or_default());
        }
    }
    limbs_from_accumulators(out, t.get(limbs..2 * limbs).unwrap_or_default());
}

/// `a -= b` modulo `2^(28·len)` (the caller knows the true result is non-negative).
fn sub_in_place(a: &mut [u32], b: &[u32]) {
    let mut borrow = 0u32;
    for (x, &y) in a.iter_mut().zip(b) {
        let d = x.wrapping_sub(y).wrapping_sub(borrow);
        borrow = d >> 31;
        *x = d & LIMB_MASK;
    }
}

/// `a` compared with `b`, both little-endian with the same number of limbs.
fn compare(a: &[u32], b: &[u32]) -> Ordering {
    a.iter().rev().cmp(b.iter().rev())
}

/// `x mod n` for `x < 2n`.
fn reduce_once(x: &mut [u32], n: &[u32]) {
    if compare(x, n) != Ordering::Less {
        sub_in_place(x, n);
    }
}

/// `x = 2x mod n` for `x < n` (the padding limbs leave room for the carry).
fn double_mod(x: &mut [u32], n: &[u32]) {
    let mut carry = 0u32;
    for limb in x.iter_mut() {
        let doubled = *limb << 1 | carry;
        carry = doubled >> LIMB_BITS;
        *limb = doubled & LIMB_MASK;
    }
    reduce_once(x, n);
}

/// `-n0⁻¹ mod 2²⁸` for odd `n0`.
fn neg_inverse(n0: u32) -> u32 {
    neg_inverse_mod(u64::from(n0), LIMB_BITS) as u32
}

/// `-n0⁻¹ mod 2^bits` for odd `n0` and `bits ≤ 64`, by Newton's iteration: `n0` is its own
/// inverse mod 8, and each step doubles the number of correct low bits (3, 6, 12, 24, 48, 96).
/// Both engines' Montgomery factor.
fn neg_inverse_mod(n0: u64, bits: u32) -> u64 {
    let mut inv = n0;
    for _ in 0..5 {
        inv = inv.wrapping_mul(2u64.wrapping_sub(n0.wrapping_mul(inv)));
    }
    inv.wrapping_neg() & (u64::MAX >> (64 - bits))
}

/// `R² mod n`, `R = 2^(28·L)`, for odd `n` of `bits` bits (`bits ≥ 2`), fully reduced.
///
/// Tracks `x = 2^a·R mod n` (the Montgomery form of `2^a`): a Montgomery squaring doubles `a`,
/// a modular doubling adds one. Doublings are cheap (linear) and squarings are not (quadratic),
/// so: double `2^(bits-1)` (below `n`) up to `a = 28·L / 16`, then four squarings, each followed
/// by a doubling where the next binary digit of `28·L` is one, reach `a = 28·L`.
fn r_squared(n: &[u32], n0_inv: u32, bits: usize) -> Vec<u32> {
    const SQUARINGS: u32 = 4;
    let limbs = n.len().saturating_sub(PAD);
    let target = LIMB_BITS as usize * limbs;
    let mut x = vec![0u32; n.len()];
    let top_bit = bits - 1;
    if let Some(limb) = x.get_mut(top_bit / LIMB_BITS as usize) {
        *limb = 1 << (top_bit % LIMB_BITS as usize);
    }
    // 2^(bits-1) → 2^(28·L + a) = 2^a·R, with a = target >> SQUARINGS (at least 2).
    for _ in top_bit..target + (target >> SQUARINGS) {
        double_mod(&mut x, n);
    }
    let mut t = vec![0u32; n.len()];
    let mut scratch = Scratch::new(limbs);
    for shift in (0..SQUARINGS).rev() {
        mont_sqr(&mut t, &x, n, n0_inv, &mut scratch);
        reduce_once(&mut t, n);
        std::mem::swap(&mut x, &mut t);
        if target >> shift & 1 == 1 {
            double_mod(&mut x, n);
        }
    }
    x
}

/// Big-endian bytes to `len` little-endian limbs of 28 bits; the value must fit.
fn limbs_from_be(bytes: &[u8], len: usize) -> Vec<u32> {
    let mut out = Vec::with_capacity(len + 1);
    let (mut acc, mut acc_bits) = (0u64, 0u32);
    for &byte in bytes.iter().rev() {
        acc |= u64::from(byte) << acc_bits;
        acc_bits += 8;
        if acc_bits >= LIMB_BITS {
            out.push(acc as u32 & LIMB_MASK);
            acc >>= LIMB_BITS;
            acc_bits -= LIMB_BITS;
        }
    }
    out.push(acc as u32);
    out.resize(len, 0);
    out
}

/// The low `len` bytes of the 28-bit limbs, big-endian (the value must fit: the bits dropped
/// are zero).
fn be_from_limbs(limbs: &[u32], len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    let mut bytes = out.iter_mut().rev();
    let (mut acc, mut acc_bits) = (0u64, 0u32);
    for &limb in limbs {
        acc |= u64::from(limb) << acc_bits;
        acc_bits += LIMB_BITS;
        while acc_bits >= 8 {
            if let Some(byte) = bytes.next() {
                *byte = acc as u8;
            }
            acc >>= 8;
            acc_bits -= 8;
        }
    }
    if let Some(byte) = bytes.next() {
        *byte = acc as u8;
    }
    out
}

/// EMSA-PKCS1-v1_5 (RFC 8017 §9.2) rebuilt and compared in full:
/// `00 01 FF..FF 00 DigestInfo(hash)` with at least 8 bytes of `FF`.
fn pkcs1v15_matches(em: &[u8], hash: Hash, m_hash: &[u8]) -> bool {
    let prefix = hash.digest_info_prefix();
    let t_len = prefix.len() + m_hash.len();
    let Some(ps_len) = em.len().checked_sub(t_len + 3).filter(|&len| len >= 8) else {
        return false;
    };
    let expected = [0x00, 0x01]
        .iter()
        .chain(iter::repeat_n(&0xff, ps_len))
        .chain(&[0x00])
        .chain(prefix)
        .chain(m_hash);
    em.iter().eq(expected)
}

/// EMSA-PSS-VERIFY (RFC 8017 §9.1.2) with MGF1(hash) and `sLen = hLen`. `em` is the `k`-byte
/// output of RSAVP1; `em_bits` is `modBits - 1`.
fn pss_matches(em: &[u8], em_bits: usize, hash: Hash, m_hash: &[u8]) -> bool {
    let h_len = hash.output_len();
    let s_len = h_len;
    let em_len = em_bits.div_ceil(8);
    // I2OSP(m, emLen) (§8.1.2 step 2c): when modBits - 1 is a multiple of 8, emLen = k - 1 and
    // the integer must fit, i.e. the k-byte form starts with a zero byte.
    let Some((head, em)) = em.split_at_checked(em.len().saturating_sub(em_len)) else {
        return false;
    };
    if head.iter().any(|&b| b != 0) || em.len() != em_len {
        return false;
    }
    // Step 3.
    if em_len < h_len + s_len + 2 {
        return false;
    }
    // Steps 4 and 5: maskedDB || H || 0xbc.
    let Some((masked_db, rest)) = em.split_at_checked(em_len - h_len - 1) else {
        return false;
    };
    let Some((h, trailer)) = rest.split_at_checked(h_len) else {
        return false;
    };
    if trailer != [0xbc] {
        return false;
    }
    // Step 6: the leftmost 8·emLen - emBits bits of maskedDB are zero.
    let top_mask = 0xffu8 >> (8 * em_len - em_bits);
    if masked_db.first().is_some_and(|&b| b & !top_mask != 0) {
        return false;
    }
    // Steps 7 to 9: DB = maskedDB xor MGF1(H), leftmost bits cleared.
    let mut db = masked_db.to_vec();
    mgf1_xor(hash, h, &mut db);
    if let Some(first) = db.first_mut() {
        *first &= top_mask;
    }
    // Step 10: DB = PS (zeros) || 0x01 || salt.
    let Some((ps, rest)) = db.split_at_checked(em_len - h_len - s_len - 2) else {
        return false;
    };
    let Some((&separator, salt)) = rest.split_first() else {
        return false;
    };
    if ps.iter().any(|&b| b != 0) || separator != 0x01 || salt.len() != s_len {
        return false;
    }
    // Steps 12 to 14: H = Hash(0^8 || mHash || salt).
    hash.digest(&[&[0u8; 8], m_hash, salt]) == h
}

/// `out ^= MGF1(seed)` with `hash` (RFC 8017 §B.2.1), as long as `out`.
fn mgf1_xor(hash: Hash, seed: &[u8], out: &mut [u8]) {
    for (counter, chunk) in (0u32..).zip(out.chunks_mut(hash.output_len())) {
        let mask = hash.digest(&[seed, &counter.to_be_bytes()]);
        for (byte, m) in chunk.iter_mut().zip(&mask) {
            *byte ^= m;
        }
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
mod tests {
    use rsa::traits::PublicKeyParts;
    use rsa::{BoxedUint, RsaPrivateKey};

    use super::*;
    use crate::crypto::tests::{rsa_private, TestRng};

    /// splitmix64: reproducible test values.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        fn bytes(&mut self, len: usize) -> Vec<u8> {
            (0..len).map(|_| self.next() as u8).collect()
        }
    }

    fn n_bytes(private: &RsaPrivateKey) -> Vec<u8> {
        private.to_public_key().n().to_be_bytes().to_vec()
    }

    fn key(n: &[u8], e: Exponent) -> RsaPublic {
        RsaPublic::new(n, e).unwrap()
    }

    /// Natively both engines are built and multiply-add is always fused. In wasm, the runner
    /// (`tools/wasm_run.py`, `make test-wasm`) fuses it as Envoy's V8 does, so a build with the
    /// fast engine must pick it: a build that fell back here would leave that engine untested.
    #[test]
    fn the_known_answer_check_passes_and_the_build_has_its_engines() {
        assert!(Engine::Int.available());
        assert_eq!(Engine::Fma.available(), Engine::Fma.built());
        if Engine::Fma.built() {
            assert!(fma_agrees_with_int());
        }
        // Native test builds target x86-64 without FMA, or arm64 (which has it).
        let fast_here = cfg!(any(target_arch = "wasm32", target_feature = "fma"));
        let best = if fast_here && Engine::Fma.built() {
            Engine::Fma
        } else {
            Engine::Int
        };
        assert_eq!(Engine::best(), best);
    }

    #[test]
    fn the_builds_have_the_engines_their_simd_allows() {
        let native = cfg!(not(target_arch = "wasm32"));
        assert!(Engine::Int.built());
        assert_eq!(Engine::Fma.built(), native || Simd::BUILT == Simd::Relaxed);
        let simd = if cfg!(feature = "relaxed-simd") {
            Simd::Relaxed
        } else if cfg!(feature = "simd128") {
            Simd::Simd128
        } else {
            Simd::None
        };
        assert_eq!(Simd::BUILT, simd);
    }

    #[test]
    fn the_engine_line_says_which_engine_and_why() {
        let cases = [
            (
                Engine::Fma,
                Simd::Relaxed,
                "50-bit limbs with fused multiply-add",
            ),
            (
                Engine::Int,
                Simd::Relaxed,
                "this host does not fuse multiply-add",
            ),
            (
                Engine::Int,
                Simd::Simd128,
                "(jwt_authn.simd128.wasm) has no relaxed SIMD",
            ),
            (
                Engine::Int,
                Simd::None,
                "(jwt_authn.portable.wasm) has no SIMD",
            ),
        ];
        for (engine, simd, says) in cases {
            let line = engine.describe(simd);
            assert!(line.starts_with("RSA signatures checked on "), "{line}");
            assert!(line.contains(says), "{engine:?} {simd:?}: {line}");
        }
    }

    /// The key on each engine this build has (natively both).
    fn keys(n: &[u8], e: Exponent) -> Vec<RsaPublic> {
        let int = RsaPublic::with_engine(n, e, Engine::Int).unwrap();
        assert_eq!(int.engine(), Engine::Int);
        if !Engine::Fma.built() {
            assert!(RsaPublic::with_engine(n, e, Engine::Fma).is_none());
            return vec![int];
        }
        let fast = RsaPublic::with_engine(n, e, Engine::Fma).unwrap();
        assert_eq!(fast.engine(), Engine::Fma, "the fast engine fell back");
        vec![fast, int]
    }

    /// `s^e mod n` by the `rsa` crate's public operation.
    fn oracle(n: &[u8], e: Exponent, s: &[u8]) -> Vec<u8> {
        let precision = (n.len() * 8).div_ceil(64) as u32 * 64;
        let public = rsa::RsaPublicKey::new(
            BoxedUint::from_be_slice(n, precision).unwrap(),
            BoxedUint::from(e.value()),
        )
        .unwrap();
        let m = rsa::hazmat::rsa_encrypt(&public, &BoxedUint::from_be_slice(s, precision).unwrap())
            .unwrap()
            .to_be_bytes();
        m[m.len() - n.len()..].to_vec()
    }

    fn mod_pow_u128(s: u128, e: u32, n: u128) -> u128 {
        // n < 2^64, so products fit.
        let (mut acc, mut base, mut e) = (1 % n, s % n, e);
        while e > 0 {
            if e & 1 == 1 {
                acc = acc * base % n;
            }
            base = base * base % n;
            e >>= 1;
        }
        acc
    }

    /// `R² mod n` the slow way: `1` doubled `2·28·L` times.
    fn r_squared_by_doubling(n: &[u32]) -> Vec<u32> {
        let mut x = vec![0u32; n.len()];
        x[0] = 1;
        for _ in 0..2 * LIMB_BITS as usize * (n.len() - PAD) {
            double_mod(&mut x, n);
        }
        x
    }

    /// A random odd modulus of exactly `bits` bits, big-endian.
    fn random_modulus(rng: &mut Rng, bits: usize) -> Vec<u8> {
        let mut n = rng.bytes(bits.div_ceil(8));
        let top = (bits - 1) % 8;
        n[0] = n[0] & ((1u16 << (top + 1)) - 1) as u8 | 1 << top;
        *n.last_mut().unwrap() |= 1;
        n
    }

    /// `2^bits - 1`: every limb all ones (28-bit and byte limbs alike when `bits` is a multiple).
    fn all_ones(bits: usize) -> Vec<u8> {
        let mut n = vec![0xff; bits.div_ceil(8)];
        n[0] = ((1u16 << ((bits - 1) % 8 + 1)) - 1) as u8;
        n
    }

    /// `x - 1` for big-endian `x > 0`.
    fn minus_one(x: &[u8]) -> Vec<u8> {
        let mut x = x.to_vec();
        for byte in x.iter_mut().rev() {
            let (d, borrow) = byte.overflowing_sub(1);
            *byte = d;
            if !borrow {
                break;
            }
        }
        x
    }

    /// `x + n` for limbs `x < n`: a value in `[n, 2n)`, which Montgomery products accept.
    fn plus_n(x: &[u32], n: &[u32]) -> Vec<u32> {
        let mut carry = 0;
        x.iter()
            .zip(n)
            .map(|(&a, &b)| {
                let sum = a + b + carry;
                carry = sum >> LIMB_BITS;
                sum & LIMB_MASK
            })
            .collect()
    }

    #[test]
    fn neg_inverse_is_minus_the_inverse() {
        let mut rng = Rng(7);
        let samples = (0..1000).map(|_| rng.next() as u32 & LIMB_MASK | 1);
        for n0 in [1, 3, LIMB_MASK, 0x800_0001].into_iter().chain(samples) {
            assert_eq!(
                n0.wrapping_mul(neg_inverse(n0)) & LIMB_MASK,
                LIMB_MASK,
                "n0 = {n0:#x}"
            );
            assert!(neg_inverse(n0) <= LIMB_MASK);
        }
    }

    #[test]
    fn limb_conversion_round_trips() {
        let mut rng = Rng(19);
        let mut values: Vec<Vec<u8>> =
            vec![vec![], vec![0], vec![1], vec![0xff; 7], vec![0xff; 64]];
        for len in 1..=72 {
            values.push(rng.bytes(len));
            values.push(vec![0xff; len]);
        }
        // Single bits and all-ones runs ending on each side of limb boundaries (28·k ± 1).
        for bit in [
            0, 1, 27, 28, 29, 55, 56, 57, 83, 84, 111, 112, 223, 224, 2047, 2048,
        ] {
            let len = bit / 8 + 1;
            let mut single = vec![0u8; len];
            single[len - 1 - bit / 8] = 1 << (bit % 8);
            values.push(single);
            values.push(all_ones(bit + 1));
        }
        for bytes in values {
            let len = (8 * bytes.len()).div_ceil(28) + 1;
            let limbs = limbs_from_be(&bytes, len);
            assert_eq!(limbs.len(), len);
            assert!(
                limbs.iter().all(|&l| l <= LIMB_MASK),
                "{}",
                hex::encode(&bytes)
            );
            assert_eq!(be_from_limbs(&limbs, bytes.len()), bytes);
            // Longer outputs get leading zeros; the limbs agree bit for bit with the bytes.
            let wide = be_from_limbs(&limbs, bytes.len() + 5);
            assert_eq!(wide[..5], [0; 5]);
            assert_eq!(wide[5..], bytes[..]);
            for (i, &limb) in limbs.iter().enumerate() {
                for b in 0..28 {
                    let bit = 28 * i + b;
                    let byte = bytes.len().checked_sub(1 + bit / 8).map_or(0, |j| bytes[j]);
                    assert_eq!(limb >> b & 1, u32::from(byte >> (bit % 8) & 1), "bit {bit}");
                }
            }
        }
    }

    #[test]
    fn limb_counts_leave_room_for_lazy_reduction() {
        for bits in 2..=8200 {
            let limbs = limb_count(bits);
            assert_eq!(limbs % 4, 0);
            // R = 2^(28·L) > 4n for every n below 2^bits, and no more limbs than that needs.
            assert!(28 * limbs >= bits + 2, "{bits}");
            assert!(28 * (limbs - 4) < bits + 2, "{bits}");
        }
        assert_eq!(limb_count(2048), 76);
        assert_eq!(limb_count(8192), 296);
    }

    #[test]
    fn montgomery_constants_match_the_slow_way() {
        let mut rng = Rng(11);
        let mut moduli: Vec<Vec<u8>> = vec![
            vec![3],
            vec![0x0c, 0xa1], // 3233 = 61·53
            vec![0xff; 4],
            vec![0x01, 0, 0, 0, 1], // 2^32 + 1
            vec![0xff; 8],
            all_ones(28 * 4),
            all_ones(28 * 76 - 2), // the largest modulus for 76 limbs
            all_ones(28 * 76 - 1), // the smallest for 80
            n_bytes(&rsa_private()),
        ];
        for len in [5, 31, 64, 255, 257, 384, 512, 1024] {
            let mut n = rng.bytes(len);
            n[0] |= 1;
            *n.last_mut().unwrap() |= 1;
            moduli.push(n);
        }
        for n in moduli {
            let key = key(&n, Exponent::E65537);
            assert_eq!(key.byte_len(), n.len());
            assert_eq!(key.n.len(), limb_count(key.bits()) + PAD);
            assert_eq!(
                key.r2,
                r_squared_by_doubling(&key.n),
                "n = {}",
                hex::encode(&n)
            );
            assert_eq!(compare(&key.r2, &key.n), Ordering::Less);
            let low = key.n[0];
            assert_eq!(low.wrapping_mul(key.n0_inv) & LIMB_MASK, LIMB_MASK);
            assert!(key.n.iter().all(|&l| l <= LIMB_MASK));
            assert_eq!(key.n[key.n.len() - PAD..], [0; PAD], "padding limbs");
            assert_eq!(be_from_limbs(&key.n, n.len()), n);
        }
    }

    #[test]
    fn squaring_matches_multiplication() {
        let mut rng = Rng(17);
        let mut moduli: Vec<Vec<u8>> = vec![
            vec![3],
            vec![0xff; 4],
            vec![0xff; 8],
            all_ones(28 * 73),
            all_ones(28 * 76 - 2),
            all_ones(8192),
            n_bytes(&rsa_private()),
        ];
        for len in [5, 9, 64, 255, 512, 1024] {
            let mut n = rng.bytes(len);
            n[0] |= 1;
            *n.last_mut().unwrap() |= 1;
            moduli.push(n);
        }
        for n in moduli {
            let key = key(&n, Exponent::E65537);
            let len = key.n.len();
            let mut scratch = Scratch::new(len - PAD);
            let mut n_minus_1 = key.n.clone();
            n_minus_1[0] -= 1;
            let mut values = vec![vec![0; len], n_minus_1, key.r2.clone()];
            for _ in 0..6 {
                let mut v = limbs_from_be(&rng.bytes(n.len()), len);
                while compare(&v, &key.n) != Ordering::Less {
                    sub_in_place(&mut v, &key.n);
                }
                values.push(v);
            }
            // Inputs in [n, 2n), as the squarings of `public_op` see them, up to 2n - 1.
            for v in values.clone() {
                values.push(plus_n(&v, &key.n));
            }
            for a in &values {
                let (mut by_mul, mut by_sqr) = (vec![0; len], vec![0; len]);
                mont_mul(&mut by_mul, a, a, &key.n, key.n0_inv, &mut scratch);
                mont_sqr(&mut by_sqr, a, &key.n, key.n0_inv, &mut scratch);
                assert_eq!(by_sqr, by_mul, "n = {}", hex::encode(&n));
                // Below 2n, limbs normalized, padding zero.
                assert!(by_sqr.iter().all(|&l| l <= LIMB_MASK));
                assert_eq!(by_sqr[len - PAD..], [0; PAD]);
                let mut reduced = by_sqr.clone();
                reduce_once(&mut reduced, &key.n);
                assert_eq!(compare(&reduced, &key.n), Ordering::Less);
                // Same residue as from the reduced input.
                let mut a_reduced = a.clone();
                reduce_once(&mut a_reduced, &key.n);
                let mut from_reduced = vec![0; len];
                mont_sqr(
                    &mut from_reduced,
                    &a_reduced,
                    &key.n,
                    key.n0_inv,
                    &mut scratch,
                );
                reduce_once(&mut from_reduced, &key.n);
                assert_eq!(reduced, from_reduced);
            }
            // Products of distinct values, lazy or not, against one another.
            for pair in values.windows(2) {
                let (mut ab, mut ba) = (vec![0; len], vec![0; len]);
                mont_mul(
                    &mut ab,
                    &pair[0],
                    &pair[1],
                    &key.n,
                    key.n0_inv,
                    &mut scratch,
                );
                mont_mul(
                    &mut ba,
                    &pair[1],
                    &pair[0],
                    &key.n,
                    key.n0_inv,
                    &mut scratch,
                );
                assert_eq!(ab, ba);
            }
        }
    }

    #[test]
    fn public_op_matches_the_rsa_crate_at_every_size() {
        // Key sizes from 2048 to RSA_MAX_BITS, multiples of 64 or not of 32 or 8, the largest
        // and smallest moduli for a limb count (28·L - 2 and - 1 bits; 50·L - 2 and - 1 for
        // the fast engine), all-ones moduli (every limb at its maximum), and a sparse one; on
        // both engines.
        let mut rng = Rng(23);
        let mut moduli = vec![
            all_ones(2048),
            all_ones(28 * 80),
            all_ones(50 * 42),
            all_ones(8191),
            {
                let mut n = vec![0u8; 256];
                n[0] = 0x80;
                n[255] = 1;
                n
            },
        ];
        for bits in [
            2048, 2049, 2050, 2055, 2056, 2080, 2098, 2099, 2126, 2127, 3000, 3072, 4095, 4096,
            4100, 4198, 4199, 6001, 8191, 8192,
        ] {
            moduli.push(random_modulus(&mut rng, bits));
        }
        for n in moduli {
            let bits = bit_len(&n);
            for (e, key) in [Exponent::E3, Exponent::E65537]
                .into_iter()
                .flat_map(|e| keys(&n, e).into_iter().map(move |key| (e, key)))
            {
                assert_eq!(key.bits(), bits);
                let mut n_minus_2 = minus_one(&minus_one(&n));
                let mut signatures = vec![vec![0; n.len()], minus_one(&n), n_minus_2.clone()];
                let mut one = vec![0; n.len()];
                one[n.len() - 1] = 1;
                signatures.push(one);
                for _ in 0..2 {
                    let mut s = rng.bytes(n.len());
                    s[0] = s[0].min(n[0].saturating_sub(1));
                    signatures.push(s);
                }
                // Many all-ones limbs below the top: n - 2 with its lower bytes all set.
                for byte in n_minus_2.iter_mut().skip(2) {
                    *byte = 0xff;
                }
                if n_minus_2 < n {
                    signatures.push(n_minus_2);
                }
                for s in signatures {
                    assert_eq!(
                        key.public_op(&s).unwrap(),
                        oracle(&n, e, &s),
                        "{bits} bits, e = {}, {:?}, s = {}",
                        e.value(),
                        key.engine(),
                        hex::encode(&s)
                    );
                }
                assert_eq!(key.public_op(&n), Err(Refused::OutOfRange), "s = n");
            }
        }
    }

    #[test]
    fn public_op_matches_u128_arithmetic_on_small_moduli() {
        let mut rng = Rng(3);
        for n in [
            3u128,
            3233,
            0xffff_fffb,
            0x1_0000_0001,
            0xffff_ffff_ffff_ffc5,
            0x8000_0000_0000_0001,
        ] {
            let n_be = n.to_be_bytes();
            let n_be = strip_leading_zeros(&n_be);
            for (e, key) in [Exponent::E3, Exponent::E65537]
                .into_iter()
                .flat_map(|e| keys(n_be, e).into_iter().map(move |key| (e, key)))
            {
                let samples = (0..200).map(|_| u128::from(rng.next()) % n);
                for s in [0, 1, 2, n - 1].into_iter().chain(samples) {
                    let sig = s.to_be_bytes()[16 - n_be.len()..].to_vec();
                    let got = key.public_op(&sig).unwrap();
                    let want =
                        mod_pow_u128(s, e.value(), n).to_be_bytes()[16 - n_be.len()..].to_vec();
                    assert_eq!(
                        got,
                        want,
                        "n = {n}, e = {}, {:?}, s = {s}",
                        e.value(),
                        key.engine()
                    );
                }
            }
        }
    }

    #[test]
    fn public_op_matches_the_rsa_crate() {
        let mut rng = Rng(5);
        let n = n_bytes(&rsa_private());
        // A 3072-bit and a 4095-bit odd modulus: the arithmetic needs no primes.
        let mut n3072 = rng.bytes(384);
        n3072[0] |= 0x80;
        n3072[383] |= 1;
        let mut n4095 = rng.bytes(512);
        n4095[0] = n4095[0] & 0x7f | 0x40;
        n4095[511] |= 1;
        for n in [n, n3072, n4095] {
            for (e, key) in [Exponent::E3, Exponent::E65537]
                .into_iter()
                .flat_map(|e| keys(&n, e).into_iter().map(move |key| (e, key)))
            {
                for round in 0..8 {
                    let mut s = rng.bytes(n.len());
                    s[0] = s[0].min(n[0].saturating_sub(1));
                    if round == 0 {
                        s[0] = 0; // leading zero byte
                    }
                    assert_eq!(
                        key.public_op(&s).unwrap(),
                        oracle(&n, e, &s),
                        "round {round}, {:?}",
                        key.engine()
                    );
                }
            }
        }
    }

    #[test]
    fn public_op_edge_values() {
        let n = n_bytes(&rsa_private());
        let k = n.len();
        let one = {
            let mut v = vec![0u8; k];
            v[k - 1] = 1;
            v
        };
        let mut n_minus_1 = n.clone();
        n_minus_1[k - 1] -= 1; // n is odd
        let mut n_plus_1 = n.clone();
        n_plus_1[k - 1] += 1;
        for key in [Exponent::E3, Exponent::E65537]
            .into_iter()
            .flat_map(|e| keys(&n, e))
        {
            assert_eq!(key.public_op(&vec![0; k]), Ok(vec![0; k]), "0^e = 0");
            assert_eq!(key.public_op(&one), Ok(one.clone()), "1^e = 1");
            // e is odd: (n-1)^e = (-1)^e = -1.
            assert_eq!(key.public_op(&n_minus_1), Ok(n_minus_1.clone()), "(n-1)^e");
            assert_eq!(key.public_op(&n), Err(Refused::OutOfRange), "s = n");
            assert_eq!(
                key.public_op(&n_plus_1),
                Err(Refused::OutOfRange),
                "s = n+1"
            );
            assert_eq!(
                key.public_op(&vec![0xff; k]),
                Err(Refused::OutOfRange),
                "2^8k - 1"
            );
            assert_eq!(
                key.public_op(&one[1..]),
                Err(Refused::Length),
                "k - 1 bytes"
            );
            let padded = [&[0u8][..], &one].concat();
            assert_eq!(
                key.public_op(&padded),
                Err(Refused::Length),
                "k + 1 bytes, small value"
            );
            assert_eq!(key.public_op(&[]), Err(Refused::Length), "empty");
            for padding in [Padding::Pkcs1v15, Padding::Pss] {
                for sig in [vec![0; k], one.clone(), n_minus_1.clone()] {
                    assert_eq!(
                        key.verify(padding, Hash::Sha256, b"m", &sig),
                        Err(Refused::Encoding)
                    );
                }
            }
        }
    }

    #[test]
    fn constructor_refuses_even_and_tiny_moduli_and_ignores_leading_zeros() {
        let n = n_bytes(&rsa_private());
        let mut even = n.clone();
        *even.last_mut().unwrap() &= 0xfe;
        assert!(RsaPublic::new(&even, Exponent::E65537).is_none());
        assert!(RsaPublic::new(&[], Exponent::E65537).is_none());
        assert!(RsaPublic::new(&[0, 0], Exponent::E65537).is_none());
        assert!(RsaPublic::new(&[1], Exponent::E65537).is_none());
        assert!(RsaPublic::new(&[3], Exponent::E65537).is_some());
        let padded = key(&[&[0, 0][..], &n].concat(), Exponent::E3);
        let plain = key(&n, Exponent::E3);
        assert_eq!((padded.bits(), padded.byte_len()), (2048, 256));
        assert_eq!((&padded.n, &padded.r2), (&plain.n, &plain.r2));
        assert_eq!(
            format!("{plain:?}"),
            format!(
                "RsaPublic {{ bits: 2048, e: 3, engine: {:?}, .. }}",
                Engine::best()
            )
        );
    }

    #[test]
    fn exponent_parsing() {
        assert_eq!(Exponent::from_be_bytes(&[3]), Some(Exponent::E3));
        assert_eq!(Exponent::from_be_bytes(&[0, 0, 3]), Some(Exponent::E3));
        assert_eq!(Exponent::from_be_bytes(&[1, 0, 1]), Some(Exponent::E65537));
        assert_eq!(
            Exponent::from_be_bytes(&[0, 1, 0, 1]),
            Some(Exponent::E65537)
        );
        for bad in [&[][..], &[0], &[1], &[5], &[1, 0, 0, 1], &[3, 0]] {
            assert_eq!(Exponent::from_be_bytes(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn digest_info_prefixes_are_the_rfc_ones() {
        // RFC 8017 §9.2 note 1.
        let table = [
            (Hash::Sha256, "3031300d060960864801650304020105000420"),
            (Hash::Sha384, "3041300d060960864801650304020205000430"),
            (Hash::Sha512, "3051300d060960864801650304020305000440"),
        ];
        for (hash, prefix) in table {
            assert_eq!(hex::encode(hash.digest_info_prefix()), prefix);
            assert_eq!(hash.digest(&[b"abc"]).len(), hash.output_len());
        }
        assert_eq!(
            hex::encode(Hash::Sha256.digest(&[b"a", b"bc"])),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    /// EMSA-PKCS1-v1_5 encoding, written out independently of `pkcs1v15_matches`.
    fn pkcs1_em(k: usize, hash: Hash, m_hash: &[u8]) -> Vec<u8> {
        let t = [hash.digest_info_prefix(), m_hash].concat();
        let mut em = vec![0x00, 0x01];
        em.resize(k - t.len() - 1, 0xff);
        em.push(0x00);
        em.extend_from_slice(&t);
        em
    }

    /// EMSA-PSS-ENCODE (RFC 8017 §9.1.1) as the `k`-byte integer form.
    fn pss_em(k: usize, em_bits: usize, hash: Hash, m_hash: &[u8], salt: &[u8]) -> Vec<u8> {
        let h_len = hash.output_len();
        let em_len = em_bits.div_ceil(8);
        let h = hash.digest(&[&[0u8; 8], m_hash, salt]);
        let mut db = vec![0u8; em_len - salt.len() - h_len - 2];
        db.push(0x01);
        db.extend_from_slice(salt);
        let mut mask = Vec::new();
        for counter in 0u32.. {
            if mask.len() >= db.len() {
                break;
            }
            mask.extend(hash.digest(&[&h, &counter.to_be_bytes()]));
        }
        for (d, m) in db.iter_mut().zip(mask) {
            *d ^= m;
        }
        db[0] &= 0xff >> (8 * em_len - em_bits);
        let mut em = vec![0u8; k - em_len];
        em.extend(db);
        em.extend(h);
        em.push(0xbc);
        em
    }

    #[test]
    fn pkcs1v15_needs_the_exact_encoding() {
        let m_hash = Hash::Sha256.digest(&[b"message"]);
        let good = pkcs1_em(256, Hash::Sha256, &m_hash);
        assert!(pkcs1v15_matches(&good, Hash::Sha256, &m_hash));
        assert!(
            !pkcs1v15_matches(&good, Hash::Sha384, &m_hash),
            "other hash"
        );
        for i in 0..good.len() {
            for bit in [0x01, 0x80] {
                let mut bad = good.clone();
                bad[i] ^= bit;
                assert!(!pkcs1v15_matches(&bad, Hash::Sha256, &m_hash), "byte {i}");
            }
        }
        // DigestInfo without the NULL parameters (some signers' variant) is refused.
        let mut no_null = vec![0x00, 0x01];
        no_null.resize(256 - 17 - 32 - 1, 0xff);
        no_null.push(0);
        no_null.extend(hex::decode("302f300b0609608648016503040201").unwrap());
        no_null.extend(hex::decode("0420").unwrap());
        no_null.extend(&m_hash);
        assert_eq!(no_null.len(), 256);
        assert!(!pkcs1v15_matches(&no_null, Hash::Sha256, &m_hash));
        // Room for only 7 bytes of 0xff: too short a modulus for this hash.
        let short = pkcs1_em(19 + 32 + 3 + 7, Hash::Sha256, &m_hash);
        assert!(!pkcs1v15_matches(&short, Hash::Sha256, &m_hash));
        let shortest = pkcs1_em(19 + 32 + 3 + 8, Hash::Sha256, &m_hash);
        assert!(pkcs1v15_matches(&shortest, Hash::Sha256, &m_hash));
        assert!(!pkcs1v15_matches(&[], Hash::Sha256, &m_hash));
    }

    #[test]
    fn pss_checks_every_field() {
        let mut rng = Rng(9);
        for hash in [Hash::Sha256, Hash::Sha384, Hash::Sha512] {
            let h_len = hash.output_len();
            let m_hash = hash.digest(&[b"message"]);
            let salt = rng.bytes(h_len);
            // modBits 2048 (emLen = k), 2049 (emLen = k - 1), 2052 (4 leftmost bits cleared).
            for (k, mod_bits) in [(256, 2048), (257, 2049), (257, 2052)] {
                let em_bits = mod_bits - 1;
                let good = pss_em(k, em_bits, hash, &m_hash, &salt);
                assert_eq!(good.len(), k);
                assert!(
                    pss_matches(&good, em_bits, hash, &m_hash),
                    "{hash:?} {mod_bits}"
                );
                let other = hash.digest(&[b"other"]);
                assert!(!pss_matches(&good, em_bits, hash, &other), "other message");
                // Every single-bit change is caught: in the leading zero byte, the leftmost
                // bits, maskedDB (PS, separator or salt), H, or the trailer.
                for i in 0..k {
                    for bit in 0..8 {
                        let mut bad = good.clone();
                        bad[i] ^= 1 << bit;
                        assert!(
                            !pss_matches(&bad, em_bits, hash, &m_hash),
                            "{hash:?} {mod_bits}: byte {i} bit {bit}"
                        );
                    }
                }
                // Other salt lengths are not PS*.
                for salt_len in [0, h_len - 1, h_len + 1] {
                    let other_salt = rng.bytes(salt_len);
                    let em = pss_em(k, em_bits, hash, &m_hash, &other_salt);
                    assert!(!pss_matches(&em, em_bits, hash, &m_hash), "sLen {salt_len}");
                }
            }
            // Too short for hLen + sLen + 2.
            let tiny = pss_em(2 * h_len + 2, 8 * (2 * h_len + 2) - 1, hash, &m_hash, &salt);
            assert!(pss_matches(&tiny, 8 * (2 * h_len + 2) - 1, hash, &m_hash));
            assert!(!pss_matches(
                &tiny[1..],
                8 * (2 * h_len + 1) - 1,
                hash,
                &m_hash
            ));
        }
        assert!(!pss_matches(&[], 0, Hash::Sha256, &[0; 32]));
    }

    #[test]
    fn end_to_end_with_crafted_encodings() {
        // Sign encodings built here with the private key (raw RSA), so the whole verify path
        // runs on encodings no standard signer would make.
        let private = rsa_private();
        let n = n_bytes(&private);
        let raw_sign = |em: &[u8]| {
            let c = BoxedUint::from_be_slice(em, 2048).unwrap();
            let s = rsa::hazmat::rsa_decrypt::<TestRng>(None, &private, &c).unwrap();
            s.to_be_bytes().to_vec()
        };
        let message = b"header.payload";
        let hashes = [Hash::Sha256, Hash::Sha384, Hash::Sha512];
        for (hash, key) in hashes.into_iter().flat_map(|hash| {
            keys(&n, Exponent::E65537)
                .into_iter()
                .map(move |key| (hash, key))
        }) {
            let m_hash = hash.digest(&[message]);
            let sig = raw_sign(&pkcs1_em(256, hash, &m_hash));
            assert_eq!(key.verify(Padding::Pkcs1v15, hash, message, &sig), Ok(()));
            assert_eq!(
                key.verify(Padding::Pss, hash, message, &sig),
                Err(Refused::Encoding)
            );
            let salt = vec![0x5a; hash.output_len()];
            let sig = raw_sign(&pss_em(256, 2047, hash, &m_hash, &salt));
            assert_eq!(key.verify(Padding::Pss, hash, message, &sig), Ok(()));
            assert_eq!(
                key.verify(Padding::Pkcs1v15, hash, message, &sig),
                Err(Refused::Encoding)
            );
            assert_eq!(
                key.verify(Padding::Pss, hash, b"other", &sig),
                Err(Refused::Encoding)
            );
        }
    }

    /// Rough timing, not an assertion:
    /// `cargo test --release --lib -- --ignored --nocapture rsa_verify::tests::timing`.
    #[test]
    #[ignore]
    fn timing() {
        let mut rng = Rng(13);
        let n2048 = n_bytes(&rsa_private());
        let mut moduli = vec![n2048];
        for len in [384, 512] {
            let mut n = rng.bytes(len);
            n[0] |= 0x80;
            n[len - 1] |= 1;
            moduli.push(n);
        }
        for n in moduli {
            let start = std::time::Instant::now();
            let rounds = 200;
            for _ in 0..rounds {
                std::hint::black_box(key(&n, Exponent::E65537));
            }
            println!(
                "RSA-{}: key setup {:?}",
                n.len() * 8,
                start.elapsed() / rounds
            );
            for e in [Exponent::E65537, Exponent::E3] {
                let key = key(&n, e);
                let mut s = rng.bytes(n.len());
                s[0] = 0;
                let rounds = 2000;
                let start = std::time::Instant::now();
                for _ in 0..rounds {
                    std::hint::black_box(key.public_op(std::hint::black_box(&s)).unwrap());
                }
                println!(
                    "RSA-{} e={}: s^e mod n {:?}",
                    n.len() * 8,
                    e.value(),
                    start.elapsed() / rounds
                );
            }
        }
    }
}
