//! Π_AvgPool: average pool as the `sirnn` profile runs it (`docs/sci-protocols.md` §Network
//! recipes).
//!
//! A local sum in l bits, then div_pow2(l, shift) per output (shift = log2 k² for power-of-two
//! windows; the global 7×7 pool uses shift 6 with the factor 64/49 folded into the next layer's
//! weights).

use crate::ProtoResult;
use crate::party::Party;
use crate::sirnn::divpow2;
use crate::{Cost, Profile};
use pq_kernels::ring::mask;

/// Cost of `rows` outputs.
pub fn cost(rows: u64, l: u32, shift: u32, pr: Profile) -> Cost {
    divpow2::cost(rows, l, shift, pr)
}

/// `x` is rows × k2 (row-major); returns shares of (Σ row) / 2^shift rounded towards zero.
pub fn run(
    p: &mut Party,
    x: &[u64],
    rows: usize,
    k2: usize,
    l: u32,
    shift: u32,
) -> ProtoResult<Vec<u64>> {
    crate::check_bw("l", l)?;
    if x.len() != rows * k2 {
        return Err(crate::param("k", "input must be rows × k²"));
    }
    let m = mask(l);
    let s: Vec<u64> = (0..rows)
        .map(|r| {
            x[r * k2..(r + 1) * k2]
                .iter()
                .fold(0u64, |a, &v| a.wrapping_add(v))
                & m
        })
        .collect();
    divpow2::run(p, &s, l, shift)
}
