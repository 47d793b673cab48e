//! The plaintext integer reference: runs a lowered [`Program`] step by step with exactly the
//! semantics of `docs/network-semantics.md` §Definitions and keeps every intermediate tensor,
//! so a secure run can be compared tensor by tensor.
//!
//! Every value is stored as the signed integer its width reads it as.

use super::config::{Config, Weights};
use super::interval::Interval;
use super::lower::{self, LowerError, LowerOptions, Program, StepOp};
use super::model::{Model, Shape};
use pq_kernels::ring;
use pq_proto::tensor;
use std::collections::BTreeMap;

// Each protocol's plaintext reference lives beside the protocol; these are the names the
// executor and its tests use.
pub use pq_proto::privquant::maxpool_tree::reference as max_tree;
pub use pq_proto::privquant::requant::reference as requant;
pub use pq_proto::sirnn::divpow2::reference as div_pow2;
pub use pq_proto::sirnn::maxpool::reference as max_seq_relu;
pub use pq_proto::sirnn::tr::reference as tr;
pub use pq_proto::sirnn::trunc::reference as trunc;
pub use pq_proto::util::reduce_signed as wrap;

/// A reference run: every tensor of the program (signed values in their widths) and the
/// revealed output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefRun {
    /// Every tensor's values, indexed by tensor id.
    pub values: Vec<Vec<i64>>,
    /// The output tensor's values (a copy of `values[output]`).
    pub logits: Vec<i64>,
}

/// Why a run cannot start.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RefError {
    /// The input has the wrong number of elements.
    #[error("input has {got} elements, the model takes {want}")]
    InputSize {
        /// Elements given.
        got: usize,
        /// Elements of the input tensor.
        want: usize,
    },
    /// An input value lies outside the domain the program was lowered for (the client's image
    /// holds values in [lo, hi]; the protocols' known-sign variants rely on it).
    #[error(
        "input element {index} is {value}, outside the model's input domain [{lo}, {hi}] ({bits}-bit input)"
    )]
    InputRange {
        /// Index of the first offending element.
        index: usize,
        /// Its value.
        value: i64,
        /// Smallest accepted value.
        lo: i128,
        /// Largest accepted value.
        hi: i128,
        /// The input's bit-width.
        bits: u32,
    },
    /// A conv or FC layer has the wrong number of weights.
    #[error("layer '{layer}': {got} weights, expected {want}")]
    WeightSize {
        /// The layer's name.
        layer: String,
        /// Weights given.
        got: usize,
        /// Weights the layer's shape needs.
        want: usize,
    },
    /// A conv or FC layer's weights or bias do not fit what the program declares.
    #[error("layer '{layer}': {msg}")]
    Weights {
        /// The layer's name.
        layer: String,
        /// What is wrong.
        msg: String,
    },
    /// The model cannot be lowered (calibration lowers it itself).
    #[error(transparent)]
    Lower(#[from] LowerError),
}

fn to_u64(x: &[i64]) -> Vec<u64> {
    x.iter().map(|&v| v as u64).collect()
}

