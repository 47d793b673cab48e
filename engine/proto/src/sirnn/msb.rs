//! Π_MSB: the most significant bit of an additively shared value (SiRNN, Rathee et al., IEEE S&P
//! 2021), as SCI's `AuxProtocols::MSB` (EzPC `SCI/src/BuildingBlocks/aux-protocols.cpp`) runs
//! it.
//!
//! XOR shares of the top bit of an additively shared l-bit x: the XOR of the two share MSBs plus
//! the carry out of the low l − 1 bits, a Wrap(l − 1). Sends Mill(l − 1). l = 1 is free (the
//! carry is 0).

use crate::ProtoResult;
use crate::party::Party;
use crate::sirnn::wrap;
use crate::{Cost, Profile};
use pq_kernels::ring::mask;

/// Cost: Mill(l − 1).
pub fn cost(n: u64, l: u32, pr: Profile) -> Cost {
    if l <= 1 {
        Cost::ZERO
    } else {
        wrap::cost(n, l - 1, pr)
    }
}

/// MSB bit shares of the l-bit shares `x`.
pub fn run(p: &mut Party, x: &[u64], l: u32) -> ProtoResult<Vec<u8>> {
    crate::check_bw("l", l)?;
    let own: Vec<u8> = x.iter().map(|v| ((v >> (l - 1)) & 1) as u8).collect();
    if l == 1 {
        return Ok(own);
    }
    let low: Vec<u64> = x.iter().map(|v| v & mask(l - 1)).collect();
    let c = wrap::run(p, &low, l - 1)?;
    Ok(own.iter().zip(&c).map(|(a, b)| a ^ b).collect())
}
