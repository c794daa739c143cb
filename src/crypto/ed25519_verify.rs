//! Ed25519 verification (RFC 8032 §5.1.7) for JWS EdDSA, on arithmetic of its own tuned for
//! wasm32 under V8, in place of ed25519-dalek (which stays the reference of the tests).
//!
//! Every input of a verification is public (key, message, signature), so the code is
//! variable-time by design and branches freely; it never sees a secret.
//!
//! The rules are ed25519-dalek's `VerifyingKey::from_bytes` + `is_weak` and `verify_strict`,
//! exactly (the differential tests hold us to them):
//! - a key's y is read from the low 255 bits, and a y in `[p, 2²⁵⁵)` stands for y − p (not
//!   refused); the sign bit picks x's parity, and with x = 0 a set sign bit is ignored (not
//!   refused). Points of small order (the 8 torsion points) are refused as keys;
//! - a signature is `R || S`, S canonical (S < L); the check is cofactorless: `R' = [S]B − [k]A`
//!   with `k = SHA-512(R || A || M) mod L` (A as the key's own 32 bytes), and R' must encode to
//!   R's bytes exactly (so a non-canonical R never verifies) and must not be of small order.
//!
//! dalek decompresses R first and refuses it if it is not a point or of small order. We skip
//! that decompression: R's bytes must equal the canonical encoding of R', which always
//! decompresses, to R' itself; so R is a point of small order exactly when R' is, and the
//! small-order test runs on R' (three doublings instead of a square root).
//!
//! - Field elements mod `p = 2²⁵⁵ − 19`: ref10's ten 25.5-bit limbs ([`field`]).
//! - Points in extended coordinates `(X : Y : Z : T)` on `−x² + y² = 1 + d·x²y²` (x = X/Z,
//!   y = Y/Z, xy = T/Z), with ref10's formulas (Hisil–Wong–Carter–Dawson), complete on this
//!   curve: no special cases for the identity, doubling or opposite points.
//! - `[S]B + [k](−A)` by interleaved width-w NAF: each scalar is cut in four 64-bit pieces,
//!   piece j multiplying `2^(64j)·P`, so the eight pieces share 64 doublings. The odd multiples
//!   of `2^(64j)·(−A)` are computed once per key (on its first verification, then kept with the
//!   key); those of `2^(64j)·B` once per VM. Each table is brought to affine form with one
//!   inversion (Montgomery's trick).

mod field;

use std::fmt;
use std::sync::{Arc, OnceLock};

use crate::crypto::sha;
use crate::crypto::wnaf::{wnaf, DIGITS};

use field::{Fe, ONE, ZERO};

/// The curve's `d = −121665/121666`, little-endian.
const D: [u8; 32] = [
    0xa3, 0x78, 0x59, 0x13, 0xca, 0x4d, 0xeb, 0x75, 0xab, 0xd8, 0x41, 0x41, 0x4d, 0x0a, 0x70, 0x00,
    0x98, 0xe8, 0x79, 0x77, 0x79, 0x40, 0xc7, 0x8c, 0x73, 0xfe, 0x6f, 0x2b, 0xee, 0x6c, 0x03, 0x52,
];
/// `2d`, little-endian.
const D2: [u8; 32] = [
    0x59, 0xf1, 0xb2, 0x26, 0x94, 0x9b, 0xd6, 0xeb, 0x56, 0xb1, 0x83, 0x82, 0x9a, 0x14, 0xe0, 0x00,
    0x30, 0xd1, 0xf3, 0xee, 0xf2, 0x80, 0x8e, 0x19, 0xe7, 0xfc, 0xdf, 0x56, 0xdc, 0xd9, 0x06, 0x24,
];
/// `√−1 = 2^((p − 1)/4)`, little-endian.
const SQRT_M1: [u8; 32] = [
    0xb0, 0xa0, 0x0e, 0x4a, 0x27, 0x1b, 0xee, 0xc4, 0x78, 0xe4, 0x2f, 0xad, 0x06, 0x18, 0x43, 0x2f,
    0xa7, 0xd7, 0xfb, 0x3d, 0x99, 0x00, 0x4d, 0x2b, 0x0b, 0xdf, 0xc1, 0x4f, 0x80, 0x24, 0x83, 0x2b,
];
/// The base point's encoding (y = 4/5, x even).
const B_BYTES: [u8; 32] = [
    0x58, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
    0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
];
/// The group order `L = 2²⁵² + 27742317777372353535851937790883648493`, 32-bit words, least
/// significant first.
const L: [u32; 8] = [
    0x5cf5_d3ed,
    0x5812_631a,
    0xa2f7_9cd6,
    0x14de_f9de,
    0,
    0,
    0,
    0x1000_0000,
];