/// Execute one step given its inputs.
/// `shape` is the shape of the first input (pools and the option-A shortcut need it).
pub fn exec_step(p: &Program, w: &Weights, op: &StepOp, ins: &[&[i64]], shape: Shape) -> Vec<i64> {
    let x = ins[0];
    match *op {
        StepOp::LinearSci { lin, bw_c, .. } => {
            let l = &p.linear[lin];
            let acc = linear_acc(p, w, lin, x);
            let ring_bits = bw_c + l.e;
            acc.into_iter()
                .map(|a| wrap(wrap(a as i64, ring_bits) >> l.e, bw_c))
                .collect()
        }
        StepOp::LinearExact { lin, acc_bits } => linear_acc(p, w, lin, x)
            .into_iter()
            .map(|a| wrap(a as i64, acc_bits))
            .collect(),
        StepOp::DivPow2 { bw, s } => x.iter().map(|&v| wrap(div_pow2(v, s), bw)).collect(),
        StepOp::Trunc { bw, s } => x.iter().map(|&v| wrap(trunc(v, s), bw)).collect(),
        StepOp::Tr { bw, s } => x.iter().map(|&v| tr(v, bw, s)).collect(),
        StepOp::Requant { l1, s1, l2, s2 } => {
            x.iter().map(|&v| requant(v, l1, s1, l2, s2)).collect()
        }
        StepOp::Reduce { to, .. } => x.iter().map(|&v| wrap(v, to)).collect(),
        StepOp::SExt { .. } => x.to_vec(),
        StepOp::ZExt { from, to } => x
            .iter()
            .map(|&v| ring::to_signed(ring::from_signed(v, from), to))
            .collect(),
        StepOp::Relu { .. } => x.iter().map(|&v| v.max(0)).collect(),
        StepOp::MaxPoolSeqRelu {
            bits,
            k,
            stride,
            pad,
        }
        | StepOp::MaxPoolTree {
            bits,
            k,
            stride,
            pad,
        } => {
            let seq = matches!(op, StepOp::MaxPoolSeqRelu { .. });
            let (wins, _) = tensor::pool_windows(shape, k, stride, pad);
            let mut buf = Vec::with_capacity(k * k);
            wins.iter()
                .map(|win| {
                    buf.clear();
                    buf.extend(win.iter().map(|&i| x[i]));
                    if seq {
                        max_seq_relu(&buf, bits)
                    } else {
                        max_tree(&buf, bits)
                    }
                })
                .collect()
        }
        StepOp::AvgSum { bits, k, stride } => tensor::avgpool_sum(&to_u64(x), shape, k, stride)
            .into_iter()
            .map(|v| wrap(v as i64, bits))
            .collect(),
        StepOp::ShortcutA { bits, cout, stride } => {
            tensor::shortcut_a(&to_u64(x), shape, cout, stride)
                .into_iter()
                .map(|v| wrap(v as i64, bits))
                .collect()
        }
        StepOp::ShiftLeft { from, s } => x
            .iter()
            .map(|&v| wrap(v.wrapping_shl(s), from + s))
            .collect(),
        StepOp::Add { bits } => x
            .iter()
            .zip(ins[1])
            .map(|(&a, &b)| wrap(a.wrapping_add(b), bits))
            .collect(),
        StepOp::Reveal { .. } => x.to_vec(),
        StepOp::RevealLabel { .. } => {
            let label = pq_proto::privquant::argmax::reference(x, x.len().max(1));
            vec![label.first().map_or(0, |&i| i as i64)]
        }
    }
}

/// Σ w·x of linear layer `lin` modulo 2^64 (exact whenever the sum fits in 64 bits).
fn linear_acc(p: &Program, w: &Weights, lin: usize, x: &[i64]) -> Vec<u64> {
    let l = &p.linear[lin];
    let wv = &w.layers[l.layer];
    let xu = to_u64(x);
    let mut acc = if l.is_fc {
        tensor::matmul_u64_i64(&xu, wv, 1, l.d2, l.d3)
    } else {
        tensor::conv2d(wv, &xu, l.in_shape, l.d1, l.k, l.stride, l.pad)
    };
    add_bias(&mut acc, w.bias_of(l.layer), l.is_fc);
    acc
}

/// Add a per-output bias to an accumulator laid out as the linear layers produce it:
/// `[cout][pixel]` for a conv, `[dout]` for an FC (mod 2^64; `bias` empty: nothing).
pub fn add_bias(acc: &mut [u64], bias: &[i64], is_fc: bool) {
    if bias.is_empty() {
        return;
    }
    let per = if is_fc { 1 } else { acc.len() / bias.len() };
    for (row, &b) in acc.chunks_mut(per.max(1)).zip(bias) {
        for a in row {
            *a = a.wrapping_add(b as u64);
        }
    }
}

