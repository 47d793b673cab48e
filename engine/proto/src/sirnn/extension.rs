//! Π_Ext (Π_ZExt / Π_SExt): zero and signed extension m → n bits (SiRNN, Rathee et al., IEEE S&P
//! 2021), as SCI's `XTProtocol::z_extend` / `s_extend` (EzPC
//! `SCI/src/BuildingBlocks/value-extension.cpp`) run it.
//!
//! Zero extension: w = Wrap(x) by Π_Mill(m) (or MSB_to_Wrap when MSB shares are known), then
//! y = x − 2^m·B2A(w) over n bits; B2A to n − m bits. Signed extension: ALICE adds 2^(m−1)
//! (and flips her MSB share), zero-extends, then subtracts 2^(m−1). Both cost
//! Mill(m) + λ + (n − m) bits per element (260 + λ + (n − m) with known MSB shares).
//! m = n is a free copy.
//!
//! Known non-negative input (sign propagation, [`nonneg_extend`]): x < 2^(m−1), its MSB
//! publicly 0. With a, b the MSBs of the two shares, the wrap of x_0 + x_1 over 2^m is a OR b
//! = a + b − a·b, and arithmetic shares of a·b mod 2^(n−m) come from ONE correlated OT (the
//! server the sender with correlation a, the client's choice b); then y = x − 2^m·wrap over
//! n bits. λ + (n − m) bits per element (client → server the IKNP column, server → client
//! the COT payload), one round trip: no millionaire, no MSB_to_Wrap, no B2A.
//! [`ext`] / [`ext_cost`] pick that variant for proven non-negative inputs and SCI's
//! s_extend otherwise.

use crate::party::Party;
use crate::sirnn::{b2a, msb_to_wrap, wrap};
use crate::{Cost, Profile, Role};
use crate::{ProtoResult, ot_calls};
use pq_kernels::ring::mask;

fn check(m: u32, n: u32) -> ProtoResult<()> {
    crate::check_bw("from", m)?;
    crate::check_bw("to", n)?;
    if n < m {
        return Err(crate::param(
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

/// Cost of extending `n` known-non-negative elements from l1 to l2 bits.
pub fn cost_nonneg(n: u64, l1: u32, l2: u32, pr: Profile) -> Cost {
    if l2 <= l1 {
        return Cost::ZERO;
    }
    ot_calls::cot(Role::Server, n, l2 - l1, pr)
}

/// Arithmetic shares (mod 2^(l2−l1)) of the wrap bit a OR b of the l1-bit shares `x`
/// (x non-negative). One COT, server sender.
pub fn wrap_or(p: &mut Party, x: &[u64], l1: u32, l2: u32) -> ProtoResult<Vec<u64>> {
    check(l1, l2)?;
    let n = x.len();
    if l2 == l1 || n == 0 {
        return Ok(vec![0; n]);
    }
    let lw = l2 - l1;
    let m = mask(lw);
    let opts = p.opts();
    let bits: Vec<u64> = x.iter().map(|v| (v >> (l1 - 1)) & 1).collect();
    let mut o = vec![0u64; n];
    if p.is_alice() {
        p.ot.iknp_send
            .send_cot(&mut *p.ch, &bits, lw, opts, &mut o)?;
        // server share of a·b is −o, of w = a + b − ab is a + o
        Ok(bits
            .iter()
            .zip(&o)
            .map(|(&a, &r)| a.wrapping_add(r) & m)
            .collect())
    } else {
        let ch: Vec<u8> = bits.iter().map(|&b| b as u8).collect();
        p.ot.iknp_recv.recv_cot(&mut *p.ch, &ch, lw, opts, &mut o)?;
        // client share of a·b is o, of w is b − o
        Ok(bits
            .iter()
            .zip(&o)
            .map(|(&b, &r)| b.wrapping_sub(r) & m)
            .collect())
    }
}

/// Extend l1-bit shares of a non-negative x to l2 bits (same value).
pub fn nonneg_extend(p: &mut Party, x: &[u64], l1: u32, l2: u32) -> ProtoResult<Vec<u64>> {
    check(l1, l2)?;
    let m1 = mask(l1);
    let m2 = mask(l2);
    if l2 == l1 {
        return Ok(x.iter().map(|v| v & m1).collect());
    }
    let xm: Vec<u64> = x.iter().map(|v| v & m1).collect();
    let w = wrap_or(p, &xm, l1, l2)?;
    Ok(xm
        .iter()
        .zip(&w)
        .map(|(&v, &w)| v.wrapping_sub(w << l1) & m2)
        .collect())
}

/// Cost of a signed extension of `n_el` elements from m to n bits: the known-non-negative
/// variant when `nonneg`, SCI's s_extend otherwise.
pub fn ext_cost(n_el: u64, m: u32, n: u32, nonneg: bool, pr: Profile) -> Cost {
    if nonneg {
        cost_nonneg(n_el, m, n, pr)
    } else {
        cost(n_el, m, n, false, pr)
    }
}

/// Signed extension of m-bit shares to n bits: [`nonneg_extend`] when the input is proven
/// non-negative, [`s_extend`] otherwise.
pub fn ext(p: &mut Party, x: &[u64], m: u32, n: u32, nonneg: bool) -> ProtoResult<Vec<u64>> {
    if nonneg {
        nonneg_extend(p, x, m, n)
    } else {
        s_extend(p, x, m, n, None)
    }
}