/// NAF width for B's table: 2^(W−2) odd multiples for each of the 4 bases (15 KB, once per VM).
const W_B: u32 = 7;
/// NAF width for a key's table: 4 KB per key.
const W_A: u32 = 5;

// ---- Points ------------------------------------------------------------------------------------

/// A point in extended coordinates.
#[derive(Clone, Copy)]
struct Point {
    x: Fe,
    y: Fe,
    z: Fe,
    t: Fe,
}

/// The result of an addition or doubling before its last multiplications (ref10's `ge_p1p1`):
/// the point `(X/Z, Y/T)`.
struct Completed {
    x: Fe,
    y: Fe,
    z: Fe,
    t: Fe,
}

/// An affine point ready to add (ref10's `ge_precomp`): `(y + x, y − x, 2d·x·y)`.
#[derive(Clone, Copy)]
struct Precomp {
    y_plus_x: Fe,
    y_minus_x: Fe,
    xy2d: Fe,
}

/// A point ready to add (ref10's `ge_cached`): `(Y + X, Y − X, Z, 2d·T)`. Only for tables.
struct Cached {
    y_plus_x: Fe,
    y_minus_x: Fe,
    z: Fe,
    t2d: Fe,
}

impl Completed {
    /// The extended point (4M).
    fn to_point(&self) -> Point {
        Point {
            x: self.x.mul(&self.t),
            y: self.y.mul(&self.z),
            z: self.z.mul(&self.t),
            t: self.x.mul(&self.y),
        }
    }
}

impl Point {
    const IDENTITY: Point = Point {
        x: ZERO,
        y: ONE,
        z: ONE,
        t: ZERO,
    };

    /// The point of a 32-byte encoding, as ed25519-dalek's `CompressedEdwardsY::decompress`
    /// (RFC 8032 §5.1.3, except that y is not required below p and x = 0 with the sign bit
    /// set is accepted as x = 0). `None` if no x fits y.
    fn decompress(bytes: &[u8; 32]) -> Option<Point> {
        let y = Fe::from_bytes(bytes);
        let sign = bytes.last().is_some_and(|b| b >> 7 == 1);
        let yy = y.sq();
        let u = yy.sub(&ONE);
        let v = yy.mul(&Fe::from_bytes(&D)).add(&ONE);
        // x = u·v³·(u·v⁷)^((p − 5)/8), a square root of u/v if u/v has one, up to a factor √−1.
        let v3 = v.sq().mul(&v);
        let v7 = v3.sq().mul(&v);
        let mut x = u.mul(&v3).mul(&u.mul(&v7).pow_p58());
        let vxx = v.mul(&x.sq());
        if vxx.sub(&u).is_zero() {
            // x² = u/v
        } else if vxx.add(&u).is_zero() {
            x = x.mul(&Fe::from_bytes(&SQRT_M1));
        } else {
            return None;
        }
        if x.is_negative() != sign {
            x = x.neg();
        }
        Some(Point {
            x,
            y,
            z: ONE,
            t: x.mul(&y),
        })
    }

    /// The canonical encoding: y below p, x's parity in bit 255.
    #[inline(never)]
    fn compress(&self) -> [u8; 32] {
        let zinv = self.z.invert();
        let x = self.x.mul(&zinv);
        let mut bytes = self.y.mul(&zinv).to_bytes();
        if let Some(last) = bytes.last_mut() {
            *last |= u8::from(x.is_negative()) << 7;
        }
        bytes
    }

