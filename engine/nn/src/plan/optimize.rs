//! The exact optimiser: minimise Σ Ω_i(b_i) s.t. Σ Comm_i(b_i) ≤ budget.
//!
//! Dynamic programming over layers on Pareto sets: after layer i we keep every partial
//! assignment that is not dominated (no other partial assignment has both comm ≤ and
//! Σ Ω ≤, with one strict). Any optimal completion of a dominated prefix is matched or beaten
//! by completing the dominating prefix the same way, so the optimum survives pruning; the
//! result is exactly optimal, not a heuristic. Costs are integers (bytes, or nanoseconds), so
//! there is no rounding in the constraint.

/// One candidate for one layer: its weight width, communication and damage.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Option_ {
    /// Weight width, in bits.
    pub bits: u32,
    /// Communication at this width, in the objective's integer unit (bytes or nanoseconds).
    pub comm: u64,
    /// Ω at this width: the sensitivity-weighted quantization error (finite, non-negative).
    pub omega: f64,
}

/// The per-layer candidate lists (every layer needs at least one candidate).
#[derive(Clone, Debug, Default)]
pub struct Instance {
    /// The candidates of each layer (or decision group), in order.
    pub layers: Vec<Vec<Option_>>,
}

/// A full assignment.
#[derive(Clone, Debug, PartialEq)]
pub struct Solution {
    /// Index into each layer's candidate list.
    pub choice: Vec<usize>,
    /// The chosen width of each layer, in bits.
    pub bits: Vec<u32>,
    /// Σ comm of the chosen candidates (saturating at `u64::MAX`).
    pub comm: u64,
    /// Σ Ω of the chosen candidates.
    pub omega: f64,
}

/// One point of the Pareto front.
pub type ParetoPoint = Solution;

/// Why an instance has no solution.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PlanError {
    /// Even the cheapest assignment exceeds the budget.
    #[error("budget {budget} is infeasible: the smallest feasible budget is {min_budget}")]
    Infeasible {
        /// The requested budget.
        budget: u64,
        /// The smallest feasible budget: Σ over layers of the cheapest candidate's comm.
        min_budget: u64,
    },
    /// The layer with this index has no candidates.
    #[error("layer {0} has no candidate bit-widths")]
    EmptyLayer(usize),
    /// A candidate's Ω is NaN, infinite or negative.
    #[error("layer {layer}: Ω = {omega} is not a finite non-negative number")]
    BadOmega {
        /// The layer's index.
        layer: usize,
        /// The offending value.
        omega: f64,
    },
}

#[derive(Clone, Copy)]
struct Node {
    comm: u64,
    omega: f64,
    parent: u32,
    pick: u16,
}

/// Frontiers per layer (each sorted by comm ascending, Σ Ω strictly descending).
fn frontiers(inst: &Instance) -> Result<Vec<Vec<Node>>, PlanError> {
    let mut all: Vec<Vec<Node>> = Vec::with_capacity(inst.layers.len());
    let mut cur = vec![Node {
        comm: 0,
        omega: 0.0,
        parent: 0,
        pick: 0,
    }];
    let mut cand: Vec<Node> = Vec::new();
    for (li, opts) in inst.layers.iter().enumerate() {
        if opts.is_empty() {
            return Err(PlanError::EmptyLayer(li));
        }
        for o in opts {
            if !o.omega.is_finite() || o.omega < 0.0 {
                return Err(PlanError::BadOmega {
                    layer: li,
                    omega: o.omega,
                });
            }
        }
        cand.clear();
        for (pi, p) in cur.iter().enumerate() {
            for (oi, o) in opts.iter().enumerate() {
                cand.push(Node {
                    comm: p.comm.saturating_add(o.comm),
                    omega: p.omega + o.omega,
                    parent: pi as u32,
                    pick: oi as u16,
                });
            }
        }
        cand.sort_by(|a, b| a.comm.cmp(&b.comm).then(a.omega.total_cmp(&b.omega)));
        let mut next: Vec<Node> = Vec::with_capacity(cand.len().min(1 << 16));
        for c in &cand {
            match next.last() {
                Some(last) if c.omega >= last.omega => {} // dominated (or equal comm with worse Ω)
                _ => next.push(*c),
            }
        }
        all.push(std::mem::replace(&mut cur, next));
    }
    all.push(cur);
    Ok(all)
}

fn backtrack(inst: &Instance, fr: &[Vec<Node>], mut idx: usize) -> Solution {
    let n = inst.layers.len();
    let last = &fr[n][idx];
    let (comm, omega) = (last.comm, last.omega);
    let mut choice = vec![0usize; n];
    for li in (0..n).rev() {
        let node = fr[li + 1][idx];
        choice[li] = node.pick as usize;
        idx = node.parent as usize;
    }
    let bits = choice
        .iter()
        .enumerate()
        .map(|(i, &c)| inst.layers[i][c].bits)
        .collect();
    Solution {
        choice,
        bits,
        comm,
        omega,
    }
}

/// The exactly optimal assignment within `budget`.
pub fn solve(inst: &Instance, budget: u64) -> Result<Solution, PlanError> {
    let fr = frontiers(inst)?;
    let last = &fr[inst.layers.len()];
    // the frontier is sorted by comm ascending with Ω descending: the best feasible point is
    // the last one with comm ≤ budget.
    let k = last.partition_point(|n| n.comm <= budget);
    if k == 0 {
        return Err(PlanError::Infeasible {
            budget,
            min_budget: last.first().map(|n| n.comm).unwrap_or(0),
        });
    }
    Ok(backtrack(inst, &fr, k - 1))
}

