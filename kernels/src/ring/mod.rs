//! Packed arithmetic in Z_2^l for every l in 1..=64.
//!
//! Values live one per `u64` for compute, always reduced to their low `l` bits. On the wire they
//! are packed densely: value `i` occupies bits `[i·l, (i+1)·l)` of the stream, where bit `k` of the
//! stream is bit `k % 8` of byte `k / 8` (LSB first). There is no padding between values; the
//! last byte is zero-padded.
//!
//! [`pack()`] / [`unpack`] move 64 values (= `l` words) per step with a kernel specialised per
//! `l` (see `pack.rs`); the arithmetic helpers are plain loops the compiler vectorises.

mod pack;

/// The mask of the low `l` bits (`l` in 1..=64).
#[inline(always)]
pub const fn mask(l: u32) -> u64 {
    if l >= 64 { u64::MAX } else { (1u64 << l) - 1 }
}

/// Bytes needed to pack `n` values of `l` bits.
#[inline]
pub const fn packed_len(n: usize, l: u32) -> usize {
    (n * l as usize).div_ceil(8)
}

/// Reduce to the low `l` bits.
#[inline(always)]
pub const fn reduce(x: u64, l: u32) -> u64 {
    x & mask(l)
}

/// The most significant bit of an `l`-bit value.
#[inline(always)]
pub const fn msb(x: u64, l: u32) -> bool {
    (x >> (l - 1)) & 1 == 1
}

/// Read an `l`-bit value as a signed two's-complement integer.
#[inline(always)]
pub const fn to_signed(x: u64, l: u32) -> i64 {
    let sh = 64 - l;
    ((x << sh) as i64) >> sh
}

/// The `l`-bit two's-complement representation of `v` (wraps if `v` does not fit).
#[inline(always)]
pub const fn from_signed(v: i64, l: u32) -> u64 {
    (v as u64) & mask(l)
}

/// Pack `vals` (each reduced to `l` bits first) into `out`, which must be exactly
/// `packed_len(vals.len(), l)` bytes.
pub fn pack(vals: &[u64], l: u32, out: &mut [u8]) {
    assert!((1..=64).contains(&l), "bit-width {l} out of 1..=64");
    assert_eq!(out.len(), packed_len(vals.len(), l), "packed length");
    pack::pack_into(vals, l, out);
}

/// Pack into a new vector.
pub fn pack_vec(vals: &[u64], l: u32) -> Vec<u8> {
    let mut out = vec![0u8; packed_len(vals.len(), l)];
    pack(vals, l, &mut out);
    out
}

/// Unpack `out.len()` values of `l` bits from `input` (`packed_len(out.len(), l)` bytes).
/// Bits of the last byte beyond the last value are ignored.
pub fn unpack(input: &[u8], l: u32, out: &mut [u64]) {
    assert!((1..=64).contains(&l), "bit-width {l} out of 1..=64");
    assert_eq!(input.len(), packed_len(out.len(), l), "packed length");
    pack::unpack_from(input, l, 0, out);
}

/// Unpack values `start..start + out.len()` of a packed stream; `input` must hold at least
/// `packed_len(start + out.len(), l)` bytes.
pub fn unpack_range(input: &[u8], l: u32, start: usize, out: &mut [u64]) {
    assert!((1..=64).contains(&l), "bit-width {l} out of 1..=64");
    let end = start
        .checked_add(out.len())
        .expect("value range overflows usize");
    assert!(input.len() >= packed_len(end, l), "packed stream too short");
    pack::unpack_from(input, l, start, out);
}

/// Unpack into a new vector of `n` values.
pub fn unpack_vec(input: &[u8], l: u32, n: usize) -> Vec<u64> {
    let mut out = vec![0u64; n];
    unpack(input, l, &mut out);
    out
}