    fn neg(&self) -> Point {
        Point {
            x: self.x.neg(),
            y: self.y,
            z: self.z,
            t: self.t.neg(),
        }
    }

    /// `2·P` (dbl-2008-hwcd, ref10's `ge_p2_dbl`: 4S, then 4M to extended form).
    #[inline(never)]
    fn double(&self) -> Point {
        let xx = self.x.sq();
        let yy = self.y.sq();
        let zz2 = self.z.sq();
        let zz2 = zz2.add(&zz2);
        let xy2 = self.x.add(&self.y).sq();
        let y3 = yy.add(&xx);
        let z3 = yy.sub(&xx);
        Completed {
            x: xy2.sub(&y3),
            y: y3,
            z: z3,
            t: zz2.sub(&z3),
        }
        .to_point()
    }

    /// `P ± q` for an affine point (ref10's `ge_madd` / `ge_msub`: 3M, then 4M).
    #[inline(never)]
    fn add_precomp(&self, q: &Precomp, negate: bool) -> Point {
        // −(x, y) = (−x, y): y + x and y − x swap, 2dxy changes sign.
        let (plus, minus) = if negate {
            (&q.y_minus_x, &q.y_plus_x)
        } else {
            (&q.y_plus_x, &q.y_minus_x)
        };
        let a = self.y.add(&self.x).mul(plus);
        let b = self.y.sub(&self.x).mul(minus);
        let c = q.xy2d.mul(&self.t);
        let c = if negate { c.neg() } else { c };
        let d = self.z.add(&self.z);
        Completed {
            x: a.sub(&b),
            y: a.add(&b),
            z: d.add(&c),
            t: d.sub(&c),
        }
        .to_point()
    }

    fn cached(&self) -> Cached {
        Cached {
            y_plus_x: self.y.add(&self.x),
            y_minus_x: self.y.sub(&self.x),
            z: self.z,
            t2d: self.t.mul(&Fe::from_bytes(&D2)),
        }
    }

    /// `P + Q` (add-2008-hwcd-3, ref10's `ge_add`: 5M, then 4M). Only for tables.
    #[inline(never)]
    fn add(&self, q: &Point) -> Point {
        let q = q.cached();
        let a = self.y.add(&self.x).mul(&q.y_plus_x);
        let b = self.y.sub(&self.x).mul(&q.y_minus_x);
        let c = q.t2d.mul(&self.t);
        let zz = self.z.mul(&q.z);
        let d = zz.add(&zz);
        Completed {
            x: a.sub(&b),
            y: a.add(&b),
            z: d.add(&c),
            t: d.sub(&c),
        }
        .to_point()
    }

    fn is_identity(&self) -> bool {
        self.x.is_zero() && self.y.sub(&self.z).is_zero()
    }

    /// Whether `[8]P` is the identity: P is one of the 8 points of small order.
    fn is_small_order(&self) -> bool {
        self.double().double().double().is_identity()
    }
}

/// The affine forms of `points`, ready to add, with one field inversion (Montgomery's trick).
/// Z is never 0 on this curve (its formulas are complete).
#[inline(never)]
fn normalize(points: &[Point]) -> Vec<Precomp> {
    // before[i] = z_0 · … · z_(i−1)
    let mut before = Vec::with_capacity(points.len());
    let mut acc = ONE;
    for p in points {
        before.push(acc);
        acc = acc.mul(&p.z);
    }
    // inv = (z_0 · … · z_i)⁻¹, walking i down.
    let mut inv = acc.invert();
    let d2 = Fe::from_bytes(&D2);
    let mut out = Vec::with_capacity(points.len());
    for (p, b) in points.iter().zip(&before).rev() {
        let zinv = inv.mul(b);
        inv = inv.mul(&p.z);
        let x = p.x.mul(&zinv);
        let y = p.y.mul(&zinv);
        out.push(Precomp {
            y_plus_x: y.add(&x).carried(),
            y_minus_x: y.sub(&x).carried(),
            xy2d: x.mul(&y).mul(&d2),
        });
    }
    out.reverse();
    out
}

