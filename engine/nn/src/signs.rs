//! Sign propagation (range analysis) over a lowered [`Program`].
//!
//! Every tensor gets an interval [lo, hi] that provably contains its signed value, read in its
//! own width. Steps are transferred exactly where the value cannot wrap; any step that may wrap
//! (a reduce or keep-low-bits whose input does not fit, a sum in too narrow a width, a matmul
//! whose sum may leave its ring) yields the full range of its width, which clears the
//! knowledge. A tensor is *non-negative* when `lo ≥ 0` (its interval then lies in
//! [0, 2^(l−1) − 1], so its MSB is 0): the condition for the known-MSB protocol variants.
//!
//! The lowering runs [`transfer`] as it emits each step; [`analyze`] recomputes everything from
//! scratch (a check of the program's metadata).

pub use crate::interval::{Interval, bits_for};
use crate::program::{LinearInfo, Program, StepOp};

/// Range of the exact accumulator Σ w·x + bias of a linear layer whose weights are any
/// `lw`-bit signed values, whose inputs lie in `x` (padding contributes zeros, which the range
/// contains) and whose bias, if any, is any [`LinearInfo::bias_bits`]-bit signed value.
pub fn linear_acc(lin: &LinearInfo, x: Interval) -> Interval {
    let acc = linear_acc_no_bias(lin, x);
    match lin.bias_bits {
        Some(b) => acc.plus(Interval::full(b)),
        None => acc,
    }
}

/// Range of Σ w·x alone (see [`linear_acc`]).
pub fn linear_acc_no_bias(lin: &LinearInfo, x: Interval) -> Interval {
    let w = Interval::full(lin.wbits);
    let prods = [
        w.lo.saturating_mul(x.lo),
        w.lo.saturating_mul(x.hi),
        w.hi.saturating_mul(x.lo),
        w.hi.saturating_mul(x.hi),
    ];
    let pmin = prods.iter().copied().min().unwrap_or(0).min(0);
    let pmax = prods.iter().copied().max().unwrap_or(0).max(0);
    Interval::new(pmin, pmax).scale(lin.d2 as i128)
}

/// Interval of a max pool's output: exact when no comparison difference can wrap in `bits`
/// (then the result is the true maximum), otherwise the full range.
fn maxpool(x: Interval, bits: u32) -> Interval {
    if x.fits(bits) && x.hi - x.lo < (1i128 << (bits - 1)) {
        x
    } else {
        Interval::full(bits)
    }
}

/// Output interval of one step from its input intervals.
pub fn transfer(op: &StepOp, ins: &[Interval], linear: &[LinearInfo]) -> Interval {
    let x = ins.first().copied().unwrap_or(Interval::new(0, 0));
    match *op {
        StepOp::LinearSci { lin, bw_c, .. } => {
            let l = &linear[lin];
            let acc = linear_acc(l, x);
            if acc.fits(bw_c + l.e) {
                acc.floor_shr(l.e).or_full(bw_c)
            } else {
                Interval::full(bw_c)
            }
        }
        StepOp::LinearExact { lin, acc_bits } => linear_acc(&linear[lin], x).or_full(acc_bits),
        StepOp::DivPow2 { bw, s } => x.or_full(bw).trunc_div(s),
        StepOp::Trunc { bw, s } => x.or_full(bw).floor_shr(s),
        StepOp::Tr { bw, s } => x.or_full(bw).floor_shr(s).or_full(bw - s),
        StepOp::Requant { l1, s1, l2, s2 } => {
            let x = x.or_full(l1);
            let v = if s1 > s2 {
                x.floor_shr((s1 - s2) as u32)
            } else {
                x.scale(1i128 << (s2 - s1) as u32)
            };
            // Only the sign crosses a re-quantization: the output is "non-negative in l2 bits"
            // or "any l2-bit value". Sound (a superset of the exact interval), and it keeps the
            // cost of every layer a function of its own widths, which makes per-layer costs
            // additive for the bit-width planner (and stops a pinned shift that proves a layer
            // dead from changing the protocols of the layers after it).
            let v = v.or_full(l2);
            if v.lo >= 0 {
                Interval::new(0, (1i128 << (l2 - 1)) - 1)
            } else {
                Interval::full(l2)
            }
        }
        StepOp::Reduce { to, .. } => x.or_full(to),
        StepOp::SExt { from, .. } => x.or_full(from),
        StepOp::ZExt { from, to } => {
            let x = x.or_full(from);
            if x.lo >= 0 {
                x
            } else {
                Interval::new(0, (1i128 << from) - 1).or_full(to)
            }
        }
        StepOp::Relu { bits } => {
            let x = x.or_full(bits);
            Interval::new(x.lo.max(0), x.hi.max(0))
        }
        StepOp::MaxPoolSeqRelu { bits, .. } | StepOp::MaxPoolTree { bits, .. } => maxpool(x, bits),
        StepOp::AvgSum { bits, k, .. } => x.scale((k * k) as i128).or_full(bits),
        StepOp::ShortcutA { .. } => x.hull(Interval::new(0, 0)),
        StepOp::ShiftLeft { from, s } => x.or_full(from).scale(1i128 << s),
        StepOp::Add { bits } => {
            let y = ins.get(1).copied().unwrap_or(Interval::new(0, 0));
            x.plus(y).or_full(bits)
        }
        StepOp::Reveal { bits } => x.or_full(bits),
        StepOp::RevealLabel { .. } => Interval::new(0, i32::MAX as i128),
    }
}

