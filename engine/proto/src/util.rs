//! Small helpers shared by the protocols: bit packing of openings, rounding rules.

use super::ProtoResult;
use crate::party::Party;
use pq_kernels::ring::mask;

/// ⌈log2 x⌉ (0 for x ≤ 1).
pub fn clog2(x: u64) -> u32 {
    if x <= 1 {
        0
    } else {
        64 - (x - 1).leading_zeros()
    }
}

/// n rounded up to a multiple of 8 (SCI's comparison batch padding).
pub fn pad8(n: u64) -> u64 {
    n.div_ceil(8) * 8
}

/// Pack bits (0/1 bytes) LSB-first, 8 per byte.
pub fn pack_bits(bits: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + bits.len().div_ceil(8), 0);
    for (i, &b) in bits.iter().enumerate() {
        out[start + i / 8] |= (b & 1) << (i % 8);
    }
}

/// Unpack `n` bits from `src`.
pub fn unpack_bits(src: &[u8], n: usize, out: &mut Vec<u8>) {
    out.clear();
    out.extend((0..n).map(|i| (src[i / 8] >> (i % 8)) & 1));
}

/// Both parties send `bits` (packed, `copies` times, as SCI's duplicated openings do) and
/// receive the peer's; returns the peer's bits. One flight each, one round trip.
pub fn exchange_bits(p: &mut Party, bits: &[u8], copies: usize) -> ProtoResult<Vec<u8>> {
    let mut msg = Vec::with_capacity(bits.len().div_ceil(8) * copies);
    for _ in 0..copies {
        pack_bits(bits, &mut msg);
    }
    let len = msg.len();
    p.ch.send_vec(msg)?;
    let got = p.ch.recv_exact_vec(len)?;
    let mut out = Vec::new();
    unpack_bits(&got, bits.len(), &mut out);
    Ok(out)
}

/// Random bits (0/1) from the party's PRG.
pub fn rand_bits(p: &mut Party, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n.div_ceil(8)];
    p.prg.fill_bytes(&mut buf);
    (0..n).map(|i| (buf[i / 8] >> (i % 8)) & 1).collect()
}

/// Random l-bit values from the party's PRG.
pub fn rand_vals(p: &mut Party, n: usize, l: u32) -> Vec<u64> {
    let m = mask(l);
    (0..n).map(|_| p.prg.next_u64() & m).collect()
}

/// Read `v` modulo 2^l as a signed l-bit integer (keep the low `l` bits, never a clamp): the
/// plaintext meaning of reducing an l-bit share.
#[inline]
pub fn reduce_signed(v: i64, l: u32) -> i64 {
    pq_kernels::ring::to_signed(pq_kernels::ring::from_signed(v, l), l)
}

/// Check that every index of `windows` points into a vector of `len` elements (the max-pool
/// protocols' window lists).
pub(crate) fn check_windows(len: usize, windows: &[Vec<usize>]) -> crate::ProtoResult<()> {
    if windows.iter().flatten().any(|&i| i >= len) {
        return Err(crate::param("window", "index out of range"));
    }
    Ok(())
}