/// A lookup table: for j in 0..4, the affine odd multiples `1, 3, …, 2^(w−1) − 1` of
/// `2^(64j)·P`, stored j-major (`per` entries each).
struct Table {
    points: Box<[Precomp]>,
    per: usize,
}

impl Table {
    fn new(base: &Point, w: u32) -> Table {
        let per = 1usize << (w - 2);
        let mut points = Vec::with_capacity(4 * per);
        let mut b = *base;
        for j in 0..4 {
            if j > 0 {
                for _ in 0..64 {
                    b = b.double();
                }
            }
            let twice = b.double();
            let mut m = b;
            for i in 0..per {
                points.push(m);
                if i + 1 < per {
                    m = m.add(&twice);
                }
            }
        }
        Table {
            points: normalize(&points).into_boxed_slice(),
            per,
        }
    }

    /// The entry for an odd NAF digit `d` of piece `j` (its absolute value; the caller
    /// subtracts for `d < 0`).
    fn lookup(&self, j: usize, d: i8) -> Option<&Precomp> {
        self.points
            .get(j * self.per + usize::from(d.unsigned_abs() >> 1))
    }
}

/// B's table, built on first use, once per VM. `None` only if B's constant did not decode.
fn b_table() -> Option<&'static Table> {
    static TABLE: OnceLock<Option<Table>> = OnceLock::new();
    TABLE
        .get_or_init(|| Point::decompress(&B_BYTES).map(|b| Table::new(&b, W_B)))
        .as_ref()
}

// ---- Scalars -----------------------------------------------------------------------------------

/// Whether a little-endian 256-bit `s` is below L (RFC 8032's and dalek's canonical S).
fn is_canonical(s: &[u8; 32]) -> bool {
    let (words, _) = s.as_chunks::<4>();
    for (w, &l) in words.iter().zip(&L).rev() {
        let w = u32::from_le_bytes(*w);
        if w != l {
            return w < l;
        }
    }
    false
}

/// A 512-bit little-endian number mod L, little-endian: byte by byte from the top,
/// `r ← r·2⁸ + byte`, then r less `q·L` with q one below `⌊r / 2²⁵²⌋` (which leaves r in
/// `(0, 2L)`: L is 2²⁵² plus a 125-bit number and q ≤ 256), then at most one more L.
#[inline(never)]
fn reduce_wide(h: &[u8; 64]) -> [u8; 32] {
    // r < L, one word of headroom for r·2⁸ < 2²⁶¹.
    let mut r = [0u32; 9];
    for &byte in h.iter().rev() {
        let mut carry = u32::from(byte);
        for l in r.iter_mut() {
            let v = (u64::from(*l) << 8) | u64::from(carry);
            *l = v as u32;
            carry = (v >> 32) as u32;
        }
        let [.., r7, r8] = r;
        let q = ((r8 << 4) | (r7 >> 28)).saturating_sub(1);
        if q > 0 {
            sub_mul_l(&mut r, q);
        }
        if !lt_l(&r) {
            sub_mul_l(&mut r, 1);
        }
    }
    let mut out = [0u8; 32];
    let (chunks, _) = out.as_chunks_mut::<4>();
    for (c, l) in chunks.iter_mut().zip(r) {
        *c = l.to_le_bytes();
    }
    out
}

/// `r −= q·L`, for `q·L ≤ r`.
fn sub_mul_l(r: &mut [u32; 9], q: u32) {
    let q = i64::from(q);
    let mut borrow = 0i64;
    for (ri, &li) in r.iter_mut().zip(L.iter().chain(&[0])) {
        let v = i64::from(*ri) - q * i64::from(li) - borrow;
        *ri = v as u32;
        borrow = -(v >> 32);
    }
}

