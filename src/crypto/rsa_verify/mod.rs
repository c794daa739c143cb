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
mod tests;
