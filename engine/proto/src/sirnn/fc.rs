//! Π_FC: fully connected layer as SCI's SiRNN library runs it (`MatMul`, EzPC
//! `SCI/src/library_fixed.cpp`; `docs/sci-protocols.md` §Conv and FC in the SiRNN library).
//!
//! Matmul `AliceHasB` with A = the activations (batch × in, secret shared, s-extended by ⌈log2
//! in⌉, paid) and B = the weights (in × out, ALICE's plaintext, bit-decomposed as the OT
//! choices). Output (A·W) >> ⌈log2 in⌉ in bwa + bwb bits.

use crate::ProtoResult;
use crate::party::Party;
use crate::sirnn::matmul::{self, MatmulParams, MultMode};
use crate::{Cost, Profile};

/// The shape of one FC layer: `batch` rows of `inp` activations (`bwa` bits) times the
/// weights (`inp × out`, `bwb` bits).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FcParams {
    /// Rows of activations (1 for one image).
    pub batch: usize,
    /// Input features.
    pub inp: usize,
    /// Output features.
    pub out: usize,
    /// Activation bit-width.
    pub bwa: u32,
    /// Weight bit-width.
    pub bwb: u32,
}

impl FcParams {
    /// The matmul SCI's `FC` runs: activations (BOB's and ALICE's shares) times ALICE's
    /// plaintext weights (`AliceHasB`), output width bwa + bwb.
    pub fn matmul(&self) -> MatmulParams {
        MatmulParams {
            d1: self.batch,
            d2: self.inp,
            d3: self.out,
            bwa: self.bwa,
            bwb: self.bwb,
            bwc: self.bwa + self.bwb,
            mode: MultMode::AliceHasB,
        }
    }
}

/// Cost of one FC layer.
pub fn cost(fp: &FcParams, pr: Profile) -> Cost {
    matmul::cost(&fp.matmul(), pr)
}

/// Both pass their activation shares `a` (batch × in); ALICE passes the weights `w`
/// (in × out, two's complement in bwb bits), BOB passes an empty slice.
pub fn run(p: &mut Party, fp: &FcParams, a: &[u64], w: &[u64]) -> ProtoResult<Vec<u64>> {
    let w: &[u64] = if p.is_alice() { w } else { &[] };
    matmul::run(p, &fp.matmul(), a, w)
}
