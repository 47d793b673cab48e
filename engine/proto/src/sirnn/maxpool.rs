//! Π_MaxPool: max-pool as SCI's `MaxPool2D` runs it (SiRNN, IEEE S&P 2021; EzPC:
//! `SCI/src/library_fixed.cpp`, `MaxPool2D`). For each output window, k² − 1 sequential steps
//! max ← max + ReLU_ring(x_j − max) with CrypTFlow2's ring ReLU on `l` bits; position j of
//! every window that has one is batched into one ring ReLU, so a call sends what
//! [`relu::cost_ring`] gives for that many values, once per position. Windows may differ in
//! size (padding positions omitted). Exact when every difference fits in `l` bits
//! (|x_j − x_k| < 2^(l−1)), as in SCI.

use crate::ProtoResult;
use crate::party::Party;
use crate::sirnn::relu;
use crate::{Cost, Profile};
use pq_kernels::ring::mask;

/// Per sequential position j ≥ 1, the number of windows with more than j elements (the
/// values compared at that step).
fn positions(sizes: &[usize]) -> impl Iterator<Item = u64> + '_ {
    let maxlen = sizes.iter().copied().max().unwrap_or(0);
    (1..maxlen).map(move |j| sizes.iter().filter(|&&s| s > j).count() as u64)
}

/// Cost for windows of the given sizes: one ring ReLU batch per position.
pub fn cost(sizes: &[usize], l: u32, pr: Profile) -> Cost {
    positions(sizes).map(|c| relu::cost_ring(c, l, pr)).sum()
}

/// `rows` windows of `k2` consecutive values each (row-major `rows × k2` input).
pub fn row_windows(rows: usize, k2: usize) -> Vec<Vec<usize>> {
    (0..rows)
        .map(|r| (r * k2..(r + 1) * k2).collect())
        .collect()
}

/// Shares of each window's maximum; `windows[i]` lists indices into `x` (l-bit shares). An
/// empty window yields 0.
pub fn run(p: &mut Party, x: &[u64], windows: &[Vec<usize>], l: u32) -> ProtoResult<Vec<u64>> {
    crate::check_bw("l", l)?;
    crate::util::check_windows(x.len(), windows)?;
    let m = mask(l);
    let mut cur: Vec<u64> = windows
        .iter()
        .map(|w| w.first().map_or(0, |&i| x[i] & m))
        .collect();
    let maxlen = windows.iter().map(|w| w.len()).max().unwrap_or(0);
    let mut rows = Vec::with_capacity(windows.len());
    let mut d = Vec::with_capacity(windows.len());
    for j in 1..maxlen {
        rows.clear();
        d.clear();
        for (r, w) in windows.iter().enumerate() {
            if let Some(&i) = w.get(j) {
                rows.push(r);
                d.push(x[i].wrapping_sub(cur[r]) & m);
            }
        }
        let rl = relu::run_ring(p, &d, l)?;
        for (&r, &v) in rows.iter().zip(&rl) {
            cur[r] = cur[r].wrapping_add(v) & m;
        }
    }
    Ok(cur)
}

/// Plaintext reference on one window: m ← m + ReLU(x − m) in `bits` bits, sequentially
/// (the true maximum when no difference wraps). An empty window gives 0.
pub fn reference(vals: &[i64], bits: u32) -> i64 {
    use crate::util::reduce_signed as wrap;
    let mut it = vals.iter();
    let Some(&first) = it.next() else {
        return 0;
    };
    it.fold(first, |m, &v| {
        let d = wrap(v.wrapping_sub(m), bits);
        wrap(m.wrapping_add(d.max(0)), bits)
    })
}