/// Recompute every tensor's interval from the input's ([0, 2^(l_in−1) − 1]).
pub fn analyze(p: &Program) -> Vec<Interval> {
    let mut iv: Vec<Interval> = p.tensors.iter().map(|t| Interval::full(t.bits)).collect();
    let (lo, hi) = p.model.encoding.domain();
    iv[p.input] = Interval::new(lo as i128, hi as i128);
    for st in &p.steps {
        let ins: Vec<Interval> = st.inputs.iter().map(|&t| iv[t]).collect();
        iv[st.out] = transfer(&st.op, &ins, &p.linear);
    }
    iv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        assert_eq!(bits_for(Interval::new(0, 0)), 1);
        assert_eq!(bits_for(Interval::new(-1, 0)), 1);
        assert_eq!(bits_for(Interval::new(0, 1)), 2);
        assert_eq!(bits_for(Interval::new(-128, 127)), 8);
        assert_eq!(bits_for(Interval::new(-129, 0)), 9);
        assert!(Interval::new(0, 7).nonneg(4));
        assert!(!Interval::new(0, 8).nonneg(4));
        assert_eq!(Interval::new(-7, 7).trunc_div(1), Interval::new(-3, 3));
        assert_eq!(Interval::new(-7, 7).floor_shr(1), Interval::new(-4, 3));
        assert_eq!(
            transfer(
                &StepOp::Reduce { from: 8, to: 4 },
                &[Interval::new(0, 8)],
                &[]
            ),
            Interval::full(4)
        );
        assert_eq!(
            transfer(&StepOp::Relu { bits: 4 }, &[Interval::full(4)], &[]),
            Interval::new(0, 7)
        );
        assert_eq!(Interval::full(64).hi, i64::MAX as i128);
    }
}

#[cfg(test)]
mod soundness {
    use super::*;
    use crate::config::{Config, Weights};
    use crate::lower::lower;
    use crate::model::{Builder, Op, Shape};
    use crate::reference::exec_step;
    use proptest::prelude::*;

    /// A step of each local/nonlinear kind with widths derived from `l` (2..=64), `s`, `l2`.
    fn ops(l: u32, s: u32, l2: u32, s1: i32, s2: i32) -> Vec<StepOp> {
        let s = s % l;
        let up = (l + 1 + s).min(64);
        vec![
            StepOp::DivPow2 { bw: l, s },
            StepOp::Trunc { bw: l, s },
            StepOp::Tr {
                bw: l,
                s: s.max(1).min(l - 1),
            },
            StepOp::Requant { l1: l, s1, l2, s2 },
            StepOp::Reduce {
                from: l,
                to: l2.min(l),
            },
            StepOp::SExt {
                from: l,
                to: up.max(l),
                msb_known: false,
            },
            StepOp::ZExt {
                from: l,
                to: up.max(l),
            },
            StepOp::Relu { bits: l },
            StepOp::MaxPoolSeqRelu {
                bits: l,
                k: 2,
                stride: 2,
                pad: 0,
            },
            StepOp::MaxPoolTree {
                bits: l,
                k: 3,
                stride: 1,
                pad: 1,
            },
            StepOp::AvgSum {
                bits: l,
                k: 2,
                stride: 1,
            },
            StepOp::ShortcutA {
                bits: l,
                cout: 3,
                stride: 2,
            },
            StepOp::ShiftLeft {
                from: l,
                s: s.min(64 - l),
            },
            StepOp::Add { bits: l },
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// For random in-range intervals and values inside them, every step's output lies in
        /// the interval `transfer` claims (and in its width).
        #[test]
        fn transfer_contains_exec(
            l in 2u32..=64, s in 0u32..64, l2 in 1u32..=64,
            s1 in -8i32..24, s2 in -8i32..24,
            a in any::<i64>(), b in any::<i64>(), seed in any::<u64>(),
        ) {
            let full = Interval::full(l);
            let (a, b) = (a as i128 % (full.hi + 1), b as i128 % (full.hi + 1));
            let iv = Interval::new(a.min(b), a.max(b));
            let mut m = Builder::new("t", Shape::new(1, 4, 4));
            m.push("fc", Op::Fc { dout: 1 }, &[0]);
            let mut model = m.finish();
            model.layers[0].quant.wbits = 2;
            let p = lower(&model, Config::PrivQuant).unwrap();
            let w = Weights { layers: vec![vec![0; 16]], bias: vec![] };
            let span = (iv.hi - iv.lo) as u128 + 1;
            let mut st = seed;
            let mut draw = || {
                st = st.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let r = (st >> 11) as u128 % span;
                (iv.lo + r as i128) as i64
            };
            let mut x: Vec<i64> = (0..16).map(|_| draw()).collect();
            x[0] = iv.lo as i64;
            x[15] = iv.hi as i64;
            let y: Vec<i64> = (0..16).map(|_| draw()).collect();
            for op in ops(l, s, l2, s1, s2) {
                if let StepOp::Requant { l1, s1, s2, .. } = op
                    && s1 > s2
                    && (s1 - s2) as u32 >= l1
                {
                    continue;
                }
                let ins: Vec<&[i64]> = vec![&x, &y];
                let out = exec_step(&p, &w, &op, &ins, Shape::new(1, 4, 4));
                let claim = transfer(&op, &[iv, iv], &[]);
                let bits = match op {
                    StepOp::Tr { bw, s } => bw - s,
                    StepOp::Requant { l2, .. } => l2,
                    StepOp::Reduce { to, .. } | StepOp::SExt { to, .. } | StepOp::ZExt { to, .. } => to,
                    StepOp::ShiftLeft { from, s } => from + s,
                    _ => l,
                };
                for &v in &out {
                    let v = v as i128;
                    prop_assert!(v >= claim.lo && v <= claim.hi, "{op:?} {iv:?}: {v} not in {claim:?}");
                    prop_assert!(Interval::new(v, v).fits(bits), "{op:?}: {v} not {bits}-bit");
                }
            }
        }
    }
}
