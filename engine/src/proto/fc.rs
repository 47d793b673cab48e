//! Fully connected layer as SCI's SiRNN library runs it (`MatMul`): matmul `AliceHasB` with
//! A = the activations (batch × in, secret shared, s-extended by ⌈log2 in⌉, paid) and B = the
//! weights (in × out, ALICE's plaintext, bit-decomposed as the OT choices). Output
//! (A·W) >> ⌈log2 in⌉ in bwa + bwb bits.

use super::ProtoResult;
use super::matmul::{self, MatmulParams, MultMode};
use crate::party::Party;
use crate::{Cost, Profile};

/// The matmul of an FC layer.
pub fn params(batch: usize, inp: usize, out: usize, bwa: u32, bwb: u32) -> MatmulParams {
    MatmulParams {
        d1: batch,
        d2: inp,
        d3: out,
        bwa,
        bwb,
        bwc: bwa + bwb,
        mode: MultMode::AliceHasB,
    }
}

/// Cost of one FC layer.
pub fn cost(batch: usize, inp: usize, out: usize, bwa: u32, bwb: u32, pr: Profile) -> Cost {
    matmul::cost(&params(batch, inp, out, bwa, bwb), pr)
}

/// Both pass their activation shares `a` (batch × in); ALICE passes the weights `w`
/// (in × out, two's complement in bwb bits), BOB passes an empty slice.
#[allow(clippy::too_many_arguments)]
pub fn run(
    p: &mut Party,
    batch: usize,
    inp: usize,
    out: usize,
    bwa: u32,
    bwb: u32,
    a: &[u64],
    w: &[u64],
) -> ProtoResult<Vec<u64>> {
    let w: &[u64] = if p.is_alice() { w } else { &[] };
    matmul::run(p, &params(batch, inp, out, bwa, bwb), a, w)
}
