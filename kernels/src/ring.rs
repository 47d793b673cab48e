//! Packed arithmetic in Z_2^l for every l in 1..=64.
//!
//! Values live one per `u64` for compute, always reduced to their low `l` bits. On the wire they
//! are packed densely: value `i` occupies bits `[i·l, (i+1)·l)` of the stream, where bit `k` of the
//! stream is bit `k % 8` of byte `k / 8` (LSB first). There is no padding between values; the
//! last byte is zero-padded.

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
    assert_eq!(out.len(), packed_len(vals.len(), l));
    let m = mask(l);
    let mut acc: u128 = 0;
    let mut nbits = 0u32;
    let mut o = 0usize;
    for &v in vals {
        acc |= ((v & m) as u128) << nbits;
        nbits += l;
        while nbits >= 8 {
            out[o] = acc as u8;
            o += 1;
            acc >>= 8;
            nbits -= 8;
        }
    }
    if nbits > 0 {
        out[o] = acc as u8;
    }
}

/// Pack into a new vector.
pub fn pack_vec(vals: &[u64], l: u32) -> Vec<u8> {
    let mut out = vec![0u8; packed_len(vals.len(), l)];
    pack(vals, l, &mut out);
    out
}

/// Unpack `out.len()` values of `l` bits from `input` (`packed_len(out.len(), l)` bytes).
pub fn unpack(input: &[u8], l: u32, out: &mut [u64]) {
    assert!((1..=64).contains(&l), "bit-width {l} out of 1..=64");
    assert_eq!(input.len(), packed_len(out.len(), l));
    let m = mask(l);
    let mut acc: u128 = 0;
    let mut nbits = 0u32;
    let mut i = 0usize;
    for o in out.iter_mut() {
        while nbits < l {
            acc |= (input[i] as u128) << nbits;
            i += 1;
            nbits += 8;
        }
        *o = (acc as u64) & m;
        acc >>= l;
        nbits -= l;
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

/// Sign-extend `l`-bit values to `l2 >= l` bits.
pub fn sign_extend_assign(a: &mut [u64], l: u32, l2: u32) {
    assert!(l2 >= l);
    for x in a.iter_mut() {
        *x = from_signed(to_signed(*x, l), l2);
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