/// Pack bits given one per byte (only bit 0 of each byte counts) in the `l = 1` format;
/// `out` must be exactly `bits.len().div_ceil(8)` bytes.
pub fn pack_bits(bits: &[u8], out: &mut [u8]) {
    assert_eq!(out.len(), bits.len().div_ceil(8), "packed length");
    let mut chunks = bits.chunks_exact(8);
    for (o, c) in out.iter_mut().zip(&mut chunks) {
        // Byte k of x is bit k of the result (bit 0 of bit-byte k).
        let x = u64::from_le_bytes(c.try_into().expect("8 bytes")) & 0x0101_0101_0101_0101;
        *o = (x.wrapping_mul(0x0102_0408_1020_4080) >> 56) as u8;
    }
    let rem = chunks.remainder();
    if !rem.is_empty() {
        out[out.len() - 1] = rem
            .iter()
            .enumerate()
            .fold(0u8, |acc, (k, &b)| acc | ((b & 1) << k));
    }
}

/// Unpack `out.len()` bits (`l = 1` format) into one byte each (0 or 1).
pub fn unpack_bits(input: &[u8], out: &mut [u8]) {
    assert_eq!(input.len(), out.len().div_ceil(8), "packed length");
    let mut chunks = out.chunks_exact_mut(8);
    for (c, &b) in (&mut chunks).zip(input) {
        // The product is the sum of b << 9k; after `>> 7`, bit 0 of byte k is bit 7 - k of b,
        // and the byte swap puts bit k of b in byte k.
        let x = ((b as u64).wrapping_mul(0x8040_2010_0804_0201) >> 7) & 0x0101_0101_0101_0101;
        let x = x.swap_bytes();
        c.copy_from_slice(&x.to_le_bytes());
    }
    let rem = chunks.into_remainder();
    if let Some(&b) = input.last() {
        for (k, o) in rem.iter_mut().enumerate() {
            *o = (b >> k) & 1;
        }
    }
}

/// `a[i] = a[i] + b[i] mod 2^l`.
pub fn add_assign(a: &mut [u64], b: &[u64], l: u32) {
    assert_eq!(a.len(), b.len());
    let m = mask(l);
    for (x, y) in a.iter_mut().zip(b) {
        *x = x.wrapping_add(*y) & m;
    }
}

/// `a[i] = a[i] - b[i] mod 2^l`.
pub fn sub_assign(a: &mut [u64], b: &[u64], l: u32) {
    assert_eq!(a.len(), b.len());
    let m = mask(l);
    for (x, y) in a.iter_mut().zip(b) {
        *x = x.wrapping_sub(*y) & m;
    }
}

/// `a[i] = a[i] · b[i] mod 2^l`.
pub fn mul_assign(a: &mut [u64], b: &[u64], l: u32) {
    assert_eq!(a.len(), b.len());
    let m = mask(l);
    for (x, y) in a.iter_mut().zip(b) {
        *x = x.wrapping_mul(*y) & m;
    }
}

/// `a[i] = -a[i] mod 2^l`.
pub fn neg_assign(a: &mut [u64], l: u32) {
    let m = mask(l);
    for x in a.iter_mut() {
        *x = x.wrapping_neg() & m;
    }
}

/// `a[i] = s · a[i] mod 2^l`.
pub fn mul_scalar_assign(a: &mut [u64], s: u64, l: u32) {
    let m = mask(l);
    for x in a.iter_mut() {
        *x = x.wrapping_mul(s) & m;
    }
}

/// `a[i] = a[i] << s mod 2^l` (`s < 64`).
pub fn shl_assign(a: &mut [u64], s: u32, l: u32) {
    assert!(s < 64);
    let m = mask(l);
    for x in a.iter_mut() {
        *x = (*x << s) & m;
    }
}

/// Logical right shift of `l`-bit values (`s < 64`).
pub fn lshr_assign(a: &mut [u64], s: u32, l: u32) {
    assert!(s < 64);
    let m = mask(l);
    for x in a.iter_mut() {
        *x = (*x & m) >> s;
    }
}

/// Arithmetic right shift of `l`-bit two's-complement values, result in `l` bits (`s < 64`).
pub fn ashr_assign(a: &mut [u64], s: u32, l: u32) {
    assert!(s < 64);
    for x in a.iter_mut() {
        *x = from_signed(to_signed(*x, l) >> s, l);
    }
}

