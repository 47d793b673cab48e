//! Π_ReLU: max(x, 0) on additive shares, in SiRNN's and CrypTFlow2's forms
//! (`docs/sci-protocols.md` §ReLU).
//!
//! * [`run`] / [`cost`]: SiRNN's (SCI `MathFunctions::ReLU`, EzPC
//!   `SCI/src/Math/math-functions.cpp`): MSB by Π_Mill(l − 1), ALICE flips her share (d = ¬MSB),
//!   then MUX(d, x): Mill(l−1) + 2(λ + l) bits.
//! * [`run_ring`] / [`cost_ring`]: CrypTFlow2's ring ReLU (SCI `ReLURingProtocol`, EzPC
//!   `SCI/src/NonLinear/relu-ring.h`; used by max-pool): the same MSB, then one chosen-message
//!   1-of-2 OT with l-bit messages per direction: Mill(l−1) + 2(λ + 2l) bits.

use crate::ProtoResult;
use crate::ot_calls;
use crate::party::Party;
use crate::sirnn::{msb, mux};
use crate::{Cost, Profile, Role};
use pq_kernels::ring::mask;

/// Cost of SiRNN ReLU on n l-bit values.
pub fn cost(n: u64, l: u32, pr: Profile) -> Cost {
    msb::cost(n, l, pr).then(mux::cost(n, l, pr))
}

/// SiRNN ReLU: shares of max(x, 0) (x signed, l bits).
pub fn run(p: &mut Party, x: &[u64], l: u32) -> ProtoResult<Vec<u64>> {
    let mut d = msb::run(p, x, l)?;
    if p.is_alice() {
        d.iter_mut().for_each(|b| *b ^= 1);
    }
    mux::run(p, &d, x, l)
}

/// Cost of CrypTFlow2 ring ReLU on n l-bit values.
pub fn cost_ring(n: u64, l: u32, pr: Profile) -> Cost {
    msb::cost(n, l, pr).then(ot_calls::got(Role::Server, n, l, pr).par(ot_calls::got(
        Role::Client,
        n,
        l,
        pr,
    )))
}

/// CrypTFlow2 ring ReLU: shares of max(x, 0).
pub fn run_ring(p: &mut Party, x: &[u64], l: u32) -> ProtoResult<Vec<u64>> {
    let n = x.len();
    let mut d = msb::run(p, x, l)?;
    let alice = p.is_alice();
    if alice {
        d.iter_mut().for_each(|b| *b ^= 1);
    }
    if n == 0 {
        return Ok(Vec::new());
    }
    let m = mask(l);
    let opts = p.opts();
    let r: Vec<u64> = (0..n).map(|_| p.prg.next_u64() & m).collect();
    // message for receiver choice c: (d_own ⊕ c)·x_own − r
    let m0: Vec<u64> = (0..n)
        .map(|i| ((d[i] as u64) * x[i]).wrapping_sub(r[i]) & m)
        .collect();
    let m1: Vec<u64> = (0..n)
        .map(|i| (((d[i] ^ 1) as u64) * x[i]).wrapping_sub(r[i]) & m)
        .collect();
    let mut o = vec![0u64; n];
    if alice {
        p.ot.iknp_send.send_got(&mut *p.ch, &m0, &m1, l, opts)?;
        p.ot.iknp_recv.recv_got(&mut *p.ch, &d, l, opts, &mut o)?;
    } else {
        p.ot.iknp_recv.recv_got(&mut *p.ch, &d, l, opts, &mut o)?;
        p.ot.iknp_send.send_got(&mut *p.ch, &m0, &m1, l, opts)?;
    }
    Ok((0..n).map(|i| r[i].wrapping_add(o[i]) & m).collect())
}
