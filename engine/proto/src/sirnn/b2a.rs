//! Π_B2A: boolean-to-arithmetic conversion (SiRNN, Rathee et al., IEEE S&P 2021), as SCI's
//! `AuxProtocols::B2A` (EzPC `SCI/src/BuildingBlocks/aux-protocols.cpp`) runs it.
//!
//! XOR-shared bits to additive shares mod 2^l. One l-bit COT per bit (ALICE sends, correlation
//! −2·x_A; BOB's bit is the choice): λ + l bits. Free for l = 1 (an XOR share is an arithmetic
//! share mod 2).

use crate::ProtoResult;
use crate::ot_calls;
use crate::party::Party;
use crate::{Cost, Profile, Role};
use pq_kernels::ring::mask;

/// Cost: COT_l per bit (free for l = 1).
pub fn cost(n: u64, l: u32, pr: Profile) -> Cost {
    if l <= 1 {
        Cost::ZERO
    } else {
        ot_calls::cot(Role::Server, n, l, pr)
    }
}

/// Arithmetic shares (l bits) of the shared bits `x`.
pub fn run(p: &mut Party, x: &[u8], l: u32) -> ProtoResult<Vec<u64>> {
    crate::check_bw("l", l)?;
    let n = x.len();
    if l == 1 || n == 0 {
        return Ok(x.iter().map(|&b| (b & 1) as u64).collect());
    }
    let m = mask(l);
    let opts = p.opts();
    if p.is_alice() {
        let corr: Vec<u64> = x
            .iter()
            .map(|&b| (b as u64 & 1).wrapping_mul(2).wrapping_neg() & m)
            .collect();
        let mut r = vec![0u64; n];
        p.ot.iknp_send
            .send_cot(&mut *p.ch, &corr, l, opts, &mut r)?;
        Ok(x.iter()
            .zip(&r)
            .map(|(&b, &r)| (b as u64 & 1).wrapping_sub(r) & m)
            .collect())
    } else {
        let ch: Vec<u8> = x.iter().map(|b| b & 1).collect();
        let mut o = vec![0u64; n];
        p.ot.iknp_recv.recv_cot(&mut *p.ch, &ch, l, opts, &mut o)?;
        Ok(ch
            .iter()
            .zip(&o)
            .map(|(&b, &o)| (b as u64).wrapping_add(o) & m)
            .collect())
    }
}