/// Sign-extend `l`-bit values to `l2` bits (`l <= l2 <= 64`).
pub fn sign_extend_assign(a: &mut [u64], l: u32, l2: u32) {
    assert!(l <= l2 && l2 <= 64, "sign extension from {l} to {l2} bits");
    for x in a.iter_mut() {
        *x = from_signed(to_signed(*x, l), l2);
    }
}

/// The ring Z_2^l with the bit-width checked once (`l` in 1..=64); a thin wrapper over the
/// free functions of this module.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ring {
    l: u32,
}

impl Ring {
    /// `Some` iff `l` is in 1..=64.
    pub const fn new(l: u32) -> Option<Ring> {
        if l >= 1 && l <= 64 {
            Some(Ring { l })
        } else {
            None
        }
    }
    /// The bit-width `l`.
    #[inline(always)]
    pub const fn bits(self) -> u32 {
        self.l
    }
    /// The mask of the low `l` bits ([`mask`]).
    #[inline(always)]
    pub const fn mask(self) -> u64 {
        mask(self.l)
    }
    /// `x mod 2^l` ([`reduce`]).
    #[inline(always)]
    pub const fn reduce(self, x: u64) -> u64 {
        reduce(x, self.l)
    }
    /// `a + b mod 2^l`.
    #[inline(always)]
    pub const fn add(self, a: u64, b: u64) -> u64 {
        a.wrapping_add(b) & self.mask()
    }
    /// `a - b mod 2^l`.
    #[inline(always)]
    pub const fn sub(self, a: u64, b: u64) -> u64 {
        a.wrapping_sub(b) & self.mask()
    }
    /// `-a mod 2^l`.
    #[inline(always)]
    pub const fn neg(self, a: u64) -> u64 {
        a.wrapping_neg() & self.mask()
    }
    /// `a · b mod 2^l`.
    #[inline(always)]
    pub const fn mul(self, a: u64, b: u64) -> u64 {
        a.wrapping_mul(b) & self.mask()
    }
    /// The most significant bit of an `l`-bit value ([`msb`]).
    #[inline(always)]
    pub const fn msb(self, x: u64) -> bool {
        msb(x, self.l)
    }
    /// An `l`-bit value as a signed two's-complement integer ([`to_signed`]).
    #[inline(always)]
    pub const fn to_signed(self, x: u64) -> i64 {
        to_signed(x, self.l)
    }
    /// The `l`-bit two's-complement representation of `v`, wrapping ([`from_signed`]).
    #[inline(always)]
    pub const fn from_signed(self, v: i64) -> u64 {
        from_signed(v, self.l)
    }
    /// The most negative value, `2^(l-1)`.
    #[inline(always)]
    pub const fn min_signed(self) -> u64 {
        1u64 << (self.l - 1)
    }
    /// Bytes needed to pack `n` values ([`packed_len`]).
    #[inline]
    pub const fn packed_len(self, n: usize) -> usize {
        packed_len(n, self.l)
    }
    /// [`pack()`] with this bit-width.
    pub fn pack(self, vals: &[u64], out: &mut [u8]) {
        pack(vals, self.l, out)
    }
    /// [`pack_vec`] with this bit-width.
    pub fn pack_vec(self, vals: &[u64]) -> Vec<u8> {
        pack_vec(vals, self.l)
    }
    /// [`unpack`] with this bit-width.
    pub fn unpack(self, input: &[u8], out: &mut [u64]) {
        unpack(input, self.l, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn pack_roundtrip_small() {
        for l in 1..=64u32 {
            let vals: Vec<u64> = (0..37u64)
                .map(|i| i.wrapping_mul(0x9e3779b97f4a7c15) & mask(l))
                .collect();
            let p = pack_vec(&vals, l);
            assert_eq!(p.len(), packed_len(37, l));
            let mut u = vec![0; 37];
            unpack(&p, l, &mut u);
            assert_eq!(u, vals, "l={l}");
        }
    }
    #[test]
    fn signed() {
        assert_eq!(to_signed(0b1000, 4), -8);
        assert_eq!(to_signed(7, 4), 7);
        assert_eq!(from_signed(-1, 5), 31);
        assert_eq!(to_signed(u64::MAX, 64), -1);
        assert!(msb(8, 4));
    }
}
