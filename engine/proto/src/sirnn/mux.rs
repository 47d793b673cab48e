//! Π_MUX: the multiplexer (SiRNN, Rathee et al., IEEE S&P 2021), as SCI's
//! `AuxProtocols::multiplexer` (EzPC `SCI/src/BuildingBlocks/aux-protocols.cpp`) runs it.
//!
//! Shares of sel·x for a shared bit sel and an additively shared l-bit x. Two l-bit COTs, one
//! per direction; each party's correlation is x_i·(1 − 2·sel_i) and the other party's sel share
//! is the choice: 2(λ + l) bits. Both directions share one round trip, as in SCI (which runs
//! them on two threads): each party first sends the IKNP columns of the COT it receives, then
//! answers the peer's columns with its own payload, then reads the peer's payload.

use crate::ProtoResult;
use crate::ot_calls;
use crate::party::Party;
use crate::{Cost, Profile, Role};
use pq_kernels::ct;
use pq_kernels::ring::mask;

/// Cost: COT_l in each direction, in parallel.
pub fn cost(n: u64, l: u32, pr: Profile) -> Cost {
    ot_calls::cot(Role::Server, n, l, pr).par(ot_calls::cot(Role::Client, n, l, pr))
}

/// Shares of sel·x (l bits).
pub fn run(p: &mut Party, sel: &[u8], x: &[u64], l: u32) -> ProtoResult<Vec<u64>> {
    crate::check_bw("l", l)?;
    let n = x.len();
    if sel.len() != n {
        return Err(crate::param(
            "sel",
            "selector length must match the input length",
        ));
    }
    if n == 0 {
        return Ok(Vec::new());
    }
    let m = mask(l);
    let opts = p.opts();
    let corr: Vec<u64> = x
        .iter()
        .zip(sel)
        .map(|(&v, &s)| ct::select_u64(s, v, v.wrapping_neg()) & m)
        .collect();
    let ch: Vec<u8> = sel.iter().map(|s| s & 1).collect();
    let mut r = vec![0u64; n];
    let mut o = vec![0u64; n];
    p.ot.iknp_recv
        .recv_cot_columns(&mut *p.ch, &ch, l, opts, &mut o)?;
    p.ot.iknp_send
        .send_cot(&mut *p.ch, &corr, l, opts, &mut r)?;
    p.ot.iknp_recv
        .recv_cot_finish(&mut *p.ch, &ch, l, opts, &mut o)?;
    Ok((0..n)
        .map(|i| {
            ((ch[i] as u64).wrapping_mul(x[i]))
                .wrapping_sub(r[i])
                .wrapping_add(o[i])
                & m
        })
        .collect())
}
