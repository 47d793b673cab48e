//! Π_MaxPoolTree: max-pool as a comparison tree (privquant). Per window, neighbours are
//! paired level by level, max(a, b) = b + ReLU_ring(a − b) in `l` bits (CrypTFlow2's ring
//! ReLU), an odd last element passing up unchanged (plaintext semantics: [`reference()`]).
//! Every level is one batched ring ReLU over all pairs of all windows, so a level sends what
//! [`relu::cost_ring`] gives for that many pairs, and the depth is ⌈log2 k²⌉ ReLUs instead of
//! k² − 1 sequential ones. Windows may differ in size (padding positions omitted). Exact when
//! every difference fits in `l` bits, as for SCI's max-pool.

use crate::ProtoResult;
use crate::party::Party;
use crate::sirnn::relu;
use crate::{Cost, Profile};
use pq_kernels::ring::mask;

/// Pairs compared at each level for the given window sizes.
fn levels(sizes: &[usize]) -> Vec<u64> {
    let mut cur: Vec<usize> = sizes.to_vec();
    let mut out = Vec::new();
    while cur.iter().any(|&s| s > 1) {
        out.push(cur.iter().map(|&s| (s / 2) as u64).sum());
        for s in cur.iter_mut() {
            *s = s.div_ceil(2);
        }
    }
    out
}

/// Cost for windows of the given sizes: one ring ReLU batch per level.
pub fn cost(sizes: &[usize], l: u32, pr: Profile) -> Cost {
    levels(sizes)
        .into_iter()
        .map(|k| relu::cost_ring(k, l, pr))
        .sum()
}

/// Plaintext reference on one window: max(a, b) = b + ReLU(a − b) in `bits` bits,
/// neighbours paired level by level, an odd last element passing up unchanged (the true
/// maximum when no difference wraps). An empty window gives 0.
pub fn reference(vals: &[i64], bits: u32) -> i64 {
    use crate::util::reduce_signed as wrap;
    let mut cur = vals.to_vec();
    while cur.len() > 1 {
        cur = cur
            .chunks(2)
            .map(|c| match *c {
                [a, b] => wrap(b.wrapping_add(wrap(a.wrapping_sub(b), bits).max(0)), bits),
                _ => c[0],
            })
            .collect();
    }
    cur.first().copied().unwrap_or(0)
}

/// Shares of each window's maximum; `windows[i]` lists indices into `x` (l-bit shares). An
/// empty window yields 0.
pub fn run(p: &mut Party, x: &[u64], windows: &[Vec<usize>], l: u32) -> ProtoResult<Vec<u64>> {
    crate::check_bw("l", l)?;
    crate::util::check_windows(x.len(), windows)?;
    let m = mask(l);
    let mut cur: Vec<Vec<u64>> = windows
        .iter()
        .map(|w| w.iter().map(|&i| x[i] & m).collect())
        .collect();
    let mut d = Vec::new();
    while cur.iter().any(|v| v.len() > 1) {
        d.clear();
        d.extend(
            cur.iter()
                .flat_map(|v| v.chunks_exact(2).map(|c| c[0].wrapping_sub(c[1]) & m)),
        );
        let r = relu::run_ring(p, &d, l)?;
        let mut k = 0;
        for v in cur.iter_mut() {
            let mut nv = Vec::with_capacity(v.len().div_ceil(2));
            for c in v.chunks(2) {
                if let [_, b] = *c {
                    nv.push(b.wrapping_add(r[k]) & m);
                    k += 1;
                } else {
                    nv.push(c[0]);
                }
            }
            *v = nv;
        }
    }
    Ok(cur
        .into_iter()
        .map(|v| v.first().copied().unwrap_or(0))
        .collect())
}
