//! Π_LUT: the lookup table (SiRNN, Rathee et al., IEEE S&P 2021), as SCI's
//! `AuxProtocols::lookup_table` (EzPC `SCI/src/BuildingBlocks/aux-protocols.cpp`) runs it.
//!
//! ALICE holds a table of 2^bw_x entries of bw_y bits per element, BOB holds the index; BOB
//! learns the entry XOR ALICE's random mask (XOR shares of the entry). One 1-of-2^bw_x KKOT with
//! bw_y-bit messages: 2λ + 2^bw_x·bw_y bits per element (bw_x ≤ 8); outside SCI's profile, the
//! 1-of-N OT from bw_x COTs where it is cheaper ([`ot_calls::one_of_n`]).

use crate::ProtoResult;
use crate::ot_calls;
use crate::party::Party;
use crate::{Cost, Profile};
use pq_kernels::ring::mask;

/// Cost of n lookups.
pub fn cost(n: u64, bw_x: u32, bw_y: u32, pr: Profile) -> Cost {
    ot_calls::one_of_n(crate::Role::Server, n, 1 << bw_x, bw_y, pr)
}

/// ALICE passes `table` (n × 2^bw_x entries), BOB passes `idx` (n indices); both get XOR
/// shares of `table[i][idx[i]]`.
pub fn run(
    p: &mut Party,
    table: &[u64],
    idx: &[u8],
    n: usize,
    bw_x: u32,
    bw_y: u32,
) -> ProtoResult<Vec<u64>> {
    if !(1..=8).contains(&bw_x) {
        return Err(crate::param(
            "bw_x",
            format!("{bw_x} is out of range (accepted: 1..=8)"),
        ));
    }
    crate::check_bw("bw_y", bw_y)?;
    let nn = 1usize << bw_x;
    let m = mask(bw_y);
    if p.is_alice() {
        if table.len() != n * nn {
            return Err(crate::param("table", "table must hold n × 2^bw_x entries"));
        }
        let r: Vec<u64> = (0..n).map(|_| p.prg.next_u64() & m).collect();
        let msgs: Vec<u64> = (0..n * nn).map(|k| (table[k] ^ r[k / nn]) & m).collect();
        ot_calls::one_of_n_send(p, &msgs, nn, bw_y)?;
        Ok(r)
    } else {
        if idx.len() != n {
            return Err(crate::param("idx", "index length must be n"));
        }
        Ok(ot_calls::one_of_n_recv(p, idx, nn, bw_y)?)
    }
}
