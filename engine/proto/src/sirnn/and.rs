//! Π_AND: AND of XOR-shared bits, as SCI's `AuxProtocols::AND` (EzPC
//! `SCI/src/BuildingBlocks/aux-protocols.cpp`) runs it.
//!
//! Not Beaver triples: one 1-of-16 KKOT with 2-bit messages computes 2 ANDs directly (BOB's 4
//! share bits are the index, ALICE masks the table with her random output shares). n is padded
//! to even: 144 bits per AND.

use crate::ProtoResult;
use crate::party::Party;
use crate::sirnn::millionaire::{ot_cost, ot_recv, ot_send};
use crate::util::rand_bits;
use crate::{Cost, Profile};

/// Cost: one 1-of-16 OT with 2-bit messages per 2 ANDs.
pub fn cost(n: u64, pr: Profile) -> Cost {
    ot_cost(n.div_ceil(2), 16, 2, pr)
}

/// XOR shares of x ∧ y.
pub fn run(p: &mut Party, x: &[u8], y: &[u8]) -> ProtoResult<Vec<u8>> {
    let n = x.len();
    if y.len() != n {
        return Err(crate::param("y", "AND operands must have equal lengths"));
    }
    let pairs = n.div_ceil(2);
    let g = |v: &[u8], i: usize| if i < n { v[i] & 1 } else { 0 };
    if p.is_alice() {
        let z = rand_bits(p, 2 * pairs);
        let mut msgs = vec![0u64; 16 * pairs];
        for t in 0..pairs {
            let (x0, y0, x1, y1) = (g(x, 2 * t), g(y, 2 * t), g(x, 2 * t + 1), g(y, 2 * t + 1));
            for j in 0..16u8 {
                let z0 = ((x0 ^ (j & 1)) & (y0 ^ ((j >> 1) & 1))) ^ z[2 * t];
                let z1 = ((x1 ^ ((j >> 2) & 1)) & (y1 ^ ((j >> 3) & 1))) ^ z[2 * t + 1];
                msgs[16 * t + j as usize] = (z0 | (z1 << 1)) as u64;
            }
        }
        ot_send(p, &msgs, 16, 2)?;
        let mut z = z;
        z.truncate(n);
        Ok(z)
    } else {
        let ch: Vec<u8> = (0..pairs)
            .map(|t| {
                g(x, 2 * t) | (g(y, 2 * t) << 1) | (g(x, 2 * t + 1) << 2) | (g(y, 2 * t + 1) << 3)
            })
            .collect();
        let r = ot_recv(p, &ch, 16, 2)?;
        Ok((0..n).map(|i| ((r[i / 2] >> (i % 2)) & 1) as u8).collect())
    }
}
