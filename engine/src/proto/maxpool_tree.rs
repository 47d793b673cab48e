//! Max-pool as a comparison tree (privquant profile): per window, neighbours are paired level
//! by level, max(a, b) = b + ReLU(a − b) in `l` bits, an odd last element passing up
//! unchanged (semantics: `nn::reference::max_tree`). Every level is ONE batched SiRNN ReLU
//! over all pairs of all windows (Mill(l − 1) + 2λ + 2l bits per pair), so the depth is
//! ⌈log2 k²⌉ ReLUs instead of k² − 1 sequential ones. Windows may differ in size (padding
//! positions omitted).

use super::{ProtoResult, param, relu};
use crate::party::Party;
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

/// Cost for windows of the given sizes.
pub fn cost(sizes: &[usize], l: u32, pr: Profile) -> Cost {
    levels(sizes)
        .into_iter()
        .fold(Cost::ZERO, |c, k| c.then(relu::cost(k, l, pr)))
}

/// Shares of each window's maximum; `windows[i]` lists indices into `x` (l-bit shares).
pub fn run(p: &mut Party, x: &[u64], windows: &[Vec<usize>], l: u32) -> ProtoResult<Vec<u64>> {
    super::check_bw("l", l)?;
    let m = mask(l);
    let mut cur: Vec<Vec<u64>> = Vec::with_capacity(windows.len());
    for w in windows {
        let mut v = Vec::with_capacity(w.len());
        for &i in w {
            v.push(
                *x.get(i)
                    .ok_or_else(|| param("window", "index out of range"))?
                    & m,
            );
        }
        cur.push(v);
    }
    while cur.iter().any(|v| v.len() > 1) {
        let d: Vec<u64> = cur
            .iter()
            .flat_map(|v| v.chunks_exact(2).map(|c| c[0].wrapping_sub(c[1]) & m))
            .collect();
        let r = relu::run(p, &d, l)?;
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
