//! Π_Residual: PrivQuant's simplified residual protocol (Zhang et al., ICCAD 2024), as the
//! lowering of `nn::lower` uses it.
//!
//! The shortcut r (rbits bits, a ReLU output, so non-negative) is aligned to the conv's exact
//! accumulator format (T bits, scale s_acc = scale(r) + s) by a local left shift by s and a
//! known-MSB extension ([`extension::nonneg_extend`]: λ + (T − rbits − s) bits per element),
//! added locally to the accumulator (exact: T holds acc + r·2^s), and the sum is re-quantized
//! once, Requant(T → rbits) by s + 1 ([`requant`]). Nothing is spent on the conv-output side.
//!
//! [`sirnn_quant_cost`] is the `sirnn-quant` recipe for the same step (`docs/sci-protocols.md`
//! §Network recipes): the matmul's TR by e, div_pow2(bwC, lw − 1) on the conv output, s_extend
//! of both operands to t = max(bwC, rbits) + 1, div_pow2(t, 1).

use crate::party::Party;
use crate::privquant::requant;
use crate::sirnn::{divpow2, extension, tr};
use crate::util::clog2;
use crate::{Cost, Profile};
use crate::{ProtoResult, param};
use pq_kernels::ring::mask;
use serde::Serialize;

/// One residual block's add: a k×k conv (c → c channels, hw × hw output) plus shortcut.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct ResidualParams {
    /// Channels of the residual tensor.
    pub c: usize,
    /// Input channels of the conv whose accumulator the shortcut joins (its reduction is
    /// k²·cin): `c` for a basic block, the bottleneck width for ResNet50's conv3.
    pub cin: usize,
    /// Height and width of the conv output and of the shortcut (square).
    pub hw: usize,
    /// Kernel size of that conv (k × k).
    pub k: usize,
    /// Bit-width of the conv's signed weights.
    pub wbits: u32,
    /// Bit-width of the conv's input activations (a ReLU output, non-negative).
    pub abits: u32,
    /// Bit-width of the shortcut and of the block's output (the residual format).
    pub rbits: u32,
}

impl ResidualParams {
    /// Elements.
    pub fn n(&self) -> usize {
        self.c * self.hw * self.hw
    }
    /// ⌈log2 (k²·c)⌉.
    pub fn e(&self) -> u32 {
        clog2((self.k * self.k * self.cin) as u64)
    }
    /// The alignment shift s = wbits + e − 1 (sirnn-quant's total conv shift).
    pub fn s(&self) -> u32 {
        self.wbits + self.e() - 1
    }
    /// Range of the exact accumulator (W signed wbits, X a ReLU output in abits).
    pub fn acc_range(&self) -> (i128, i128) {
        let d2 = (self.k * self.k * self.cin) as i128;
        let xmax = (1i128 << (self.abits - 1)) - 1;
        let wmin = -(1i128 << (self.wbits - 1));
        let wmax = (1i128 << (self.wbits - 1)) - 1;
        (d2 * wmin * xmax, d2 * wmax * xmax)
    }
    /// T: the smallest width holding the accumulator and acc + r·2^s.
    pub fn sum_bits(&self) -> ProtoResult<u32> {
        self.check()?;
        let (lo, hi) = self.acc_range();
        let rmax = ((1i128 << (self.rbits - 1)) - 1) << self.s();
        let hi = hi + rmax;
        let mut t = (self.rbits + self.s()).max(self.s() + 2);
        while t <= 64 && !(-(1i128 << (t - 1)) <= lo && hi < (1i128 << (t - 1))) {
            t += 1;
        }
        if t > 64 {
            return Err(param("rbits", "the residual accumulator exceeds 64 bits"));
        }
        Ok(t)
    }
    fn check(&self) -> ProtoResult<()> {
        crate::check_bw("wbits", self.wbits)?;
        crate::check_bw("abits", self.abits)?;
        crate::check_bw("rbits", self.rbits)?;
        for (name, v) in [
            ("c", self.c),
            ("cin", self.cin),
            ("hw", self.hw),
            ("k", self.k),
        ] {
            if v == 0 {
                return Err(param(name, "must be at least 1"));
            }
        }
        let sum = self.wbits + self.abits + self.e() + self.rbits;
        if sum > 60 {
            return Err(param(
                "rbits",
                format!("wbits + abits + log2(cin·k²) + rbits = {sum} bits (accepted: at most 60)"),
            ));
        }
        Ok(())
    }
}

/// Cost of the privquant residual step on all n elements.
pub fn cost(rp: &ResidualParams, pr: Profile) -> ProtoResult<Cost> {
    let t = rp.sum_bits()?;
    let n = rp.n() as u64;
    let s = rp.s();
    let ext = extension::cost_nonneg(n, rp.rbits + s, t, pr);
    Ok(ext.then(requant::cost(n, t, s as i32 + 1, rp.rbits, 0, false, pr)?))
}

/// `sirnn-quant`'s cost for the same step. `with_tr`: include the matmul's final TR by e
/// (which privquant's exact accumulator does not run).
pub fn sirnn_quant_cost(rp: &ResidualParams, with_tr: bool) -> ProtoResult<Cost> {
    rp.check()?;
    let pr = Profile::Sirnn;
    let n = rp.n() as u64;
    let bwc = rp.wbits + rp.abits;
    let t = bwc.max(rp.rbits) + 1;
    let mut c = if with_tr {
        tr::cost(n, bwc + rp.e(), rp.e(), pr)
    } else {
        Cost::ZERO
    };
    if rp.wbits > 1 {
        c = c.then(divpow2::cost(n, bwc, rp.wbits - 1, pr));
    }
    let ext = extension::cost(n, bwc, t, false, pr).par(extension::cost(n, rp.rbits, t, false, pr));
    Ok(c.then(ext).then(divpow2::cost(n, t, 1, pr)))
}

/// Run the privquant residual step: `acc` are T-bit shares of the exact conv accumulator
/// ([`ResidualParams::sum_bits`]), `r` rbits-bit shares of the non-negative shortcut.
/// Returns rbits-bit shares of Requant(acc + r·2^s, T → rbits, by s + 1).
pub fn run(p: &mut Party, rp: &ResidualParams, acc: &[u64], r: &[u64]) -> ProtoResult<Vec<u64>> {
    let t = rp.sum_bits()?;
    let n = rp.n();
    if acc.len() != n || r.len() != n {
        return Err(param("x", "acc and shortcut must have c·hw² elements"));
    }
    let s = rp.s();
    let ls = rp.rbits + s;
    let sh: Vec<u64> = r.iter().map(|v| (v & mask(rp.rbits)) << s).collect();
    let ext = extension::nonneg_extend(p, &sh, ls, t)?;
    let mt = mask(t);
    let sum: Vec<u64> = acc
        .iter()
        .zip(&ext)
        .map(|(a, b)| a.wrapping_add(*b) & mt)
        .collect();
    requant::run(p, &sum, t, s as i32 + 1, rp.rbits, 0, false)
}
