//! Π_MSB→Wrap: the wrap bit from known MSB shares (SiRNN, Rathee et al., IEEE S&P 2021), as
//! SCI's `AuxProtocols::MSB_to_Wrap` (EzPC `SCI/src/BuildingBlocks/aux-protocols.cpp`) runs it.
//!
//! The wrap bit of an additively shared l-bit x when XOR shares of its MSB are known. One 1-of-4
//! KKOT with 1-bit messages (ALICE sends): BOB's index is (MSB of his share, his MSB share);
//! ALICE's table is w = a·b ⊕ (a ⊕ b)·¬msb, masked with her random output share. 2λ + 4 bits per
//! element.

use crate::ProtoResult;
use crate::party::Party;
use crate::sirnn::millionaire::{ot_cost, ot_recv, ot_send};
use crate::util::rand_bits;
use crate::{Cost, Profile};

/// Cost: one 1-of-4 OT with 1-bit messages per element.
pub fn cost(n: u64, pr: Profile) -> Cost {
    ot_cost(n, 4, 1, pr)
}

/// Wrap bit shares of `x` (l bits) given MSB shares `msb`.
pub fn run(p: &mut Party, x: &[u64], msb: &[u8], l: u32) -> ProtoResult<Vec<u8>> {
    crate::check_bw("l", l)?;
    let n = x.len();
    if msb.len() != n {
        return Err(crate::param(
            "msb",
            "MSB shares must match the input length",
        ));
    }
    if n == 0 {
        return Ok(Vec::new());
    }
    if p.is_alice() {
        let r = rand_bits(p, n);
        let mut msgs = vec![0u64; 4 * n];
        for i in 0..n {
            let a = ((x[i] >> (l - 1)) & 1) as u8;
            for k in 0..4u8 {
                let b = (k >> 1) & 1;
                let m = msb[i] ^ (k & 1);
                let w = (a & b) ^ ((a ^ b) & (m ^ 1));
                msgs[4 * i + k as usize] = (w ^ r[i]) as u64;
            }
        }
        ot_send(p, &msgs, 4, 1)?;
        Ok(r)
    } else {
        let ch: Vec<u8> = (0..n)
            .map(|i| ((((x[i] >> (l - 1)) & 1) as u8) << 1) | (msb[i] & 1))
            .collect();
        Ok(ot_recv(p, &ch, 4, 1)?
            .into_iter()
            .map(|v| (v & 1) as u8)
            .collect())
    }
}
