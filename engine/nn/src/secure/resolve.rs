//! The one decision per step: [`resolve`] maps a lowered [`Step`] to the protocol call it
//! runs ([`Call`]). The cost walk ([`super::step_cost`]) and the executor both start from it,
//! so what is charged is what runs.
//!
//! The known-MSB variants are chosen here: a step whose input the range analysis proved
//! non-negative (with sign propagation on) runs Π_Trunc / Π_Ext / Π_Requant with the MSB
//! known to be 0, and a `DivPow2` on such an input is Π_Trunc with the known MSB (rounding
//! towards zero is then the floor).

use super::SecureError;
use crate::lower::{MatMode, Program, Step, StepOp};
use pq_kernels::ring;
use pq_proto::privquant::linear::{
    self, ConvShape, InputKind, LinOption, LinearParams, Menu, Objective,
};
use pq_proto::privquant::{argmax, maxpool_tree, requant};
use pq_proto::sirnn::matmul::{self, MatmulParams, MultMode};
use pq_proto::sirnn::{divpow2, extension, maxpool, relu, tr, trunc};
use pq_proto::tensor;
use pq_proto::{Cost, Profile, Role};

pub(super) fn perr<T>(st: &Step, msg: impl Into<String>) -> Result<T, SecureError> {
    Err(SecureError::Program {
        layer: st.layer.clone(),
        msg: msg.into(),
    })
}

/// The protocol call of one step, with every parameter it runs with.
#[derive(Clone, Debug)]
pub(crate) enum Call {
    /// SCI's mixed-width matmul (Π_MatMul) on linear layer `lin`: a conv is the filter
    /// (`AliceHasA`) times the local im2col of the activation shares, an FC the activations
    /// times the weights (`AliceHasB`).
    Matmul { mp: MatmulParams, lin: usize },
    /// Π_Linear (privquant's exact accumulator) with `choice`, on X im2col'd locally first when
    /// `local_cols`; then Π_SExt from `choice.run_bits` to `acc_bits` when narrower.
    Linear {
        lp: LinearParams,
        lin: usize,
        acc_bits: u32,
        local_cols: bool,
        choice: ExactChoice,
    },
    /// Π_Trunc, with the MSB known to be 0 when `msb_known`.
    Trunc { bw: u32, s: u32, msb_known: bool },
    /// Π_DivPow2 (signed, rounding towards zero).
    DivPow2 { bw: u32, s: u32 },
    /// Π_TR.
    Tr { bw: u32, s: u32 },
    /// Π_Requant (Algorithm 1).
    Requant {
        l1: u32,
        s1: i32,
        l2: u32,
        s2: i32,
        msb_known: bool,
    },
    /// Π_Ext (signed extension; the known-MSB variant when `msb_known`).
    SExt { from: u32, to: u32, msb_known: bool },
    /// Π_ZExt.
    ZExt { from: u32, to: u32 },
    /// SiRNN's ReLU (Π_MSB and Π_MUX).
    Relu { bits: u32 },
    /// SCI's sequential max-pool over `wins` (Π_MaxPool).
    MaxPoolSeq { bits: u32, wins: Vec<Vec<usize>> },
    /// The comparison-tree max-pool over `wins` (Π_MaxPoolTree).
    MaxPoolTree { bits: u32, wins: Vec<Vec<usize>> },
    /// The server sends its `n` shares packed at `bits`.
    Reveal { bits: u32, n: usize },
    /// Π_Argmax over the `k` outputs, the index revealed to the client only.
    RevealLabel { ap: argmax::ArgmaxParams },
    /// A local operation on the shares (reduce, average-pool sum, option-A shortcut, shift,
    /// add): nothing is sent.
    Local,
}

