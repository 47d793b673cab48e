//! Convolution as SCI's SiRNN library runs it (`Convolution` → `GroupedMatMul_thread`):
//! a local im2col of each share, then the matmul with the filter as ALICE's plaintext
//! (`AliceHasA`): Filter (cout × k²·cin, wbits) · Image (k²·cin × hw_out², abits), output
//! (W·X) >> ⌈log2 k²cin⌉ in wbits + abits bits. Stride s, zero padding k/2.

use super::matmul::{self, MatmulParams, MultMode};
use super::{ProtoResult, param};
use crate::party::Party;
use crate::{Cost, Profile};
use serde::Serialize;

/// One convolution as `bench-harness conv` runs it.
#[derive(Clone, Debug, Serialize)]
pub struct ConvParams {
    pub hw: usize,
    pub cin: usize,
    pub cout: usize,
    pub k: usize,
    pub stride: usize,
    pub wbits: u32,
    pub abits: u32,
    pub signed_input: bool,
    pub sci_threads: usize,
    pub profile: Profile,
}

impl ConvParams {
    /// Output height/width (padding k/2).
    pub fn hw_out(&self) -> usize {
        let pad = self.k / 2;
        (self.hw + 2 * pad - self.k) / self.stride + 1
    }
    /// The matmul SCI runs for this conv (one thread): Filter (cout × k²cin) · im2col(X).
    pub fn matmul(&self) -> MatmulParams {
        MatmulParams {
            d1: self.cout,
            d2: self.k * self.k * self.cin,
            d3: self.hw_out() * self.hw_out(),
            bwa: self.wbits,
            bwb: self.abits,
            bwc: self.wbits + self.abits,
            mode: MultMode::AliceHasA,
        }
    }
    pub fn check(&self) -> ProtoResult<()> {
        for (n, v) in [
            ("hw", self.hw),
            ("cin", self.cin),
            ("cout", self.cout),
            ("k", self.k),
            ("stride", self.stride),
        ] {
            if v == 0 {
                return Err(param(n, "must be at least 1"));
            }
        }
        if self.k > self.hw + 2 * (self.k / 2) {
            return Err(param("k", "kernel larger than the padded input"));
        }
        if self.profile != Profile::Sirnn {
            return Err(param(
                "profile",
                "this runner implements the sirnn profile only",
            ));
        }
        if self.sci_threads == 0 {
            return Err(param("sci-threads", "must be at least 1"));
        }
        self.matmul().check()
    }
    /// Informative: SCI's per-thread replication (COUT split over `sci_threads`).
    pub fn cost_sci_threads(&self) -> Cost {
        let t = self.sci_threads.min(self.cout);
        (0..t)
            .map(|i| {
                let d1 = self.cout / t + usize::from(i < self.cout % t);
                matmul::cost(
                    &MatmulParams {
                        d1,
                        ..self.matmul()
                    },
                    self.profile,
                )
            })
            .fold(Cost::ZERO, Cost::par)
    }
}

/// Cost of the conv (one thread).
pub fn conv_cost(c: &ConvParams) -> Cost {
    matmul::cost(&c.matmul(), c.profile)
}

/// im2col of one share: X (cin × hw × hw) → (k²·cin) × hw_out², zero padding k/2.
pub fn im2col(c: &ConvParams, x: &[u64]) -> Vec<u64> {
    let (hw, k, pad, ho) = (c.hw, c.k, c.k / 2, c.hw_out());
    let d3 = ho * ho;
    let mut out = vec![0u64; k * k * c.cin * d3];
    for ci in 0..c.cin {
        for ky in 0..k {
            for kx in 0..k {
                let row = (ci * k + ky) * k + kx;
                for oy in 0..ho {
                    let iy = (oy * c.stride + ky) as isize - pad as isize;
                    if iy < 0 || iy >= hw as isize {
                        continue;
                    }
                    for ox in 0..ho {
                        let ix = (ox * c.stride + kx) as isize - pad as isize;
                        if ix < 0 || ix >= hw as isize {
                            continue;
                        }
                        out[row * d3 + oy * ho + ox] =
                            x[(ci * hw + iy as usize) * hw + ix as usize];
                    }
                }
            }
        }
    }
    out
}

/// One conv: ALICE passes the filter `w` (cout × k²·cin, her plaintext, wbits two's
/// complement), both pass their share `x` of the input (cin × hw × hw, abits). Returns shares
/// of (W·X) >> e (cout × hw_out², wbits + abits bits).
pub fn run(p: &mut Party, c: &ConvParams, w: &[u64], x: &[u64]) -> ProtoResult<Vec<u64>> {
    c.check()?;
    if x.len() != c.cin * c.hw * c.hw {
        return Err(param("x", "input must be cin × hw × hw"));
    }
    let cols = im2col(c, x);
    let w: &[u64] = if p.is_alice() { w } else { &[] };
    matmul::run(p, &c.matmul(), w, &cols)
}