/// `r < L` for a 9-word r.
fn lt_l(r: &[u32; 9]) -> bool {
    let [.., top] = *r;
    if top != 0 {
        return false;
    }
    for (&x, &y) in r.iter().zip(&L).rev() {
        if x != y {
            return x < y;
        }
    }
    false
}

/// The four 64-bit pieces of a little-endian scalar, least significant first.
fn pieces(s: &[u8; 32]) -> [u64; 4] {
    let (words, _) = s.as_chunks::<8>();
    let mut out = [0u64; 4];
    for (o, w) in out.iter_mut().zip(words) {
        *o = u64::from_le_bytes(*w);
    }
    out
}

/// `[s]B + [k]P` from B's table and P's, by interleaved wNAF with 64 shared doublings. `None`
/// only if a table lookup fails (it cannot).
#[inline(never)]
fn lincomb(s: &[u8; 32], b: &Table, k: &[u8; 32], p: &Table) -> Option<Point> {
    let s_digits = pieces(s).map(|x| wnaf(x, W_B));
    let k_digits = pieces(k).map(|x| wnaf(x, W_A));
    let mut acc = Point::IDENTITY;
    let mut started = false;
    for i in (0..DIGITS).rev() {
        if started {
            acc = acc.double();
        }
        for (table, digits) in [(b, &s_digits), (p, &k_digits)] {
            for (j, row) in digits.iter().enumerate() {
                let d = row.get(i).copied().unwrap_or(0);
                if d != 0 {
                    acc = acc.add_precomp(table.lookup(j, d)?, d < 0);
                    started = true;
                }
            }
        }
    }
    Some(acc)
}

// ---- Keys --------------------------------------------------------------------------------------

/// An Ed25519 public key: a point, not of small order; cheap to clone (the table is shared).
#[derive(Clone)]
pub struct VerifyingKey(Arc<KeyInner>);

struct KeyInner {
    /// The key's own 32 bytes, hashed into every `k` as they were given.
    bytes: [u8; 32],
    /// −A: verification computes `[S]B + [k](−A)`.
    minus_a: Point,
    /// Built on the key's first verification: a JWKS may hold many keys that are never used.
    table: OnceLock<Table>,
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex: String = self.0.bytes.iter().map(|b| format!("{b:02x}")).collect();
        f.debug_tuple("Ed25519VerifyingKey").field(&hex).finish()
    }
}

impl VerifyingKey {
    /// A key from its 32-byte encoding. `None` if it is not a point (no x for its y) or is
    /// one of small order (a "weak" key, for which signatures can be forged): exactly the keys
    /// ed25519-dalek's `VerifyingKey::from_bytes` refuses or calls `is_weak`.
    pub fn from_bytes(bytes: &[u8; 32]) -> Option<VerifyingKey> {
        let a = Point::decompress(bytes)?;
        if a.is_small_order() {
            return None;
        }
        Some(VerifyingKey(Arc::new(KeyInner {
            bytes: *bytes,
            minus_a: a.neg(),
            table: OnceLock::new(),
        })))
    }

    /// The key's encoding, as given.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0.bytes
    }

    fn table(&self) -> &Table {
        self.0
            .table
            .get_or_init(|| Table::new(&self.0.minus_a, W_A))
    }

    /// Verifies `signature` (`R || S`) over `message` as ed25519-dalek's `verify_strict`.
    pub fn verify(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        let (Some(r), Some(s)) = (signature.first_chunk::<32>(), signature.last_chunk::<32>())
        else {
            return false;
        };
        if !is_canonical(s) {
            return false;
        }
        let digest = sha::sha512(&[r, &self.0.bytes, message]);
        let k = reduce_wide(&digest);
        let Some(b) = b_table() else {
            return false;
        };
        let Some(expected) = lincomb(s, b, &k, self.table()) else {
            return false;
        };
        // R must be the canonical encoding of R' (so it decompresses, to R'), and R' must not
        // be of small order (dalek refuses a small-order R).
        expected.compress() == *r && !expected.is_small_order()
    }
}

#[cfg(test)]
mod tests;