impl Call {
    /// What the call sends, from the protocols' cost functions alone.
    pub(crate) fn cost(&self, n: u64, pr: Profile) -> Result<Cost, SecureError> {
        Ok(match *self {
            Call::Matmul { ref mp, .. } => matmul::cost(mp, pr),
            Call::Linear { choice, .. } => choice.cost,
            Call::Trunc { bw, s, msb_known } => trunc::cost(n, bw, s, msb_known, pr),
            Call::DivPow2 { bw, s } => divpow2::cost(n, bw, s, pr),
            Call::Tr { bw, s } => tr::cost(n, bw, s, pr),
            Call::Requant {
                l1,
                s1,
                l2,
                s2,
                msb_known,
            } => requant::cost(n, l1, s1, l2, s2, msb_known, pr)?,
            Call::SExt {
                from,
                to,
                msb_known,
            } => extension::ext_cost(n, from, to, msb_known, pr),
            Call::ZExt { from, to } => extension::cost(n, from, to, false, pr),
            Call::Relu { bits } => relu::cost(n, bits, pr),
            Call::MaxPoolSeq { bits, ref wins } => maxpool::cost(&sizes(wins), bits, pr),
            Call::MaxPoolTree { bits, ref wins } => maxpool_tree::cost(&sizes(wins), bits, pr),
            Call::Reveal { bits, n } => {
                if n == 0 {
                    Cost::ZERO
                } else {
                    Cost::one_way(Role::Server, ring::packed_len(n, bits) as u64, 1)
                }
            }
            Call::RevealLabel { ref ap } => argmax::cost(ap, Role::Client, pr)?,
            Call::Local => Cost::ZERO,
        })
    }
}

fn sizes(wins: &[Vec<usize>]) -> Vec<usize> {
    wins.iter().map(Vec::len).collect()
}

/// The protocol call of step `st` of `p`: the one place that decides it.
pub(crate) fn resolve(p: &Program, st: &Step) -> Result<Call, SecureError> {
    let pr = p.feat.profile();
    let Some(&t) = st.inputs.first() else {
        return perr(st, "a step without input");
    };
    let in_shape = p.tensors[t].shape;
    let known = known_nonneg(p, t);
    Ok(match st.op {
        StepOp::LinearSci { lin, .. } => Call::Matmul {
            mp: matmul_params(p, st)?,
            lin,
        },
        StepOp::LinearExact { lin, acc_bits } => {
            let (lp, local_cols) = exact_params(p, st, lin)?;
            let choice = exact_choice(&lp, acc_bits, p.objective, pr, p.feat.linear_menu())?;
            Call::Linear {
                lp,
                lin,
                acc_bits,
                local_cols,
                choice,
            }
        }
        StepOp::DivPow2 { bw, s } if known => Call::Trunc {
            bw,
            s,
            msb_known: true,
        },
        StepOp::DivPow2 { bw, s } => Call::DivPow2 { bw, s },
        StepOp::Trunc { bw, s } => Call::Trunc {
            bw,
            s,
            msb_known: known,
        },
        StepOp::Tr { bw, s } => Call::Tr { bw, s },
        StepOp::Requant { l1, s1, l2, s2 } => Call::Requant {
            l1,
            s1,
            l2,
            s2,
            msb_known: known,
        },
        StepOp::SExt {
            from,
            to,
            msb_known,
        } => Call::SExt {
            from,
            to,
            msb_known,
        },
        StepOp::ZExt { from, to } => Call::ZExt { from, to },
        StepOp::Relu { bits } => Call::Relu { bits },
        StepOp::MaxPoolSeqRelu {
            bits,
            k,
            stride,
            pad,
        } => Call::MaxPoolSeq {
            bits,
            wins: tensor::pool_windows(in_shape, k, stride, pad).0,
        },
        StepOp::MaxPoolTree {
            bits,
            k,
            stride,
            pad,
        } => Call::MaxPoolTree {
            bits,
            wins: tensor::pool_windows(in_shape, k, stride, pad).0,
        },
        StepOp::Reveal { bits } => Call::Reveal {
            bits,
            n: in_shape.numel(),
        },
        StepOp::RevealLabel { bits } => Call::RevealLabel {
            ap: argmax::ArgmaxParams {
                batch: 1,
                k: in_shape.numel(),
                l: bits,
            },
        },
        StepOp::Reduce { .. }
        | StepOp::AvgSum { .. }
        | StepOp::ShortcutA { .. }
        | StepOp::ShiftLeft { .. }
        | StepOp::Add { .. } => Call::Local,
    })
}

/// SCI's matmul parameters of a `LinearSci` step.
fn matmul_params(p: &Program, st: &Step) -> Result<MatmulParams, SecureError> {
    let StepOp::LinearSci {
        lin,
        mode,
        bw_a,
        bw_b,
        bw_c,
    } = st.op
    else {
        return perr(st, "not a linear step");
    };
    let Some(l) = p.linear.get(lin) else {
        return perr(st, format!("linear layer {lin} does not exist"));
    };
    let mode = match mode {
        MatMode::AliceHasA => MultMode::AliceHasA,
        MatMode::AliceHasB => MultMode::AliceHasB,
    };
    Ok(MatmulParams {
        d1: l.d1,
        d2: l.d2,
        d3: l.d3,
        bwa: bw_a,
        bwb: bw_b,
        bwc: bw_c,
        mode,
    })
}

