//! Extension m → n bits (SCI `XTProtocol::z_extend` / `s_extend`).
//!
//! Zero extension: w = Wrap(x) by Π_Mill(m) (or MSB_to_Wrap when MSB shares are known), then
//! y = x − 2^m·B2A(w) over n bits; B2A to n − m bits. Signed extension: ALICE adds 2^(m−1)
//! (and flips her MSB share), zero-extends, then subtracts 2^(m−1). Both cost
//! Mill(m) + λ + (n − m) bits per element (260 + λ + (n − m) with known MSB).
//! m = n is a free copy.

use super::{ProtoResult, b2a, msb_to_wrap, wrap};
use crate::party::Party;
use crate::{Cost, Profile};
use pq_kernels::ring::mask;

fn check(m: u32, n: u32) -> ProtoResult<()> {
    super::check_bw("from", m)?;
    super::check_bw("to", n)?;
    if n < m {
        return Err(super::param(
            "to",
            format!("target width {n} is below the source width {m}"),
        ));
    }
    Ok(())
}

/// Cost of extending n_el elements from m to n bits (same for zero and signed extension).
pub fn cost(n_el: u64, m: u32, n: u32, msb_known: bool, pr: Profile) -> Cost {
    if n <= m {
        return Cost::ZERO;
    }
    let w = if msb_known {
        msb_to_wrap::cost(n_el, pr)
    } else {
        wrap::cost(n_el, m, pr)
    };
    w.then(b2a::cost(n_el, n - m, pr))
}

/// Zero extension of m-bit shares to n bits (x read as unsigned).
pub fn z_extend(
    p: &mut Party,
    x: &[u64],
    m: u32,
    n: u32,
    msb: Option<&[u8]>,
) -> ProtoResult<Vec<u64>> {
    check(m, n)?;
    let xm: Vec<u64> = x.iter().map(|v| v & mask(m)).collect();
    if n == m {
        return Ok(xm);
    }
    let w = match msb {
        Some(b) => msb_to_wrap::run(p, &xm, b, m)?,
        None => wrap::run(p, &xm, m)?,
    };
    let wa = b2a::run(p, &w, n - m)?;
    let mn = mask(n);
    Ok(xm
        .iter()
        .zip(&wa)
        .map(|(&v, &w)| v.wrapping_sub(w << m) & mn)
        .collect())
}

/// Signed extension of m-bit shares to n bits.
pub fn s_extend(
    p: &mut Party,
    x: &[u64],
    m: u32,
    n: u32,
    msb: Option<&[u8]>,
) -> ProtoResult<Vec<u64>> {
    check(m, n)?;
    if n == m {
        return Ok(x.iter().map(|v| v & mask(m)).collect());
    }
    let off = 1u64 << (m - 1);
    let alice = p.is_alice();
    let xs: Vec<u64> = x
        .iter()
        .map(|&v| {
            if alice {
                v.wrapping_add(off) & mask(m)
            } else {
                v & mask(m)
            }
        })
        .collect();
    let flipped: Option<Vec<u8>> =
        msb.map(|b| b.iter().map(|&v| if alice { v ^ 1 } else { v }).collect());
    let mut y = z_extend(p, &xs, m, n, flipped.as_deref())?;
    if alice {
        let mn = mask(n);
        for v in y.iter_mut() {
            *v = v.wrapping_sub(off) & mn;
        }
    }
    Ok(y)
}