/// The whole Pareto front reduced to at most `n` points spread evenly over it (always
/// including both ends), sorted by communication.
pub fn pareto_front(inst: &Instance, n: usize) -> Result<Vec<ParetoPoint>, PlanError> {
    let fr = frontiers(inst)?;
    let last = &fr[inst.layers.len()];
    let m = last.len();
    let mut picks: Vec<usize> = if n == 0 {
        vec![]
    } else if n >= m {
        (0..m).collect()
    } else if n == 1 {
        vec![m - 1]
    } else {
        (0..n).map(|i| i * (m - 1) / (n - 1)).collect()
    };
    picks.dedup();
    Ok(picks.into_iter().map(|i| backtrack(inst, &fr, i)).collect())
}

/// Exhaustive search (for tests on small instances).
pub fn brute_force(inst: &Instance, budget: u64) -> Option<Solution> {
    let n = inst.layers.len();
    let mut idx = vec![0usize; n];
    let mut best: Option<Solution> = None;
    loop {
        let mut comm = 0u64;
        let mut omega = 0.0;
        for (i, &c) in idx.iter().enumerate() {
            comm = comm.saturating_add(inst.layers[i][c].comm);
            omega += inst.layers[i][c].omega;
        }
        if comm <= budget
            && best
                .as_ref()
                .is_none_or(|b| omega < b.omega || (omega == b.omega && comm < b.comm))
        {
            let bits = idx
                .iter()
                .enumerate()
                .map(|(i, &c)| inst.layers[i][c].bits)
                .collect();
            best = Some(Solution {
                choice: idx.clone(),
                bits,
                comm,
                omega,
            });
        }
        let mut k = 0;
        loop {
            if k == n {
                return best;
            }
            idx[k] += 1;
            if idx[k] < inst.layers[k].len() {
                break;
            }
            idx[k] = 0;
            k += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn inst_from(seed: &[(u64, u32)], layers: usize, widths: usize) -> Instance {
        let mut it = seed.iter().cycle();
        Instance {
            layers: (0..layers)
                .map(|_| {
                    (0..widths)
                        .map(|w| {
                            let (c, o) = *it.next().unwrap_or(&(1, 1));
                            Option_ {
                                bits: [2, 3, 4, 5, 6, 8][w % 6],
                                comm: c,
                                omega: o as f64 / 7.0,
                            }
                        })
                        .collect()
                })
                .collect(),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// The DP equals brute force on random 6-layer × 6-width instances, at random budgets.
        #[test]
        fn dp_equals_brute_force(seed in proptest::collection::vec((0u64..1_000_000, 0u32..1000), 36), frac in 0.0f64..1.2) {
            let inst = inst_from(&seed, 6, 6);
            let max: u64 = inst.layers.iter().map(|l| l.iter().map(|o| o.comm).max().unwrap_or(0)).sum();
            let budget = (max as f64 * frac) as u64;
            let bf = brute_force(&inst, budget);
            match solve(&inst, budget) {
                Ok(s) => {
                    let b = bf.expect("brute force found nothing but DP did");
                    prop_assert_eq!(s.omega, b.omega);
                    prop_assert!(s.comm <= budget);
                    let recomputed: f64 = s.choice.iter().enumerate().map(|(i, &c)| inst.layers[i][c].omega).sum();
                    prop_assert_eq!(recomputed, s.omega);
                }
                Err(PlanError::Infeasible { min_budget, .. }) => {
                    prop_assert!(bf.is_none());
                    let minc: u64 = inst.layers.iter().map(|l| l.iter().map(|o| o.comm).min().unwrap_or(0)).sum();
                    prop_assert_eq!(min_budget, minc);
                }
                Err(e) => prop_assert!(false, "{}", e),
            }
        }
    }

    #[test]
    fn infeasible_names_smallest_budget() {
        let inst = inst_from(&[(10, 1), (20, 0)], 3, 2);
        match solve(&inst, 5) {
            Err(PlanError::Infeasible { min_budget, .. }) => assert_eq!(min_budget, 30),
            other => panic!("{other:?}"),
        }
        let e = solve(&inst, 5).unwrap_err().to_string();
        assert!(e.contains("smallest feasible budget is 30"), "{e}");
    }

    #[test]
    fn pareto_front_is_monotone() {
        let seed: Vec<(u64, u32)> = (0..60u64)
            .map(|i| ((i * 7919) % 1000 + 1, ((i * 104729) % 997) as u32))
            .collect();
        let inst = inst_from(&seed, 10, 6);
        let front = pareto_front(&inst, 20).unwrap();
        assert!(front.len() <= 20 && front.len() >= 2);
        for w in front.windows(2) {
            assert!(w[0].comm < w[1].comm && w[0].omega > w[1].omega);
        }
    }

    #[test]
    fn resnet50_scale_is_fast() {
        // 53 layers × 6 widths with byte-scale costs: must plan well under the 2 s target.
        let seed: Vec<(u64, u32)> = (0..318u64)
            .map(|i| {
                (
                    ((i * 2654435761) % 1_000_000_007) * 37,
                    ((i * 40503) % 65521) as u32,
                )
            })
            .collect();
        let inst = inst_from(&seed, 53, 6);
        let t = std::time::Instant::now();
        let front = pareto_front(&inst, 20).unwrap();
        assert!(!front.is_empty());
        assert!(t.elapsed().as_secs_f64() < 10.0);
    }
}
