//! Π_Trunc: truncation kept in the input width (SiRNN, Rathee et al., IEEE S&P 2021), as SCI's
//! `Truncation::truncate` (EzPC `SCI/src/BuildingBlocks/truncation.cpp`) runs it.
//!
//! x >> s kept in bw bits (arithmetic shift when signed, logical otherwise; signed adds 2^(bw−1)
//! first and subtracts 2^(bw−s−1) after).
//!
//! Sends: Wrap of the low s bits (Π_Mill(s)); the wrap of the whole value from Π_MillEq on
//! the upper bw − s bits plus one AND (or MSB_to_Wrap when MSB shares are known); then
//! B2A(upper wrap) to s bits and B2A(lower wrap) to bw bits, one after the other.
//! Cost Mill(s) + MillEq(bw−s) + 144 + (λ+s) + (λ+bw) bits (Mill(s) + 260 + … with MSB).

use crate::ProtoResult;
use crate::party::Party;
use crate::sirnn::tr::check;
use crate::sirnn::{and, b2a, millionaire_eq, msb_to_wrap, wrap};
use crate::{Cost, Profile};
use pq_kernels::ring::mask;

/// Cost of Π_Trunc on n elements.
pub fn cost(n: u64, bw: u32, s: u32, msb_known: bool, pr: Profile) -> Cost {
    if s == 0 {
        return Cost::ZERO;
    }
    let up = if msb_known {
        msb_to_wrap::cost(n, pr)
    } else {
        millionaire_eq::cost(n, bw - s, pr).then(and::cost(n, pr))
    };
    wrap::cost(n, s, pr)
        .then(up)
        .then(b2a::cost(n, s, pr))
        .then(b2a::cost(n, bw, pr))
}

/// Π_Trunc: bw-bit shares of x >> s (arithmetic if `signed`).
pub fn run(
    p: &mut Party,
    x: &[u64],
    bw: u32,
    s: u32,
    signed: bool,
    msb: Option<&[u8]>,
) -> ProtoResult<Vec<u64>> {
    check(bw, s)?;
    let mb = mask(bw);
    let alice = p.is_alice();
    if s == 0 {
        return Ok(x.iter().map(|v| v & mb).collect());
    }
    let xs: Vec<u64> = x
        .iter()
        .map(|&v| {
            if signed && alice {
                v.wrapping_add(1u64 << (bw - 1)) & mb
            } else {
                v & mb
            }
        })
        .collect();
    let mu = mask(bw - s);
    let low: Vec<u64> = xs.iter().map(|v| v & mask(s)).collect();
    let up: Vec<u64> = xs
        .iter()
        .map(|&v| {
            if alice {
                (v >> s) & mu
            } else {
                mu - ((v >> s) & mu)
            }
        })
        .collect();
    let wl = wrap::run(p, &low, s)?;
    let wu = match msb {
        None => {
            let (g, e) = millionaire_eq::run(p, &up, bw - s)?;
            let a = and::run(p, &wl, &e)?;
            g.iter().zip(&a).map(|(x, y)| x ^ y).collect::<Vec<u8>>()
        }
        Some(b) => {
            let mm: Vec<u8> = b
                .iter()
                .map(|&v| if signed && alice { v ^ 1 } else { v })
                .collect();
            msb_to_wrap::run(p, &xs, &mm, bw)?
        }
    };
    let awu = b2a::run(p, &wu, s)?;
    let awl = b2a::run(p, &wl, bw)?;
    Ok((0..xs.len())
        .map(|i| {
            let mut o = ((xs[i] >> s) & mu)
                .wrapping_add(awl[i])
                .wrapping_sub(awu[i].wrapping_shl(bw - s))
                & mb;
            if signed && alice {
                o = o.wrapping_sub(1u64 << (bw - s - 1)) & mb;
            }
            o
        })
        .collect())
}

/// Plaintext reference: floor(x / 2^s), in the same width.
#[inline]
pub fn reference(x: i64, s: u32) -> i64 {
    x >> s
}
