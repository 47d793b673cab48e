//! Known-MSB extension (privquant profile): l1-bit shares of an x proven non-negative
//! (x < 2^(l1−1), MSB publicly 0) extended to l2 bits, exactly.
//!
//! With a, b the MSBs of the two shares, the wrap of x_0 + x_1 over 2^l1 is a OR b
//! = a + b − a·b. Arithmetic shares of a·b mod 2^(l2−l1) come from ONE correlated OT: the
//! server is the sender with correlation a, the client's choice is b. Then
//! y = x − 2^l1·w over l2 bits. Sends λ + (l2 − l1) bits per element (client → server the
//! IKNP column, server → client the COT payload), one round trip. No millionaire, no
//! MSB_to_Wrap. l1 = l2 is a free copy.

use super::{ProtoResult, otcost};
use crate::party::Party;
use crate::{Cost, Profile, Role};
use pq_kernels::ring::mask;

fn check(l1: u32, l2: u32) -> ProtoResult<()> {
    super::check_bw("from", l1)?;
    super::check_bw("to", l2)?;
    if l2 < l1 {
        return Err(super::param(
            "to",
            format!("target width {l2} is below the source width {l1}"),
        ));
    }
    Ok(())
}

/// Cost of extending `n` known-non-negative elements from l1 to l2 bits.
pub fn cost(n: u64, l1: u32, l2: u32, pr: Profile) -> Cost {
    if l2 <= l1 {
        return Cost::ZERO;
    }
    otcost::cot(Role::Server, n, l2 - l1, pr)
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
pub fn run(p: &mut Party, x: &[u64], l1: u32, l2: u32) -> ProtoResult<Vec<u64>> {
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
