//! Π_TR: truncate-and-reduce (SiRNN, Rathee et al., IEEE S&P 2021), as SCI's
//! `Truncation::truncate_and_reduce` (EzPC `SCI/src/BuildingBlocks/truncation.cpp`) runs it.
//!
//! The low bw − s bits of x >> s. y = (x_0 >> s) + (x_1 >> s) + w, with w = Wrap of the low s
//! bits (Π_Mill(s)), B2A'd to bw − s bits. Cost Mill(s) + λ + (bw − s) bits; s = 0 is a free
//! copy.

use crate::ProtoResult;
use crate::party::Party;
use crate::sirnn::{b2a, wrap};
use crate::{Cost, Profile};
use pq_kernels::ring::mask;

pub(crate) fn check(bw: u32, s: u32) -> ProtoResult<()> {
    crate::check_bw("bw", bw)?;
    if s >= bw {
        return Err(crate::param(
            "s",
            format!("shift {s} must be below the bit-width {bw}"),
        ));
    }
    Ok(())
}

/// Cost of Π_TR on n elements.
pub fn cost(n: u64, bw: u32, s: u32, pr: Profile) -> Cost {
    if s == 0 {
        return Cost::ZERO;
    }
    wrap::cost(n, s, pr).then(b2a::cost(n, bw - s, pr))
}

/// Π_TR: bw-bit shares in, (bw − s)-bit shares of (x >> s) out.
pub fn run(p: &mut Party, x: &[u64], bw: u32, s: u32) -> ProtoResult<Vec<u64>> {
    check(bw, s)?;
    let xb: Vec<u64> = x.iter().map(|v| v & mask(bw)).collect();
    if s == 0 {
        return Ok(xb);
    }
    let low: Vec<u64> = xb.iter().map(|v| v & mask(s)).collect();
    let w = wrap::run(p, &low, s)?;
    let wa = b2a::run(p, &w, bw - s)?;
    let mo = mask(bw - s);
    Ok(xb
        .iter()
        .zip(&wa)
        .map(|(&v, &w)| (v >> s).wrapping_add(w) & mo)
        .collect())
}

/// Plaintext reference on a `bw`-bit value: floor(x / 2^s) reduced to `bw − s` bits.
#[inline]
pub fn reference(x: i64, bw: u32, s: u32) -> i64 {
    crate::util::reduce_signed(x >> s, bw - s)
}
