//! Π_Conv: convolution as SCI's SiRNN library runs it (`Convolution` → `GroupedMatMul_thread`,
//! EzPC `SCI/src/library_fixed.cpp`; `docs/sci-protocols.md` §Conv and FC in the SiRNN library).
//!
//! A local im2col of each share, then the matmul with the filter as ALICE's plaintext
//! (`AliceHasA`): Filter (cout × k²·cin, wbits) · Image (k²·cin × hw_out², abits), output
//! (W·X) >> ⌈log2 k²cin⌉ in wbits + abits bits. Stride s, zero padding k/2.

use crate::party::Party;
use crate::sirnn::matmul::{self, MatmulParams, MultMode};
use crate::{Cost, Profile};
use crate::{ProtoResult, param};
use serde::Serialize;

/// One convolution as `bench-harness conv` runs it.
#[derive(Clone, Debug, Serialize)]
pub struct ConvParams {
    /// Input height and width (square).
    pub hw: usize,
    /// Input channels.
    pub cin: usize,
    /// Output channels (filters).
    pub cout: usize,
    /// Kernel size (k × k); zero padding k/2.
    pub k: usize,
    /// Stride (≥ 1).
    pub stride: usize,
    /// Bit-width of the signed filter weights (ALICE's plaintext).
    pub wbits: u32,
    /// Bit-width of the input activations' shares.
    pub abits: u32,
    /// Whether the caller's input is signed; otherwise it is a ReLU output in
    /// [0, 2^(abits−1)). SCI's matmul treats its input as signed either way, so this does not
    /// change what is sent; it only records what X is (e.g. for input generators).
    pub signed_input: bool,
    /// SCI's thread count, for the informative [`cost_sci_threads`](Self::cost_sci_threads)
    /// only (≥ 1); the run and [`conv_cost`] are single-threaded.
    pub sci_threads: usize,
    /// Must be [`Profile::Sirnn`]: this runner is SCI's conv.
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
    /// The weight and activation widths by their own flag names: each in 1..=64, and the
    /// product W·X in one ring of at most 64 bits (wbits + abits ≤ 64).
    pub fn check_widths(&self) -> ProtoResult<()> {
        crate::check_bw("wbits", self.wbits)?;
        crate::check_bw("abits", self.abits)?;
        if self.wbits + self.abits > 64 {
            return Err(param(
                "abits",
                format!(
                    "W{}A{}: the product needs wbits + abits = {} bits (accepted: at most 64)",
                    self.wbits,
                    self.abits,
                    self.wbits + self.abits
                ),
            ));
        }
        Ok(())
    }

    /// Validate the parameters.
    ///
    /// # Errors
    /// [`ProtoError::Param`](crate::ProtoError::Param) if a dimension is 0, the kernel is
    /// larger than the padded input, the profile is not `sirnn`, `sci_threads` is 0, or the
    /// matmul's widths are invalid ([`MatmulParams::check`]).
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
        if !self.profile.is_sirnn() {
            return Err(param(
                "profile",
                "this runner implements the sirnn profile only",
            ));
        }
        if self.sci_threads == 0 {
            return Err(param("sci-threads", "must be at least 1"));
        }
        self.check_widths()?;
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
    let shape = crate::tensor::Shape::new(c.cin, c.hw, c.hw);
    crate::tensor::im2col(x, shape, c.k, c.stride, c.k / 2).0
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
