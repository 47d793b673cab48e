//! Dense LSB-first packing of `l`-bit values (the wire format in the parent module docs).
//!
//! 64 values of `l` bits are exactly `l` little-endian 64-bit words, so the fast path moves
//! whole 64-value blocks with a kernel specialised per `l` (`const L`): every word index and
//! shift below is a compile-time constant once the 64-step loop is unrolled. Heads and tails
//! shorter than a block use a generic bit-offset path.

use super::mask;

/// Run `$body` 64 times with `$i` bound to the literal 0, 1, ..., 63 (a guaranteed unroll, so
/// every word index and shift derived from `$i` and a const bit-width is a constant).
macro_rules! unroll64 {
    ($i:ident => $body:block) => {
        unroll64!(@ $i $body; 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25
            26 27 28 29 30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54
            55 56 57 58 59 60 61 62 63)
    };
    (@ $i:ident $body:block; $($n:literal)*) => {
        $( { let $i: usize = $n; $body } )*
    };
}

/// Pack one block of 64 values (reduced here) into `8 * L` bytes.
#[inline(always)]
fn pack_block<const L: usize>(vals: &[u64], out: &mut [u8]) {
    let vals: &[u64; 64] = vals.try_into().expect("block of 64 values");
    let out: &mut [u8] = &mut out[..8 * L];
    let m = mask(L as u32);
    let mut w = [0u64; L];
    unroll64!(i => {
        let v = vals[i] & m;
        let (wi, sh) = (i * L / 64, i * L % 64);
        w[wi] |= v << sh;
        if sh + L > 64 {
            w[wi + 1] |= v >> (64 - sh);
        }
    });
    for (o, x) in out.chunks_exact_mut(8).zip(w) {
        o.copy_from_slice(&x.to_le_bytes());
    }
}

/// Unpack one block of 64 values from `8 * L` bytes.
#[inline(always)]
fn unpack_block<const L: usize>(input: &[u8], out: &mut [u64]) {
    let out: &mut [u64; 64] = out.try_into().expect("block of 64 values");
    let input = &input[..8 * L];
    let m = mask(L as u32);
    let mut w = [0u64; L];
    for (x, c) in w.iter_mut().zip(input.chunks_exact(8)) {
        *x = u64::from_le_bytes(c.try_into().expect("8 bytes"));
    }
    unroll64!(i => {
        let (wi, sh) = (i * L / 64, i * L % 64);
        let mut v = w[wi] >> sh;
        if sh + L > 64 {
            v |= w[wi + 1] << (64 - sh);
        }
        out[i] = v & m;
    });
}

/// Pack all whole 64-value blocks of `vals` into the front of `out`.
fn pack_blocks<const L: usize>(vals: &[u64], out: &mut [u8]) {
    for (v, o) in vals.chunks_exact(64).zip(out.chunks_exact_mut(8 * L)) {
        pack_block::<L>(v, o);
    }
}

/// Unpack all whole 64-value blocks of `out` from the front of `input`.
fn unpack_blocks<const L: usize>(input: &[u8], out: &mut [u64]) {
    for (o, i) in out.chunks_exact_mut(64).zip(input.chunks_exact(8 * L)) {
        unpack_block::<L>(i, o);
    }
}

type PackFn = fn(&[u64], &mut [u8]);
type UnpackFn = fn(&[u8], &mut [u64]);

macro_rules! tables {
    ($($l:literal)*) => {
        /// `PACK[l - 1]` packs the whole blocks for bit-width `l`.
        static PACK: [PackFn; 64] = [$(pack_blocks::<$l>),*];
        /// `UNPACK[l - 1]` unpacks the whole blocks for bit-width `l`.
        static UNPACK: [UnpackFn; 64] = [$(unpack_blocks::<$l>),*];
    };
}
tables!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32
        33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64);

/// Write `vals` (reduced to `l` bits) at stream bit `bit0` onwards, OR-ing into `out` (the
/// target bits must be zero). Generic path for heads and tails.
fn pack_bits_at(vals: &[u64], l: u32, bit0: usize, out: &mut [u8]) {
    let m = mask(l);
    for (i, &v) in vals.iter().enumerate() {
        let bit = bit0 + i * l as usize;
        let (byte, sh) = (bit / 8, bit % 8);
        let x = ((v & m) as u128) << sh;
        let nb = (sh + l as usize).div_ceil(8);
        for (k, o) in out[byte..byte + nb].iter_mut().enumerate() {
            *o |= (x >> (8 * k)) as u8;
        }
    }
}

/// Read `out.len()` values of `l` bits starting at stream bit `bit0`. Generic path.
fn unpack_bits_at(input: &[u8], l: u32, bit0: usize, out: &mut [u64]) {
    let m = mask(l);
    for (i, o) in out.iter_mut().enumerate() {
        let bit = bit0 + i * l as usize;
        let (byte, sh) = (bit / 8, bit % 8);
        let nb = (sh + l as usize).div_ceil(8);
        let mut x = 0u128;
        for (k, &b) in input[byte..byte + nb].iter().enumerate() {
            x |= (b as u128) << (8 * k);
        }
        *o = ((x >> sh) as u64) & m;
    }
}

/// Pack `vals` into exactly `out` (`packed_len(vals.len(), l)` bytes, checked by the caller).
pub(super) fn pack_into(vals: &[u64], l: u32, out: &mut [u8]) {
    let nb = vals.len() / 64;
    let head = nb * 8 * l as usize;
    PACK[l as usize - 1](&vals[..nb * 64], &mut out[..head]);
    let tail = &mut out[head..];
    tail.fill(0);
    pack_bits_at(&vals[nb * 64..], l, 0, tail);
}

/// Unpack values `start..start + out.len()` of the stream `input`.
pub(super) fn unpack_from(input: &[u8], l: u32, start: usize, out: &mut [u64]) {
    let lu = l as usize;
    // Generic head up to the next multiple of 64 values (stream offset then byte-aligned).
    let nh = ((64 - start % 64) % 64).min(out.len());
    let (head, rest) = out.split_at_mut(nh);
    unpack_bits_at(input, l, start * lu, head);
    let s = start + nh;
    let nb = rest.len() / 64;
    let (mid, tail) = rest.split_at_mut(nb * 64);
    let byte0 = s * lu / 8;
    UNPACK[lu - 1](&input[byte0..byte0 + nb * 8 * lu], mid);
    unpack_bits_at(input, l, (s + nb * 64) * lu, tail);
}
