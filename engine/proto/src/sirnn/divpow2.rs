//! Π_DivPow2: signed division by 2^s rounding towards zero, kept in bw bits (SiRNN, Rathee et
//! al., IEEE S&P 2021), as SCI's `Truncation::div_pow2` (EzPC
//! `SCI/src/BuildingBlocks/truncation.cpp`) runs it; the SiRNN library's default rescale
//! (`DIV_RESCALING`, `docs/sci-protocols.md` §Rescaling).
//!
//! ALICE adds 2^(bw−1). Sends, in order: Wrap of the low s bits (Π_Mill(s)); Π_Eq(s) testing
//! the low s bits for zero; Π_MillEq(bw − s − 1) on the bits between the shift and the MSB;
//! AND (lower wrap ∧ upper eq) giving the MSB; MSB_to_Wrap; AND (low bits non-zero ∧
//! negative) = the rounding correction; then three B2As (upper wrap to s bits, lower wrap and
//! correction to bw bits). Cost Mill(s) + Eq(s) + MillEq(bw−s−1) + 2·144 + 260 + (λ+s) +
//! 2(λ+bw) bits. s = 0 is a free copy; bw − s − 1 = 0 makes the MillEq free.

use crate::ProtoResult;
use crate::party::Party;
use crate::sirnn::tr::check;
use crate::sirnn::{and, b2a, equality, millionaire_eq, msb_to_wrap, wrap};
use crate::{Cost, Profile};
use pq_kernels::ring::mask;

fn m0(l: u32) -> u64 {
    if l == 0 { 0 } else { mask(l) }
}

/// Cost of div_pow2 on n elements.
pub fn cost(n: u64, bw: u32, s: u32, pr: Profile) -> Cost {
    if s == 0 {
        return Cost::ZERO;
    }
    wrap::cost(n, s, pr)
        .then(equality::cost(n, s, pr))
        .then(millionaire_eq::cost(n, bw - s - 1, pr))
        .then(and::cost(n, pr))
        .then(msb_to_wrap::cost(n, pr))
        .then(and::cost(n, pr))
        .then(b2a::cost(n, s, pr))
        .then(b2a::cost(n, bw, pr))
        .then(b2a::cost(n, bw, pr))
}

/// bw-bit shares of x / 2^s rounded towards zero (x signed).
pub fn run(p: &mut Party, x: &[u64], bw: u32, s: u32) -> ProtoResult<Vec<u64>> {
    check(bw, s)?;
    let mb = mask(bw);
    let alice = p.is_alice();
    if s == 0 {
        return Ok(x.iter().map(|v| v & mb).collect());
    }
    let xs: Vec<u64> = x
        .iter()
        .map(|&v| {
            if alice {
                v.wrapping_add(1u64 << (bw - 1)) & mb
            } else {
                v & mb
            }
        })
        .collect();
    let mu = m0(bw - s - 1);
    let ms = mask(s);
    let low: Vec<u64> = xs.iter().map(|v| v & ms).collect();
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
    let lowneg: Vec<u64> = if alice {
        low.clone()
    } else {
        low.iter().map(|v| v.wrapping_neg() & ms).collect()
    };
    let mut zero = equality::run(p, &lowneg, s)?;
    let (g, e) = millionaire_eq::run(p, &up, bw - s - 1)?;
    let a = and::run(p, &wl, &e)?;
    let mut msb: Vec<u8> = (0..xs.len())
        .map(|i| g[i] ^ a[i] ^ ((xs[i] >> (bw - 1)) & 1) as u8)
        .collect();
    let wu = msb_to_wrap::run(p, &xs, &msb, bw)?;
    if alice {
        zero.iter_mut().for_each(|b| *b ^= 1);
        msb.iter_mut().for_each(|b| *b ^= 1);
    }
    let corr = and::run(p, &zero, &msb)?;
    let awu = b2a::run(p, &wu, s)?;
    let awl = b2a::run(p, &wl, bw)?;
    let ac = b2a::run(p, &corr, bw)?;
    Ok((0..xs.len())
        .map(|i| {
            let mut o = (xs[i] >> s)
                .wrapping_add(ac[i])
                .wrapping_add(awl[i])
                .wrapping_sub(awu[i].wrapping_shl(bw - s))
                & mb;
            if alice {
                o = o.wrapping_sub(1u64 << (bw - s - 1)) & mb;
            }
            o
        })
        .collect())
}

/// Plaintext reference: x / 2^s rounded towards zero (SCI's `div_pow2`), `s` in 0..=63.
#[inline]
pub fn reference(x: i64, s: u32) -> i64 {
    ((x as i128) / (1i128 << s)) as i64
}