/// Π_Linear's parameters of the `LinearExact` step `st` on linear layer `lin`, and whether X
/// must be im2col'd locally first (a conv Π_Linear's conv layout does not cover).
fn exact_params(p: &Program, st: &Step, lin: usize) -> Result<(LinearParams, bool), SecureError> {
    let Some(l) = p.linear.get(lin) else {
        return perr(st, format!("linear layer {lin} does not exist"));
    };
    let t = st.inputs[0];
    let meta = &p.tensors[t];
    if meta.shape != l.in_shape {
        return perr(st, "input shape differs from the lowered layer");
    }
    let nonneg = known_nonneg(p, t);
    let input = if t == p.input && p.input_clear {
        InputKind::Clear { nonneg }
    } else if nonneg {
        InputKind::NonNeg
    } else {
        InputKind::Signed
    };
    let (lw, lx) = (l.wbits, meta.bits);
    if l.is_fc {
        if l.d1 != 1 {
            return perr(st, "FC with more than one row");
        }
        return Ok((LinearParams::matmul(l.d3, l.d2, 1, lw, lx, input), false));
    }
    let s = l.in_shape;
    if s.h == s.w && l.pad == l.k / 2 {
        let lp = LinearParams::conv(ConvShape::new(s.h, s.c, l.d1, l.k, l.stride), lw, lx, input);
        if lp.d2 == l.d2 && lp.d3 == l.d3 {
            return Ok((lp, false));
        }
    }
    Ok((LinearParams::matmul(l.d1, l.d2, l.d3, lw, lx, input), true))
}

/// How a `LinearExact` step runs: Π_Linear's `opt` at width `run_bits`, then (when
/// `run_bits` < the step's `acc_bits`) Π_SExt to `acc_bits`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ExactChoice {
    pub(crate) opt: LinOption,
    pub(crate) run_bits: u32,
    pub(crate) cost: Cost,
}

/// The better (under `obj`, by [`linear::score`]) of: Π_Linear at the step's `acc_bits`
/// directly, or at Π_Linear's tightest width followed by a signed extension (exact: every
/// Σ w·x provably fits the tightest width), each with the option [`linear::choose_at`] picks
/// from `menu` (the program's [`crate::config::Features::linear_menu`]). Ties go to the
/// direct run.
fn exact_choice(
    lp: &LinearParams,
    acc_bits: u32,
    obj: Objective,
    pr: Profile,
    menu: Menu,
) -> Result<ExactChoice, SecureError> {
    let (opt, cost) = linear::choose_at(lp, obj, acc_bits, pr, menu)?;
    let mut best = ExactChoice {
        opt,
        run_bits: acc_bits,
        cost,
    };
    let direct = linear::score(lp, opt, acc_bits, &cost, obj);
    let tight = lp.acc_bits()?;
    if tight < acc_bits {
        let (o, c) = linear::choose_at(lp, obj, tight, pr, menu)?;
        let n = (lp.d1 * lp.d3) as u64;
        let c = c.then(extension::cost(n, tight, acc_bits, false, pr));
        if linear::score(lp, o, tight, &c, obj) < direct {
            best = ExactChoice {
                opt: o,
                run_bits: tight,
                cost: c,
            };
        }
    }
    Ok(best)
}

/// The choice of a `LinearExact` step: Π_Linear's option, the width it runs at (below the
/// step's `acc_bits` when a signed extension follows), and the step's cost.
pub fn linear_exact_choice(p: &Program, st: &Step) -> Result<(LinOption, u32, Cost), SecureError> {
    match resolve(p, st)? {
        Call::Linear { choice, .. } => Ok((choice.opt, choice.run_bits, choice.cost)),
        _ => perr(st, "not an exact linear step"),
    }
}

/// The Π_Linear parameters a `LinearExact` step runs with (its layout, widths and what is
/// known of X), as [`linear_exact_choice`] chose its option for them.
pub fn linear_exact_params(p: &Program, st: &Step) -> Result<LinearParams, SecureError> {
    match resolve(p, st)? {
        Call::Linear { lp, .. } => Ok(lp),
        _ => perr(st, "not an exact linear step"),
    }
}

/// Whether the program may use the known-MSB variant on tensor `t` (sign propagation on and
/// the tensor proven non-negative).
fn known_nonneg(p: &Program, t: usize) -> bool {
    p.feat.sign_prop && p.tensors[t].nonneg
}
