//! Max-pool as SCI's `MaxPool2D` runs it (sci-baseline.md §13): for each output, k² − 1
//! sequential steps max ← max + ReLU_ring(x_j − max) with CrypTFlow2's ring ReLU on l bits.
//! Exact when every difference fits in l bits (|x_j − x_k| < 2^(l−1)), as in SCI.

use super::{ProtoResult, relu};
use crate::party::Party;
use crate::{Cost, Profile};
use pq_kernels::ring::mask;

/// Cost of `rows` outputs over windows of k2 values.
pub fn cost(rows: u64, k2: u64, l: u32, pr: Profile) -> Cost {
    relu::cost_ring(rows, l, pr).times(k2.saturating_sub(1))
}

/// `x` is rows × k2 (row-major); returns shares of each row's maximum.
pub fn run(p: &mut Party, x: &[u64], rows: usize, k2: usize, l: u32) -> ProtoResult<Vec<u64>> {
    super::check_bw("l", l)?;
    if x.len() != rows * k2 || k2 == 0 {
        return Err(super::param("k", "input must be rows × k² with k ≥ 1"));
    }
    let m = mask(l);
    let mut cur: Vec<u64> = (0..rows).map(|r| x[r * k2] & m).collect();
    for j in 1..k2 {
        let d: Vec<u64> = (0..rows)
            .map(|r| x[r * k2 + j].wrapping_sub(cur[r]) & m)
            .collect();
        let rl = relu::run_ring(p, &d, l)?;
        for r in 0..rows {
            cur[r] = cur[r].wrapping_add(rl[r]) & m;
        }
    }
    Ok(cur)
}