/// Check the client's input against the program: its size, and every value inside the input
/// tensor's declared range (the lowering's assumption about the image; values outside it would
/// make the known-sign protocol variants compute something else than the reference).
pub fn check_input(p: &Program, input: &[i64]) -> Result<(), RefError> {
    let meta = &p.tensors[p.input];
    let want = meta.shape.numel();
    if input.len() != want {
        return Err(RefError::InputSize {
            got: input.len(),
            want,
        });
    }
    let (lo, hi) = (meta.range.lo, meta.range.hi);
    if let Some((index, &value)) = input
        .iter()
        .enumerate()
        .find(|&(_, &v)| (v as i128) < lo || (v as i128) > hi)
    {
        return Err(RefError::InputRange {
            index,
            value,
            lo,
            hi,
            bits: meta.bits,
        });
    }
    Ok(())
}

/// Check the weights and input against the program's shapes.
pub fn check_inputs(p: &Program, w: &Weights, input: &[i64]) -> Result<(), RefError> {
    check_input(p, input)?;
    for l in &p.linear {
        let want = l.d2 * if l.is_fc { l.d3 } else { l.d1 };
        let got = w.layers.get(l.layer).map_or(0, |v| v.len());
        if got != want {
            return Err(RefError::WeightSize {
                layer: l.name.clone(),
                got,
                want,
            });
        }
        let werr = |msg: String| RefError::Weights {
            layer: l.name.clone(),
            msg,
        };
        let wr = Interval::full(l.wbits);
        if let Some((i, &v)) = w.layers[l.layer]
            .iter()
            .enumerate()
            .find(|&(_, &v)| !wr.contains(v as i128))
        {
            return Err(werr(format!(
                "weight #{i} = {v} is outside the declared {}-bit range [{}, {}]",
                l.wbits, wr.lo, wr.hi
            )));
        }
        let bias = w.bias_of(l.layer);
        match l.bias_bits {
            None if !bias.is_empty() => {
                return Err(werr(format!(
                    "{} bias values, but the model declares no bias",
                    bias.len()
                )));
            }
            None => {}
            Some(bb) => {
                let outs = l.out_shape.c;
                if bias.len() != outs {
                    return Err(werr(format!(
                        "{} bias values, expected {outs} (one per output channel)",
                        bias.len()
                    )));
                }
                let br = Interval::full(bb);
                if let Some((i, &v)) = bias
                    .iter()
                    .enumerate()
                    .find(|&(_, &v)| !br.contains(v as i128))
                {
                    return Err(werr(format!(
                        "bias #{i} = {v} does not fit the layer's bias width: {bb} bits, \
                         [{}, {}] (the width of the bias-free accumulator; acc + bias must fit \
                         one bit more)",
                        br.lo, br.hi
                    )));
                }
            }
        }
    }
    Ok(())
}

/// A step-by-step executor (also used by calibration).
pub struct Executor {
    /// Every tensor's values, indexed by tensor id; empty until a step writes it.
    pub values: Vec<Vec<i64>>,
    /// Index of the next step to run.
    pub next: usize,
}

impl Executor {
    /// An executor before step 0, holding `input` wrapped to the input tensor's width.
    pub fn new(p: &Program, input: &[i64]) -> Self {
        let mut values = vec![vec![]; p.tensors.len()];
        values[p.input] = input
            .iter()
            .map(|&v| wrap(v, p.tensors[p.input].bits))
            .collect();
        Executor { values, next: 0 }
    }
    /// Run steps `self.next..end` of `p`.
    pub fn run_to(&mut self, p: &Program, w: &Weights, end: usize) {
        if self.values.len() < p.tensors.len() {
            self.values.resize(p.tensors.len(), vec![]);
        }
        while self.next < end.min(p.steps.len()) {
            let st = &p.steps[self.next];
            let shape = p.tensors[st.inputs[0]].shape;
            let ins: Vec<&[i64]> = st
                .inputs
                .iter()
                .map(|&t| self.values[t].as_slice())
                .collect();
            let out = exec_step(p, w, &st.op, &ins, shape);
            self.values[st.out] = out;
            self.next += 1;
        }
    }
}

