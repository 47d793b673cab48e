//! Π_Wrap: the wrap bit of an additively shared value (SiRNN, Rathee et al., IEEE S&P 2021), as
//! SCI's `AuxProtocols::wrap_computation` (EzPC `SCI/src/BuildingBlocks/aux-protocols.cpp`) runs
//! it: XOR shares of w = 1{x_A + x_B ≥ 2^l} for an additively shared l-bit x.
//!
//! ALICE feeds x_A and BOB 2^l − 1 − x_B into Π_Mill (greater-than). Sends exactly what
//! Π_Mill(l) sends.

use crate::ProtoResult;
use crate::party::Party;
use crate::sirnn::millionaire;
use crate::{Cost, Profile};
use pq_kernels::ring::mask;

/// Cost: Mill(l).
pub fn cost(n: u64, l: u32, pr: Profile) -> Cost {
    millionaire::cost(n, l, pr)
}

/// Wrap bit shares of the l-bit shares `x`.
pub fn run(p: &mut Party, x: &[u64], l: u32) -> ProtoResult<Vec<u8>> {
    crate::check_bw("l", l)?;
    let m = mask(l);
    if p.is_alice() {
        let d: Vec<u64> = x.iter().map(|v| v & m).collect();
        millionaire::run(p, &d, l)
    } else {
        let d: Vec<u64> = x.iter().map(|v| m - (v & m)).collect();
        millionaire::run(p, &d, l)
    }
}