/// Run the whole program in plaintext.
pub fn run_reference(p: &Program, w: &Weights, input: &[i64]) -> Result<RefRun, RefError> {
    check_inputs(p, w, input)?;
    let mut ex = Executor::new(p, input);
    ex.run_to(p, w, p.steps.len());
    let logits = ex.values[p.output].clone();
    Ok(RefRun {
        values: ex.values,
        logits,
    })
}

/// Per-layer activation statistics of a run: for each ReLU step, (layer, fraction of non-zero
/// outputs, maximum output, maximum representable value).
pub fn relu_stats(p: &Program, r: &RefRun) -> Vec<(String, f64, i64, i64)> {
    p.steps
        .iter()
        .filter(|s| matches!(s.op, StepOp::Relu { .. }))
        .map(|s| {
            let v = &r.values[s.out];
            let nz = v.iter().filter(|&&x| x != 0).count();
            let bits = p.tensors[s.out].bits;
            (
                s.layer.clone(),
                nz as f64 / v.len().max(1) as f64,
                v.iter().copied().max().unwrap_or(0),
                ((1i128 << (bits - 1)) - 1) as i64,
            )
        })
        .collect()
}

/// Calibrated shifts (an option, not the pinned protocol): for every linear layer, the
/// smallest total shift s such that the largest |accumulator| seen on the calibration inputs,
/// divided by 2^s, fits in the layer's output width (seeded random weights have no trained
/// scales; a wrap stays bit-exact, but a network that wraps everywhere computes noise).
/// Chosen layer by layer on the reference run of `cfg` with the shifts
/// chosen so far; pass the result as [`LowerOptions::shift_override`]. For `sirnn-quant`
/// the shift is at least e (its matmul drops e bits), so with 2-bit weights its activations
/// still vanish; privquant's may go below e.
pub fn calibrate_shifts(
    model: &Model,
    cfg: Config,
    w: &Weights,
    inputs: &[Vec<i64>],
) -> Result<BTreeMap<String, u32>, RefError> {
    let mut opts = LowerOptions::default();
    if !cfg.is_quantized() {
        return Ok(opts.shift_override);
    }
    let mut p = lower::lower_with(model, cfg, &opts)?;
    for x in inputs {
        check_inputs(&p, w, x)?;
    }
    let mut exs: Vec<Executor> = inputs.iter().map(|x| Executor::new(&p, x)).collect();
    for li in 0..p.linear.len() {
        let name = p.linear[li].name.clone();
        // The accumulator step of this layer.
        let Some(acc_idx) = p.steps.iter().position(|s| {
            matches!(s.op, StepOp::LinearSci { lin, .. } | StepOp::LinearExact { lin, .. } if lin == li)
        }) else {
            continue;
        };
        for ex in exs.iter_mut() {
            ex.run_to(&p, w, acc_idx + 1);
        }
        let st = &p.steps[acc_idx];
        let maxabs = exs
            .iter()
            .flat_map(|ex| ex.values[st.out].iter())
            .map(|v| v.unsigned_abs())
            .max()
            .unwrap_or(0);
        let l = &p.linear[li];
        let lout = p.model.layers[l.layer].quant.abits;
        // LinearSci already dropped e bits.
        let dropped = if matches!(st.op, StepOp::LinearSci { .. }) {
            l.e
        } else {
            0
        };
        let limit = (1u64 << (lout - 1)) - 1;
        let mut s = 0u32;
        while s < 63 && (maxabs >> s) > limit {
            s += 1;
        }
        // sirnn-quant's matmul already drops e bits: its total shift cannot go below e.
        let total = if cfg == Config::SirnnQuant {
            (s + dropped).max(l.e)
        } else {
            s + dropped
        };
        opts.shift_override.insert(name, total);
        p = lower::lower_with(model, cfg, &opts)?;
    }
    Ok(opts.shift_override)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;
    use crate::model::{Builder, Op, Shape};

    #[test]
    fn wrap_and_shifts() {
        assert_eq!(wrap(8, 4), -8);
        assert_eq!(wrap(-9, 4), 7);
        assert_eq!(wrap(i64::MIN, 64), i64::MIN);
        assert_eq!(wrap(-1, 1), -1);
        assert_eq!(wrap(1, 1), -1);
        // div_pow2 rounds towards zero
        assert_eq!(div_pow2(-7, 1), -3);
        assert_eq!(div_pow2(7, 1), 3);
        assert_eq!(div_pow2(-1, 1), 0);
        assert_eq!(div_pow2(-5, 0), -5);
        assert_eq!(div_pow2(-128, 7), -1);
        assert_eq!(div_pow2(-127, 7), 0);
        assert_eq!(div_pow2(i64::MIN, 63), -1);
        // Trunc = floor
        assert_eq!(trunc(-7, 1), -4);
        assert_eq!(trunc(-1, 1), -1);
        assert_eq!(trunc(-128, 7), -1);
        assert_eq!(trunc(127, 7), 0);
        assert_eq!(trunc(-5, 0), -5);
        // TR: floor, in bw − s bits
        assert_eq!(tr(-7, 8, 1), -4);
        assert_eq!(tr(-128, 8, 7), -1);
        assert_eq!(tr(127, 8, 7), 0);
        assert_eq!(tr(-128, 8, 0), -128);
        assert_eq!(tr(i64::MIN, 64, 63), -1);
    }

    #[test]
    fn requant_branches() {
        // l1 >= l2, s1 <= s2: left shift, keep low bits
        assert_eq!(requant(5, 8, 0, 4, 1), -6);
        assert_eq!(requant(-3, 8, 2, 8, 2), -3);
        // l1 >= l2, s1 > s2, l1 - l2 >= d: TR then keep low bits
        assert_eq!(requant(-100, 16, 10, 8, 8), -25);
        assert_eq!(requant(1000, 16, 2, 4, 0), -6);
        assert_eq!(requant(-32768, 16, 15, 1, 0), -1);
        // l1 >= l2, l1 - l2 < d: Trunc then keep low bits
        assert_eq!(requant(-100, 8, 7, 6, 0), -1);
        assert_eq!(requant(127, 8, 7, 8, 0), 0);
        assert_eq!(requant(-128, 8, 7, 8, 0), -1);
        // l1 < l2, s1 > s2: TR then Ext
        assert_eq!(requant(-128, 8, 3, 16, 0), -16);
        assert_eq!(requant(-1, 8, 7, 16, 0), -1);
        // l1 < l2, s1 <= s2: shift into l1 + d bits, then Ext or reduce
        assert_eq!(requant(-8, 4, 0, 8, 2), -32);
        assert_eq!(requant(-8, 4, 0, 5, 2), 0);
        assert_eq!(requant(7, 4, 0, 5, 1), 14);
    }

    #[test]
    fn max_pools() {
        assert_eq!(max_seq_relu(&[3, 9, 1], 8), 9);
        assert_eq!(max_tree(&[3, 9, 1], 8), 9);
        assert_eq!(max_tree(&[1, 5, 3, 0, 2], 4), 5);
        assert_eq!(max_seq_relu(&[-3, -9, -1], 8), -1);
        assert_eq!(max_tree(&[-3, -9, -1], 8), -1);
        // Far-apart signed values wrap the difference in `bits` bits, as the protocols do.
        assert_eq!(max_seq_relu(&[-8, 7], 4), -8);
        assert_eq!(max_tree(&[-8, 7], 4), -8);
        assert_eq!(max_seq_relu(&[5], 4), 5);
    }

    fn tiny_fc() -> Model {
        let mut b = Builder::new("tiny", Shape::new(3, 1, 1));
        b.push("fc", Op::Fc { dout: 2 }, &[0]);
        let mut m = b.finish();
        m.layers[0].quant.wbits = 8;
        m
    }

    #[test]
    fn linear_semantics() {
        let m = tiny_fc();
        // w is [din][dout]: column 0 = (-1, 0, 0), column 1 = (-128, -128, -128)
        let w = Weights {
            layers: vec![vec![-1, -128, 0, -128, 0, -128]],
            bias: vec![],
        };
        let x = [1, 127, 127];
        let p = lower::lower(&m, Config::SirnnQuant).unwrap();
        assert!(matches!(
            p.steps[0].op,
            StepOp::LinearSci {
                bw_a: 8,
                bw_b: 8,
                bw_c: 16,
                ..
            }
        ));
        let r = run_reference(&p, &w, &x).unwrap();
        // e = 2: floor(-1 / 4) = -1; floor(-128·255 / 4) = -8160
        assert_eq!(r.logits, vec![-1, -8160]);
        let p = lower::lower(&m, Config::PrivQuant).unwrap();
        let r = run_reference(&p, &w, &x).unwrap();
        assert_eq!(r.logits, vec![-1, -128 * 255]);
        let p = lower::lower(&m, Config::Sirnn).unwrap();
        // 16-bit input widths; div_pow2(32, 12) after the matmul's TR by e
        let r = run_reference(&p, &w, &x).unwrap();
        assert_eq!(r.logits, vec![0, (-128 * 255 / 4) / 4096]);
        assert!(run_reference(&p, &w, &x[..2]).is_err());
        assert!(
            run_reference(
                &p,
                &Weights {
                    layers: vec![vec![]],
                    bias: vec![],
                },
                &x
            )
            .is_err()
        );
    }

    #[test]
    fn privquant_residual_semantics() {
        let mut b = Builder::new("res", Shape::new(2, 4, 4));
        let c1 = b.push(
            "c1",
            Op::Conv {
                cout: 2,
                k: 3,
                stride: 1,
                pad: 1,
            },
            &[0],
        );
        let r1 = b.push("r1", Op::Relu, &[c1]);
        let c2 = b.push(
            "c2",
            Op::Conv {
                cout: 2,
                k: 3,
                stride: 1,
                pad: 1,
            },
            &[r1],
        );
        let s = b.push("add", Op::Add, &[c2, r1]);
        let r2 = b.push("r2", Op::Relu, &[s]);
        b.push("fc", Op::Fc { dout: 3 }, &[r2]);
        let m = b.finish();
        let p = lower::lower(&m, Config::PrivQuant).unwrap();
        let w = config::Weights::random_with(&p.model, 9, config::WeightDist::Symmetric);
        let x = config::random_input(32, crate::InputEncoding::default(), 4);
        let run = run_reference(&p, &w, &x).unwrap();
        let lin_c2 = p.linear.iter().position(|l| l.name == "c2").unwrap();
        let sh = p.linear[lin_c2].shift;
        let r1_t = p.model_tensor[2];
        let r1v = &run.values[r1_t];
        let acc: Vec<i64> = tensor::conv2d(
            &w.layers[2],
            &r1v.iter().map(|&v| v as u64).collect::<Vec<_>>(),
            Shape::new(2, 4, 4),
            2,
            3,
            1,
            1,
        )
        .into_iter()
        .map(|v| v as i64)
        .collect();
        let add_out = p.model_tensor[4];
        let want: Vec<i64> = acc
            .iter()
            .zip(r1v)
            .map(|(&a, &r)| wrap((a + (r << sh)) >> (sh + 1), 8))
            .collect();
        assert_eq!(run.values[add_out], want);
    }
}
